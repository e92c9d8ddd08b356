package duck

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	iofs "io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// Field ids the Iceberg spec reserves for position-delete files.
const (
	posDeleteFilePathID = 2147483546
	posDeletePosID      = 2147483545
)

// Store is where a write's files go; lake.Lake is the one edp uses.
// DuckDB writes a write's files into the local directory Stage gives for
// the warehouse directory they belong in; they are read back there for
// their statistics, then Publish puts them at their URIs (in a local
// warehouse they already are; an object store gets them uploaded).
type Store interface {
	// Stage creates and returns the local directory for files bound for
	// the warehouse directory uri.
	Stage(uri string) (dir string, err error)
	// Publish makes the staged files (local paths by URI) visible at
	// their URIs, or fails leaving none of them there.
	Publish(ctx context.Context, files map[string]string) error
	// Discard removes a failed write's directory and its files.
	Discard(dir string)
	// Unstage tidies a published write's local directory.
	Unstage(dir string)
}

// stagedIO reads staged files by the URIs they will have, so iceberg-go
// computes their statistics from the local copies before any upload.
type stagedIO map[string]string

func (s stagedIO) Open(name string) (icebergio.File, error) {
	p, ok := s[name]
	if !ok {
		return nil, &iofs.PathError{Op: "open", Path: name, Err: iofs.ErrNotExist}
	}
	return os.Open(p)
}

func (s stagedIO) Remove(name string) error {
	return &iofs.PathError{Op: "remove", Path: name, Err: iofs.ErrPermission}
}

// WriteData runs query (a SELECT yielding the table's columns in schema
// order; names do not matter) and writes its rows as Parquet data files
// under the table's data directory, clustered by the table's current
// partition spec. It returns the files (not yet committed) and the row
// count. On error, files already written are removed.
func WriteData(ctx context.Context, conn *sql.Conn, tbl *table.Table, store Store, query string, targetFileSize int64) (files []iceberg.DataFile, rows int64, err error) {
	schema := tbl.Schema()
	spec := tbl.Spec()
	fields := schema.Fields()
	aliases := make([]string, len(fields))
	cols := make([]string, len(fields))
	for i, f := range fields {
		aliases[i] = fmt.Sprintf("__c%d", i)
		cols[i] = fmt.Sprintf("CAST(__c%d AS %s) AS %s", i, DuckType(f.Type), Ident(f.Name))
	}
	var partCols []string
	for i, pf := range spec.Fields() {
		src, ok := schema.FindFieldByID(pf.SourceID())
		if !ok {
			return nil, 0, fmt.Errorf("partition field %s: source column %d is not in the schema", pf.Name, pf.SourceID())
		}
		expr, err := transformSQL(pf.Transform, Ident(src.Name), src.Type)
		if err != nil {
			return nil, 0, fmt.Errorf("partition field %s: %w", pf.Name, err)
		}
		// The key names the write's directory: 'N' for NULL, else the
		// value as text, prefixed 'v' for strings so that no string reads as
		// NULL. DuckDB percent-encodes whatever a directory name cannot
		// hold. (Binary values are hex-encoded; a hex key for every string
		// cost about a fifth more CPU per partitioned write.)
		key := "CAST(" + expr + " AS VARCHAR)"
		switch pf.Transform.ResultType(src.Type).(type) {
		case iceberg.StringType:
			key = "'v' || " + expr
		case iceberg.BinaryType:
			key = "'v' || hex(" + expr + ")"
		}
		partCols = append(partCols, fmt.Sprintf("CASE WHEN (%s) IS NULL THEN 'N' ELSE %s END AS __p%d", expr, key, i))
	}
	if targetFileSize <= 0 {
		targetFileSize = 512 << 20
	}
	dirURI, dir, err := writeDir(tbl, store)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			store.Discard(dir)
		}
	}()
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM (" + query + ") AS __src(" + strings.Join(aliases, ", ") + ") WHERE " + progressFn + "()"
	codec, err := parquetCodec(tbl.Properties())
	if err != nil {
		return nil, 0, err
	}
	opts := []string{"FORMAT parquet", "COMPRESSION " + codec, "FIELD_IDS " + FieldIDs(schema), "RETURN_FILES true",
		"FILENAME_PATTERN 'data_{uuid}'"}
	if len(partCols) == 0 {
		opts = append(opts, fmt.Sprintf("FILE_SIZE_BYTES %d", targetFileSize))
	} else {
		// DuckDB 1.5 cannot combine FILE_SIZE_BYTES with PARTITION_BY: a
		// partitioned write makes one file per partition (per thread).
		names := make([]string, len(partCols))
		for i := range partCols {
			names[i] = fmt.Sprintf("__p%d", i)
		}
		sel = "SELECT *, " + strings.Join(partCols, ", ") + " FROM (" + sel + ")"
		opts = append(opts, "PARTITION_BY ("+strings.Join(names, ", ")+")")
	}
	copySQL := "COPY (" + sel + ") TO " + Quote(dir) + " (" + strings.Join(opts, ", ") + ")"
	var paths []any
	if err := conn.QueryRowContext(ctx, copySQL).Scan(&rows, &paths); err != nil {
		return nil, 0, err
	}
	if rows == 0 {
		store.Discard(dir)
		return nil, 0, nil
	}
	staged := stagedIO{}
	for _, p := range paths {
		lp, _ := p.(string)
		rel, err := filepath.Rel(dir, lp)
		if err != nil {
			return nil, 0, err
		}
		// The location is a URI: the percent signs of DuckDB's encoded
		// partition directories are themselves escaped.
		uri := dirURI + "/" + (&url.URL{Path: filepath.ToSlash(rel)}).EscapedPath()
		staged[uri] = lp
		df, err := table.FileToDataFile(ctx, staged, uri, schema, *iceberg.UnpartitionedSpec, 0, tbl.Properties())
		if err != nil {
			return nil, 0, fmt.Errorf("read back %s: %w", lp, err)
		}
		if df.Count() == 0 {
			delete(staged, uri)
			os.Remove(lp)
			continue
		}
		if len(partCols) > 0 {
			values, err := partitionValues(schema, spec, rel)
			if err != nil {
				return nil, 0, fmt.Errorf("file %s: %w", lp, err)
			}
			if df, err = withPartition(schema, spec, df, values); err != nil {
				return nil, 0, err
			}
		}
		files = append(files, df)
	}
	if err := store.Publish(ctx, staged); err != nil {
		return nil, 0, err
	}
	store.Unstage(dir)
	return files, rows, nil
}

