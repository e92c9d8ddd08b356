package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/view"

	"github.com/edp-data/edp/internal/policy"
)

// Iceberg views, kept in the same catalog table as tables (iceberg-go's
// SQL catalog marks them with iceberg_type VIEW). edp's own SQL does not
// expand them yet; they are stored for the engines that reach edp through
// the Iceberg REST catalog. iceberg-go v0.7.0's SQL catalog can create,
// load, list and drop views but not replace or rename them, so those are
// done here the way commits of tables are: new metadata file, then a swap
// of the catalog row guarded by the old metadata location.

// ErrNoSuchView and ErrViewExists are iceberg-go's, so either matches.
var (
	ErrNoSuchView = catalog.ErrNoSuchView
	ErrViewExists = catalog.ErrViewAlreadyExists
)

// ViewState is a view's metadata and the file that holds it.
type ViewState struct {
	Metadata         view.Metadata
	MetadataLocation string
}

// CreateView creates a view whose first version is version over schema.
// location may be empty (edp chooses one in the warehouse) or a directory
// inside the warehouse that no table or view uses.
func (l *Lake) CreateView(ctx context.Context, id Ident, schema *iceberg.Schema, version *view.Version, location string, props map[string]string) (ViewState, error) {
	if err := validName("namespace", id.Namespace); err != nil {
		return ViewState{}, err
	}
	if err := validName("view", id.Name); err != nil {
		return ViewState{}, err
	}
	if err := checkProperties(props); err != nil {
		return ViewState{}, err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return ViewState{}, err
	}
	if version == nil || schema == nil {
		return ViewState{}, fmt.Errorf("%w: a view needs a schema and a version", ErrInvalid)
	}
	start := time.Now()
	st, err := l.createView(ctx, id, schema, version, location, props)
	if err != nil {
		err = fmt.Errorf("create view %s: %w", id, err)
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: OpCreateView}, start, nil, err)
	return st, err
}

func (l *Lake) createView(ctx context.Context, id Ident, schema *iceberg.Schema, version *view.Version, location string, props map[string]string) (ViewState, error) {
	if location == "" {
		var err error
		if location, err = l.newTableLocation(id); err != nil {
			return ViewState{}, err
		}
	}
	if err := l.checkNewLocation(ctx, id, location); err != nil {
		return ViewState{}, err
	}
	meta, err := view.NewMetadata(version, schema, location, props)
	if err != nil {
		return ViewState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	loc, err := newMetadataLocation(meta, -1)
	if err != nil {
		return ViewState{}, err
	}
	if err := l.writeMetadata(ctx, meta, loc); err != nil {
		return ViewState{}, err
	}
	if err := l.inCatalogTx(ctx, func(tx *sql.Tx) error { return l.insertRowTx(ctx, tx, id, loc, ViewKind) }); err != nil {
		landed, remove := l.settle(ctx, err, map[Ident]string{id: loc})
		if remove {
			l.removeFile(ctx, loc)
		}
		if landed {
			return ViewState{Metadata: meta, MetadataLocation: loc}, nil
		}
		if errors.Is(err, ErrTableExists) {
			// The name is taken by a table or a view; say which.
			if ok, _ := l.cat.CheckViewExists(ctx, id.iceberg()); ok {
				return ViewState{}, fmt.Errorf("%w: %s", ErrViewExists, id)
			}
		}
		return ViewState{}, err
	}
	return ViewState{Metadata: meta, MetadataLocation: loc}, nil
}

// LoadView loads a view's current metadata.
func (l *Lake) LoadView(ctx context.Context, id Ident) (ViewState, error) {
	if err := l.authz.Authorize(ctx, policy.Read, id.resource()); err != nil {
		return ViewState{}, err
	}
	return l.loadView(ctx, id)
}

func (l *Lake) loadView(ctx context.Context, id Ident) (ViewState, error) {
	loc, err := l.viewLocation(ctx, l.db.DB, id)
	if err != nil {
		return ViewState{}, err
	}
	v, err := view.NewFromLocation(ctx, id.iceberg(), loc, iceio.LoadFSFunc(l.ioProps, loc))
	if err != nil {
		return ViewState{}, fmt.Errorf("view %s: %w", id, err)
	}
	return ViewState{Metadata: v.Metadata(), MetadataLocation: loc}, nil
}

// querier is what viewLocation reads through: the database or a
// transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// viewLocation reads a view's metadata location from the catalog.
func (l *Lake) viewLocation(ctx context.Context, q querier, id Ident) (string, error) {
	var loc sql.NullString
	err := q.QueryRowContext(ctx, l.db.Rebind(`SELECT metadata_location FROM iceberg_tables
		WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND iceberg_type = ?`),
		l.cat.Name(), id.Namespace, id.Name, ViewKind).Scan(&loc)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !loc.Valid {
		return "", fmt.Errorf("%w: %s", ErrNoSuchView, id)
	}
	if err != nil {
		return "", fmt.Errorf("view %s: %w", id, err)
	}
	return loc.String, nil
}

// ListViews returns the views of ns, sorted.
func (l *Lake) ListViews(ctx context.Context, ns string) ([]Ident, error) {
	if err := l.authz.Authorize(ctx, policy.Read, policy.Resource{Namespace: ns}); err != nil {
		return nil, err
	}
	var out []Ident
	for id, err := range l.cat.ListViews(ctx, table.Identifier{ns}) {
		if err != nil {
			return nil, fmt.Errorf("list views in %s: %w", ns, err)
		}
		out = append(out, Ident{Namespace: ns, Name: id[len(id)-1]})
	}
	sortIdents(out)
	return out, nil
}

// ViewExists reports whether id names a view.
func (l *Lake) ViewExists(ctx context.Context, id Ident) (bool, error) {
	if err := l.authz.Authorize(ctx, policy.Read, id.resource()); err != nil {
		return false, err
	}
	return l.cat.CheckViewExists(ctx, id.iceberg())
}

// DropView removes a view from the catalog. A view has no data; its
// metadata files stay for orphan cleanup.
func (l *Lake) DropView(ctx context.Context, id Ident) error {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return err
	}
	start := time.Now()
	err := l.inCatalogTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, l.db.Rebind(`DELETE FROM iceberg_tables
			WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND iceberg_type = ?`),
			l.cat.Name(), id.Namespace, id.Name, ViewKind)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchView, id)
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("drop view %s: %w", id, err)
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: OpDropView}, start, nil, err)
	return err
}

