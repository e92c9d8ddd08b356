package query

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query/sqlstmt"
	"github.com/edp-data/edp/internal/render"
)

func namespaceOf(n sqlstmt.Name) (string, error) {
	if len(n) != 1 {
		return "", fmt.Errorf("%w: namespace name %s must be a single identifier", lake.ErrInvalid, n)
	}
	return n[0].Name, nil
}

func pathOf(n sqlstmt.Name) []string {
	out := make([]string, len(n))
	for i, id := range n {
		out[i] = id.Name
	}
	return out
}

// ddl runs statements that change or describe the catalog.
func (e *Engine) ddl(ctx context.Context, st sqlstmt.Statement) (*Result, error) {
	l := e.lake
	switch s := st.(type) {
	case sqlstmt.CreateSchema:
		ns, err := namespaceOf(s.Name)
		if err != nil {
			return nil, err
		}
		return statusResult("CREATE SCHEMA"), l.CreateNamespace(ctx, ns, s.Properties, s.IfNotExists)
	case sqlstmt.DropSchema:
		ns, err := namespaceOf(s.Name)
		if err != nil {
			return nil, err
		}
		return statusResult("DROP SCHEMA"), l.DropNamespace(ctx, ns, s.IfExists, s.Cascade)
	case sqlstmt.DropTable:
		id, err := identOf(s.Name)
		if err != nil {
			return nil, err
		}
		return statusResult("DROP TABLE"), l.DropTable(ctx, id, s.Purge, s.IfExists)
	case sqlstmt.AlterTable:
		return e.alter(ctx, s)
	case sqlstmt.ShowSchemas:
		nss, err := l.ListNamespaces(ctx)
		if err != nil {
			return nil, err
		}
		data := make([][]any, len(nss))
		for i, ns := range nss {
			data[i] = []any{ns}
		}
		return rowsResult("SHOW SCHEMAS", []render.Column{{Name: "namespace", Type: "VARCHAR"}}, data), nil
	case sqlstmt.ShowTables:
		ns := ""
		if len(s.In) > 0 {
			var err error
			if ns, err = namespaceOf(s.In); err != nil {
				return nil, err
			}
		}
		ids, err := l.ListTables(ctx, ns)
		if err != nil {
			return nil, err
		}
		data := make([][]any, len(ids))
		for i, id := range ids {
			data[i] = []any{id.Namespace, id.Name}
		}
		return rowsResult("SHOW TABLES", []render.Column{{Name: "namespace", Type: "VARCHAR"}, {Name: "table", Type: "VARCHAR"}}, data), nil
	case sqlstmt.Describe:
		id, err := identOf(s.Table)
		if err != nil {
			return nil, err
		}
		return e.Describe(ctx, id)
	case sqlstmt.ShowSnapshots:
		id, err := identOf(s.Table)
		if err != nil {
			return nil, err
		}
		snaps, err := l.Snapshots(ctx, id)
		if err != nil {
			return nil, err
		}
		cols := []render.Column{{Name: "snapshot_id", Type: "BIGINT"}, {Name: "committed_at", Type: "TIMESTAMP WITH TIME ZONE"},
			{Name: "operation", Type: "VARCHAR"}, {Name: "job", Type: "VARCHAR"}, {Name: "principal", Type: "VARCHAR"},
			{Name: "added_rows", Type: "VARCHAR"}, {Name: "total_rows", Type: "VARCHAR"}, {Name: "current", Type: "BOOLEAN"}}
		data := make([][]any, len(snaps))
		for i, sn := range snaps {
			data[i] = []any{sn.ID, sn.Timestamp, sn.Operation, sn.Job, sn.Principal, sn.Summary["added-records"], sn.Summary["total-records"], sn.Current}
		}
		return rowsResult("SHOW SNAPSHOTS", cols, data), nil
	}
	return nil, fmt.Errorf("%s statements are not supported", st.Kind())
}

// Describe lists a table's columns with Iceberg field ids and types, then
// its partitioning.
func (e *Engine) Describe(ctx context.Context, id lake.Ident) (*Result, error) {
	tbl, err := e.lake.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	cols := []render.Column{{Name: "column", Type: "VARCHAR"}, {Name: "type", Type: "VARCHAR"}, {Name: "iceberg_type", Type: "VARCHAR"},
		{Name: "field_id", Type: "INTEGER"}, {Name: "comment", Type: "VARCHAR"}}
	var data [][]any
	for _, f := range tbl.Schema().Fields() {
		data = append(data, []any{f.Name, duck.DuckType(f.Type), f.Type.String(), f.ID, f.Doc})
	}
	spec := tbl.Spec()
	for _, pf := range spec.Fields() {
		src, _ := tbl.Schema().FindColumnName(pf.SourceID())
		data = append(data, []any{"(partition) " + pf.Name, "", fmt.Sprintf("%s(%s)", pf.Transform, src), pf.FieldID, ""})
	}
	return rowsResult("DESCRIBE", cols, data), nil
}