// CodecProperty is Iceberg's table property naming the Parquet codec.
const CodecProperty = "write.parquet.compression-codec"

// parquetCodec reads the table's Parquet codec. edp's default is zstd, as
// in Iceberg Java since 1.4: files a third smaller than Snappy's for about a
// fifth more write CPU (measured in docs/BENCHMARKS.md).
func parquetCodec(props map[string]string) (string, error) {
	c := strings.ToLower(props[CodecProperty])
	switch c {
	case "":
		return "zstd", nil
	case "zstd", "snappy", "gzip", "brotli", "uncompressed":
		return c, nil
	case "lz4", "lz4_raw":
		return "lz4_raw", nil
	}
	return "", fmt.Errorf("table property %s = %q: use zstd, snappy, gzip, lz4, brotli or uncompressed", CodecProperty, props[CodecProperty])
}

// writeDir makes a fresh directory for one write under the table's data
// directory, returning its location in the table's terms and locally.
func writeDir(tbl *table.Table, store Store) (uri, dir string, err error) {
	uri = strings.TrimRight(tbl.Location(), "/") + "/data/" + uuid.Must(uuid.NewV7()).String()
	dir, err = store.Stage(uri)
	return uri, dir, err
}

// Describe returns the column names and DuckDB types query yields.
func Describe(ctx context.Context, conn *sql.Conn, query string) (names, types []string, err error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if len(cols) < 2 {
		// DESCRIBE yields name and type first. Fewer columns mean query
		// was several statements and the last was no DESCRIBE.
		return nil, nil, fmt.Errorf("describe: %d columns, want DESCRIBE's (is the query one SELECT?)", len(cols))
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		names = append(names, fmt.Sprint(vals[0]))
		types = append(types, fmt.Sprint(vals[1]))
	}
	return names, types, rows.Err()
}