// RenameView renames (and possibly moves between namespaces) a view.
func (l *Lake) RenameView(ctx context.Context, from, to Ident) error {
	if err := l.authz.Authorize(ctx, policy.Admin, from.resource()); err != nil {
		return err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, to.resource()); err != nil {
		return err
	}
	if err := validName("namespace", to.Namespace); err != nil {
		return err
	}
	if err := validName("view", to.Name); err != nil {
		return err
	}
	start := time.Now()
	err := l.inCatalogTx(ctx, func(tx *sql.Tx) error {
		if _, err := l.viewLocation(ctx, tx, from); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, l.db.Rebind(`SELECT
			(SELECT count(*) FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?) +
			(SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?)`),
			l.cat.Name(), to.Namespace, l.cat.Name(), to.Namespace).Scan(&n); err != nil {
			return fmt.Errorf("check namespace: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchNamespace, to.Namespace)
		}
		if err := l.checkNameFree(ctx, tx, to); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, l.db.Rebind(`UPDATE iceberg_tables SET table_namespace = ?, table_name = ?
			WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND iceberg_type = ?`),
			to.Namespace, to.Name, l.cat.Name(), from.Namespace, from.Name, ViewKind)
		return err
	})
	if err != nil {
		err = fmt.Errorf("rename view %s to %s: %w", from, to, err)
	}
	l.emit(ctx, CommitEvent{Table: from, To: to, Operation: OpRenameView}, start, nil, err)
	return err
}

// CommitView checks reqs against a view's current metadata, applies
// updates (a replace adds a version and makes it current) and swaps the
// new metadata in, failing with ErrCommitFailed when another writer
// changed the view first.
func (l *Lake) CommitView(ctx context.Context, id Ident, reqs []view.Requirement, updates []view.Update) (ViewState, error) {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return ViewState{}, err
	}
	start := time.Now()
	st, err := l.commitView(ctx, id, reqs, updates)
	if err != nil {
		err = fmt.Errorf("commit view %s: %w", id, err)
	}
	ev := CommitEvent{Table: id, Operation: OpReplaceView}
	if errors.Is(err, ErrCommitFailed) {
		ev.Conflicts = 1
	}
	l.emit(ctx, ev, start, nil, err)
	return st, err
}

func (l *Lake) commitView(ctx context.Context, id Ident, reqs []view.Requirement, updates []view.Update) (ViewState, error) {
	cur, err := l.loadView(ctx, id)
	if err != nil {
		return ViewState{}, err
	}
	for _, r := range reqs {
		if err := r.Validate(cur.Metadata); err != nil {
			return ViewState{}, fmt.Errorf("%w: %v", ErrCommitFailed, err)
		}
	}
	b, err := view.MetadataBuilderFromBase(cur.Metadata)
	if err != nil {
		return ViewState{}, err
	}
	for _, u := range updates {
		if err := u.Apply(b); err != nil {
			return ViewState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	next, err := b.Build()
	if err != nil {
		return ViewState{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if next.Location() != cur.Metadata.Location() {
		return ViewState{}, fmt.Errorf("%w: the location of view %s cannot change", ErrInvalid, id)
	}
	changed := map[string]string{}
	for k, v := range next.Properties() {
		if cur.Metadata.Properties()[k] != v {
			changed[k] = v
		}
	}
	if err := checkProperties(changed); err != nil {
		return ViewState{}, err
	}
	loc, err := newMetadataLocation(next, metadataVersion(cur.MetadataLocation))
	if err != nil {
		return ViewState{}, err
	}
	if err := l.writeMetadata(ctx, next, loc); err != nil {
		return ViewState{}, err
	}
	err = l.inCatalogTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, l.db.Rebind(`UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ?
			WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND iceberg_type = ? AND metadata_location = ?`),
			loc, cur.MetadataLocation, l.cat.Name(), id.Namespace, id.Name, ViewKind, cur.MetadataLocation)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: view %s was changed by another writer", ErrCommitFailed, id)
		}
		return nil
	})
	if err != nil {
		landed, remove := l.settle(ctx, err, map[Ident]string{id: loc})
		if remove {
			l.removeFile(ctx, loc)
		}
		if !landed {
			return ViewState{}, err
		}
	}
	return ViewState{Metadata: next.Metadata, MetadataLocation: loc}, nil
}