func (e *Engine) alter(ctx context.Context, s sqlstmt.AlterTable) (*Result, error) {
	id, err := identOf(s.Name)
	if err != nil {
		return nil, err
	}
	l := e.lake
	done := statusResult("ALTER TABLE")
	evolve := func(fn func(u *table.UpdateSchema) error) (*Result, error) {
		var ferr error
		_, err := l.EvolveSchema(ctx, id, func(u *table.UpdateSchema) { ferr = fn(u) })
		if ferr != nil {
			return nil, ferr
		}
		return done, err
	}
	switch a := s.Action.(type) {
	case sqlstmt.AddColumn:
		return evolve(func(u *table.UpdateSchema) error {
			if a.Column.NotNull {
				return fmt.Errorf("ALTER TABLE %s: NOT NULL is not supported: edp columns are optional", id)
			}
			next := 0
			t, err := duck.IcebergType(a.Column.Type, func() int { next++; return next })
			if err != nil {
				return fmt.Errorf("ALTER TABLE %s ADD COLUMN: %w", id, err)
			}
			path := pathOf(a.Path)
			if len(path) == 0 {
				path = []string{a.Column.Name.Name}
			}
			if a.IfNotExists {
				if tbl, err := l.LoadTable(ctx, id); err == nil {
					if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(strings.Join(path, ".")); ok {
						return nil
					}
				}
			}
			u.AddColumn(path, t, a.Column.Comment, false, nil)
			return nil
		})
	case sqlstmt.RenameColumn:
		return evolve(func(u *table.UpdateSchema) error {
			u.RenameColumn(pathOf(a.From), a.To.Name)
			return nil
		})
	case sqlstmt.DropColumn:
		if a.IfExists {
			tbl, err := l.LoadTable(ctx, id)
			if err != nil {
				return nil, err
			}
			if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(strings.Join(pathOf(a.Column), ".")); !ok {
				return done, nil
			}
		}
		tbl, err := l.LoadTable(ctx, id)
		if err != nil {
			return nil, err
		}
		if f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(strings.Join(pathOf(a.Column), ".")); ok {
			for _, spec := range tbl.Metadata().PartitionSpecs() {
				for _, pf := range spec.Fields() {
					if pf.SourceID() == f.ID {
						return nil, fmt.Errorf("ALTER TABLE %s: column %s is a partition source (field %s); drop the partition field first", id, f.Name, pf.Name)
					}
				}
			}
		}
		return evolve(func(u *table.UpdateSchema) error {
			u.DeleteColumn(pathOf(a.Column))
			return nil
		})
	case sqlstmt.AlterColumnType:
		return evolve(func(u *table.UpdateSchema) error {
			t, err := duck.IcebergType(a.Type, func() int { return 0 })
			if err != nil {
				return fmt.Errorf("ALTER TABLE %s: %w", id, err)
			}
			prim, ok := t.(iceberg.PrimitiveType)
			if !ok {
				return fmt.Errorf("ALTER TABLE %s: only primitive column types can change", id)
			}
			u.UpdateColumn(pathOf(a.Column), table.ColumnUpdate{FieldType: iceberg.Optional[iceberg.Type]{Valid: true, Val: prim}})
			return nil
		})
	case sqlstmt.RenameTable:
		to, err := identOf(a.To)
		if err != nil && len(a.To) == 1 {
			to, err = lake.Ident{Namespace: id.Namespace, Name: a.To[0].Name}, nil
		}
		if err != nil {
			return nil, err
		}
		return done, l.RenameTable(ctx, id, to)
	case sqlstmt.SetProperties:
		return done, l.SetProperties(ctx, id, a.Properties, nil)
	case sqlstmt.UnsetProperties:
		return done, l.SetProperties(ctx, id, nil, a.Keys)
	case sqlstmt.AddPartitionField:
		_, err := l.EvolveSpec(ctx, id, func(u *table.UpdateSpec) error {
			col, tr, err := lake.ParseTransform(a.Expr)
			if err != nil {
				return err
			}
			u.AddField(col, tr, lake.PartitionFieldName(col, tr))
			spec, err := u.Apply()
			if err != nil {
				return err
			}
			tbl, err := l.LoadTable(ctx, id)
			if err != nil {
				return err
			}
			return duck.CheckSpec(tbl.Schema(), spec)
		})
		return done, err
	case sqlstmt.DropPartitionField:
		_, err := l.EvolveSpec(ctx, id, func(u *table.UpdateSpec) error {
			col, tr, err := lake.ParseTransform(a.Expr)
			if err != nil {
				return err
			}
			u.RemoveField(lake.PartitionFieldName(col, tr))
			return nil
		})
		return done, err
	}
	return nil, fmt.Errorf("ALTER TABLE %s: unsupported change %s", id, s.Action.Kind())
}