// transformSQL renders the DuckDB expression computing an Iceberg partition
// transform of col (Iceberg table spec, "Partition Transforms").
func transformSQL(tr iceberg.Transform, col string, t iceberg.Type) (string, error) {
	switch tr := tr.(type) {
	case iceberg.IdentityTransform:
		switch t.(type) {
		case iceberg.DateType:
			return "date_diff('day', DATE '1970-01-01', " + col + ")", nil
		case iceberg.TimestampType, iceberg.TimestampTzType:
			return "epoch_us(" + col + ")", nil
		case iceberg.Int32Type, iceberg.Int64Type, iceberg.StringType, iceberg.BooleanType:
			return col, nil
		}
	case iceberg.YearTransform:
		return "(year(" + col + ") - 1970)", nil
	case iceberg.MonthTransform:
		return "((year(" + col + ") - 1970) * 12 + month(" + col + ") - 1)", nil
	case iceberg.DayTransform:
		return "date_diff('day', DATE '1970-01-01', CAST(" + col + " AS DATE))", nil
	case iceberg.HourTransform:
		// Floor division in integers: DuckDB's // truncates toward zero,
		// and doubles lose microseconds past 2^53 (year 2255).
		e := "epoch_us(" + col + ")"
		return "((" + e + " - (((" + e + " % 3600000000) + 3600000000) % 3600000000)) // 3600000000)", nil
	case iceberg.TruncateTransform:
		w := strconv.Itoa(tr.Width)
		switch t.(type) {
		case iceberg.Int32Type, iceberg.Int64Type:
			// In BIGINT, so values near an INTEGER's minimum do not overflow.
			c := "CAST(" + col + " AS BIGINT)"
			return "(" + c + " - (((" + c + " % " + w + ") + " + w + ") % " + w + "))", nil
		case iceberg.StringType:
			return "substring(" + col + ", 1, " + w + ")", nil
		}
	case iceberg.BucketTransform:
		n := strconv.Itoa(tr.NumBuckets)
		switch t.(type) {
		case iceberg.Int32Type, iceberg.Int64Type:
			return bucketLongFn + "(" + n + ", CAST(" + col + " AS BIGINT))", nil
		case iceberg.DateType:
			return bucketLongFn + "(" + n + ", CAST(date_diff('day', DATE '1970-01-01', " + col + ") AS BIGINT))", nil
		case iceberg.TimestampType, iceberg.TimestampTzType:
			return bucketLongFn + "(" + n + ", epoch_us(" + col + "))", nil
		case iceberg.StringType:
			return bucketStringFn + "(" + n + ", " + col + ")", nil
		case iceberg.BinaryType:
			return bucketBlobFn + "(" + n + ", " + col + ")", nil
		}
	}
	return "", fmt.Errorf("edp cannot write %s partitions of a %s column yet", tr, t)
}

// CheckSpec reports a partition field edp cannot write, so a table is not
// created (or repartitioned) into a state no INSERT can succeed in.
func CheckSpec(schema *iceberg.Schema, spec iceberg.PartitionSpec) error {
	for _, pf := range spec.Fields() {
		src, ok := schema.FindFieldByID(pf.SourceID())
		if !ok {
			return fmt.Errorf("partition field %s: source column %d is not in the schema", pf.Name, pf.SourceID())
		}
		if _, err := transformSQL(pf.Transform, Ident(src.Name), src.Type); err != nil {
			return fmt.Errorf("partition field %s: %w", pf.Name, err)
		}
		if _, err := parsePartitionValue(pf.Transform.ResultType(src.Type), "0"); err != nil && !isStringType(pf.Transform.ResultType(src.Type)) {
			return fmt.Errorf("partition field %s: %w", pf.Name, err)
		}
	}
	return nil
}

func isStringType(t iceberg.Type) bool { _, ok := t.(iceberg.StringType); return ok }

// partitionValues decodes the hive-style directories of a partitioned
// write (rel is "__p0=HEX/__p1=HEX/file.parquet") into partition values
// keyed by partition field id.
func partitionValues(schema *iceberg.Schema, spec iceberg.PartitionSpec, rel string) (map[int]any, error) {
	segs := strings.Split(filepath.ToSlash(path.Dir(filepath.ToSlash(rel))), "/")
	out := map[int]any{}
	for i, pf := range spec.Fields() {
		if i >= len(segs) {
			return nil, fmt.Errorf("missing partition directory for %s", pf.Name)
		}
		_, enc, ok := strings.Cut(segs[i], "=")
		if !ok {
			return nil, fmt.Errorf("unexpected partition directory %q", segs[i])
		}
		if enc == "N" {
			out[pf.FieldID] = nil
			continue
		}
		src, _ := schema.FindFieldByID(pf.SourceID())
		typ := pf.Transform.ResultType(src.Type)
		text, err := url.PathUnescape(enc)
		if err != nil {
			return nil, fmt.Errorf("partition directory %q: %w", segs[i], err)
		}
		switch typ.(type) {
		case iceberg.StringType, iceberg.BinaryType:
			var ok bool
			if text, ok = strings.CutPrefix(text, "v"); !ok {
				return nil, fmt.Errorf("unexpected partition directory %q", segs[i])
			}
		}
		if _, bin := typ.(iceberg.BinaryType); bin {
			raw, err := hex.DecodeString(text)
			if err != nil {
				return nil, fmt.Errorf("partition directory %q: %w", segs[i], err)
			}
			text = string(raw)
		}
		v, err := parsePartitionValue(typ, text)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", pf.Name, err)
		}
		out[pf.FieldID] = v
	}
	return out, nil
}

func parsePartitionValue(t iceberg.Type, s string) (any, error) {
	switch t.(type) {
	case iceberg.Int32Type:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case iceberg.Int64Type:
		return strconv.ParseInt(s, 10, 64)
	case iceberg.DateType:
		n, err := strconv.ParseInt(s, 10, 32)
		return iceberg.Date(n), err
	case iceberg.TimestampType, iceberg.TimestampTzType:
		n, err := strconv.ParseInt(s, 10, 64)
		return iceberg.Timestamp(n), err
	case iceberg.StringType:
		return s, nil
	case iceberg.BooleanType:
		return strconv.ParseBool(s)
	}
	return nil, fmt.Errorf("unsupported partition value type %s", t)
}

func logicalTypes(schema *iceberg.Schema, spec iceberg.PartitionSpec) map[int]string {
	out := map[int]string{}
	for _, pf := range spec.Fields() {
		src, ok := schema.FindFieldByID(pf.SourceID())
		if !ok {
			continue
		}
		switch pf.Transform.ResultType(src.Type).(type) {
		case iceberg.DateType:
			out[pf.FieldID] = "date"
		case iceberg.TimestampType, iceberg.TimestampTzType:
			out[pf.FieldID] = "timestamp-micros"
		}
	}
	return out
}

// withPartition rebuilds df (whose stats came from its footer) with
// explicit partition values: iceberg-go can infer them only for
// order-preserving transforms, and edp knows them exactly from the write.
func withPartition(schema *iceberg.Schema, spec iceberg.PartitionSpec, df iceberg.DataFile, values map[int]any) (iceberg.DataFile, error) {
	b, err := iceberg.NewDataFileBuilder(spec, df.ContentType(), df.FilePath(), df.FileFormat(), values, logicalTypes(schema, spec), nil, df.Count(), df.FileSizeBytes())
	if err != nil {
		return nil, err
	}
	b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
		NaNValueCounts(df.NaNValueCounts()).LowerBoundValues(df.LowerBoundValues()).UpperBoundValues(df.UpperBoundValues()).
		SplitOffsets(df.SplitOffsets())
	return b.Build(), nil
}

// WritePositionDeletes writes position-delete files for the rows query
// yields (columns FileColumn — a local data file path — and PosColumn).
// dataFiles maps each local data file path that may appear to its
// metadata entry, whose spec and partition the delete file must share.
// Rows are written sorted by (file_path, pos), as the spec requires.
func WritePositionDeletes(ctx context.Context, conn *sql.Conn, tbl *table.Table, store Store, query string, dataFiles map[string]iceberg.DataFile) (files []iceberg.DataFile, rows int64, err error) {
	type group struct {
		specID    int32
		partition map[int]any
		locals    []string
	}
	groups := map[string]*group{}
	var order []string
	var mapping []string
	for _, lp := range slices.Sorted(maps.Keys(dataFiles)) {
		df := dataFiles[lp]
		key := fmt.Sprintf("%d/%v", df.SpecID(), sortedPartition(df.Partition()))
		g, ok := groups[key]
		if !ok {
			g = &group{specID: df.SpecID(), partition: df.Partition()}
			groups[key] = g
			order = append(order, key)
		}
		g.locals = append(g.locals, lp)
	}
	for gi, key := range order {
		for _, lp := range groups[key].locals {
			mapping = append(mapping, fmt.Sprintf("(%s, %s, %d)", Quote(lp), Quote(dataFiles[lp].FilePath()), gi))
		}
	}
	if len(mapping) == 0 {
		// An empty table: nothing can be deleted, but make sure nothing
		// was asked to be.
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+")").Scan(&n); err != nil {
			return nil, 0, err
		}
		if n > 0 {
			return nil, 0, fmt.Errorf("%d rows to delete point at files outside the statement's plan", n)
		}
		return nil, 0, nil
	}
	tmp := "__edp_del_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	create := fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT __m.u AS file_path, CAST(__q.%s AS BIGINT) AS pos, __m.g AS g FROM (%s) AS __q LEFT JOIN (VALUES %s) AS __m(l, u, g) ON __q.%s = __m.l",
		tmp, PosColumn, query, strings.Join(mapping, ", "), FileColumn)
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, 0, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp)
	// Every row id must name a planned file; one that does not would be a
	// delete silently lost. And each row may change once: a row id twice
	// (an UPDATE whose SET expression yields several rows, say) would turn
	// one row into several.
	var unmapped, repeated int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE file_path IS NULL), count(*) - count(DISTINCT (file_path, pos)) FROM "+tmp).Scan(&unmapped, &repeated); err != nil {
		return nil, 0, err
	}
	if unmapped > 0 {
		return nil, 0, fmt.Errorf("%d rows to delete point at files outside the statement's plan", unmapped)
	}
	if repeated > 0 {
		return nil, 0, fmt.Errorf("the statement would change %d rows more than once (a set-returning function such as unnest in SET?)", repeated)
	}
	dirURI, dir, err := writeDir(tbl, store)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			store.Discard(dir)
		}
	}()
	staged := map[string]string{}
	counts, err := conn.QueryContext(ctx, "SELECT g, count(*) FROM "+tmp+" GROUP BY g ORDER BY g")
	if err != nil {
		return nil, 0, err
	}
	perGroup := map[int]int64{}
	for counts.Next() {
		var g int
		var n int64
		if err := counts.Scan(&g, &n); err != nil {
			counts.Close()
			return nil, 0, err
		}
		perGroup[g] = n
	}
	counts.Close()
	for gi, key := range order {
		n := perGroup[gi]
		if n == 0 {
			continue
		}
		g := groups[key]
		name := "delete_" + uuid.NewString() + ".parquet"
		lp := filepath.Join(dir, name)
		copySQL := fmt.Sprintf("COPY (SELECT file_path, pos FROM %s WHERE g = %d ORDER BY file_path, pos) TO %s (FORMAT parquet, COMPRESSION zstd, FIELD_IDS {file_path: %d, pos: %d})",
			tmp, gi, Quote(lp), posDeleteFilePathID, posDeletePosID)
		if _, err := conn.ExecContext(ctx, copySQL); err != nil {
			return nil, 0, err
		}
		st, err := os.Stat(lp)
		if err != nil {
			return nil, 0, err
		}
		spec := tbl.Metadata().PartitionSpecByID(int(g.specID))
		if spec == nil {
			return nil, 0, fmt.Errorf("data file with unknown partition spec %d", g.specID)
		}
		staged[dirURI+"/"+name] = lp
		b, err := iceberg.NewDataFileBuilder(*spec, iceberg.EntryContentPosDeletes, dirURI+"/"+name, iceberg.ParquetFile,
			g.partition, logicalTypes(tbl.Schema(), *spec), nil, n, st.Size())
		if err != nil {
			return nil, 0, err
		}
		if len(g.locals) == 1 {
			b.ReferencedDataFile(dataFiles[g.locals[0]].FilePath())
		}
		files = append(files, b.Build())
		rows += n
	}
	if err := store.Publish(ctx, staged); err != nil {
		return nil, 0, err
	}
	store.Unstage(dir)
	return files, rows, nil
}

func sortedPartition(p map[int]any) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%d=%v;", k, p[k])
	}
	return b.String()
}
