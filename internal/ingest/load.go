package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// Bad-row policies.
const (
	BadRowsFail       = "fail"
	BadRowsSkip       = "skip"
	BadRowsQuarantine = "quarantine"
)

// ErrBadInput is wrapped by errors about the content of input files.
var ErrBadInput = errors.New("bad input")

// Options describe one load.
type Options struct {
	Table lake.Ident
	// Files are paths or glob patterns.
	Files []string
	// Format is csv, json or parquet; empty means detect from the extension.
	Format      string
	PartitionBy []string
	// Evolve adds columns the files have and the table lacks.
	Evolve  bool
	BadRows string
	CSV     CSVOptions
	// TargetFileSize bounds each written data file.
	TargetFileSize int64
	TempDir        string
	MemoryLimit    string
	// Progress, if set, is called about twice a second while data is
	// written, and once at the end.
	Progress func(Progress)
	Job      string
	// Properties are set on a table the load creates.
	Properties map[string]string
}

// CSVOptions override CSV dialect detection.
type CSVOptions struct {
	Delimiter string
	Quote     string
	Header    *bool
	Nulls     []string
}

// Progress reports a running load.
type Progress struct {
	Table        string
	Files        int
	InputBytes   int64
	WrittenBytes int64
	Rows         int64 // rows written so far
	Elapsed      time.Duration
	Done         bool
}

// Result summarises a committed load.
type Result struct {
	Table    lake.Ident
	Created  bool
	Rows     int64
	Rejected int64
	Files    int
	Elapsed  time.Duration
}

// Load reads the files and commits their rows to opts.Table in one
// snapshot, creating the table (schema inferred from the files) if needed.
func Load(ctx context.Context, l *lake.Lake, opts Options) (*Result, error) {
	start := time.Now()
	if opts.BadRows == "" {
		opts.BadRows = BadRowsFail
	}
	if !slices.Contains([]string{BadRowsFail, BadRowsSkip, BadRowsQuarantine}, opts.BadRows) {
		return nil, fmt.Errorf("bad-rows %q: use fail, skip or quarantine", opts.BadRows)
	}
	if opts.Job == "" {
		opts.Job = "load"
	}
	if err := l.Authorize(ctx, policy.Write, policy.Resource{Namespace: opts.Table.Namespace, Table: opts.Table.Name}); err != nil {
		return nil, err
	}
	if opts.BadRows == BadRowsQuarantine {
		// The rejected rows are committed to a second table after the
		// load's own commit. Ask now whether they may be, so that a load
		// is not committed and then reported as failed.
		if err := authorizeRejected(ctx, l, opts.Table); err != nil {
			return nil, err
		}
	}
	files, err := expand(opts.Files)
	if err != nil {
		return nil, err
	}
	format := opts.Format
	if format == "" {
		if format, err = detectFormat(files); err != nil {
			return nil, err
		}
	}
	if format == "parquet" && opts.BadRows != BadRowsFail {
		return nil, fmt.Errorf("--bad-rows=%s is supported for CSV and JSON files; Parquet loads fail on the first bad value", opts.BadRows)
	}
	var inBytes int64
	dirs := l.LocalDirs()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if st.Size() == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrBadInput, f)
		}
		if err := checkCompressed(f); err != nil {
			return nil, err
		}
		inBytes += st.Size()
		if d := filepath.Dir(f); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	written := new(atomic.Int64)
	dopts := duck.Options{AllowedDirs: dirs, TempDir: opts.TempDir, MemoryLimit: opts.MemoryLimit}
	if opts.Progress != nil {
		dopts.Progress = written
	}
	db, err := duck.Open(ctx, dopts)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	ld := &loader{l: l, conn: conn, opts: opts, files: files, format: format, written: written}
	res, err := ld.run(ctx, inBytes, start)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// DuckDB reports a cancelled read as an "INTERRUPT" error, which
		// would otherwise read as bad input.
		return nil, fmt.Errorf("load into %s stopped, nothing was committed: %w", opts.Table, context.Cause(ctx))
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// rejectedTable names the table quarantined rows of id go to.
func rejectedTable(id lake.Ident) lake.Ident {
	return lake.Ident{Namespace: id.Namespace, Name: id.Name + "__rejected"}
}

// authorizeRejected asks whether the caller may append to id's rejects
// table, and create it if it does not exist yet.
func authorizeRejected(ctx context.Context, l *lake.Lake, id lake.Ident) error {
	rid := rejectedTable(id)
	res := policy.Resource{Namespace: rid.Namespace, Table: rid.Name}
	if err := l.Authorize(ctx, policy.Write, res); err != nil {
		return fmt.Errorf("--bad-rows=quarantine writes to %s: %w", rid, err)
	}
	exists, err := l.TableExists(ctx, rid)
	if err != nil && !errors.Is(err, lake.ErrNoSuchNamespace) {
		return err
	}
	if !exists {
		if err := l.Authorize(ctx, policy.Admin, res); err != nil {
			return fmt.Errorf("--bad-rows=quarantine creates %s: %w", rid, err)
		}
	}
	return nil
}

type loader struct {
	// csvChecked are CSV columns read wider than the table's type, whose
	// values checkTypes must vet.
	csvChecked []string
	// jsonLines is set when JSON is read line by line (bad-row policies).
	jsonLines bool
	// tx holds a staged schema change (--evolve) to commit with the rows.
	tx *table.Transaction
	// written counts rows as DuckDB writes them.
	written *atomic.Int64
	l       *lake.Lake
	conn    *sql.Conn
	opts    Options
	files   []string
	format  string
}

func (ld *loader) run(ctx context.Context, inBytes int64, start time.Time) (*Result, error) {
	id := ld.opts.Table
	exists, err := ld.l.TableExists(ctx, id)
	if err != nil {
		return nil, err
	}
	var tbl *table.Table
	if exists {
		if tbl, err = ld.l.LoadTable(ctx, id); err != nil {
			return nil, err
		}
		if len(ld.opts.PartitionBy) > 0 {
			return nil, fmt.Errorf("table %s exists: --partition-by applies only when a load creates the table", id)
		}
	}
	// The source relation: typed like the table when there is one, so a
	// value that does not fit is a bad row with a file and line.
	var want map[string]string
	if tbl != nil {
		want = map[string]string{}
		for _, f := range tbl.Schema().Fields() {
			want[strings.ToLower(f.Name)] = duck.DuckType(f.Type)
		}
	}
	src, err := ld.source(ctx, want)
	if err != nil {
		return nil, err
	}
	names, types, err := duck.Describe(ctx, ld.conn, "SELECT * FROM "+src)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadInput, brief(err.Error()))
	}
	if err := ld.checkSplit(names); err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.ContainsRune(n, 0) {
			return nil, fmt.Errorf("%w: %s: a column name contains a NUL byte", ErrBadInput, ld.files[0])
		}
	}
	created, createdNS := false, false
	if tbl == nil {
		schema, err := duck.SchemaFromColumns(names, types)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		spec, err := lake.BuildSpec(schema, ld.opts.PartitionBy)
		if err == nil {
			err = duck.CheckSpec(schema, *spec)
		}
		if err != nil {
			return nil, err
		}
		// Loading into a new namespace creates it, as a first load should
		// just work; an existing one is left as it is.
		nsExisted, err := ld.namespaceExists(ctx)
		if err != nil {
			return nil, err
		}
		if err := ld.l.CreateNamespace(ctx, id.Namespace, nil, true); err != nil {
			return nil, err
		}
		createdNS = !nsExisted
		if tbl, err = ld.l.CreateTable(ctx, id, schema, spec, ld.opts.Properties); err != nil {
			return nil, err
		}
		created = true
	} else if tbl, err = ld.reconcile(ctx, tbl, names, types); err != nil {
		return nil, err
	}
	res, err := ld.write(ctx, tbl, src, names, types, inBytes, start)
	if err != nil && created {
		// A failed load leaves no trace, not even the table (or the
		// namespace) it would create.
		bg := context.WithoutCancel(ctx)
		if derr := ld.l.DropTable(bg, id, true, true); derr != nil {
			err = errors.Join(err, derr)
		} else if createdNS {
			if derr := ld.l.DropNamespace(bg, id.Namespace, true, false); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	res.Created = created
	return res, nil
}

func (ld *loader) namespaceExists(ctx context.Context) (bool, error) {
	nss, err := ld.l.ListNamespaces(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(nss, ld.opts.Table.Namespace), nil
}

// reconcile checks the files' columns against the table, adding new ones
// when Evolve is set.
func (ld *loader) reconcile(ctx context.Context, tbl *table.Table, names, types []string) (*table.Table, error) {
	var extra []int
	for i, n := range names {
		if _, ok := tbl.Schema().FindFieldByNameCaseInsensitive(n); !ok {
			extra = append(extra, i)
		}
	}
	if len(extra) == 0 {
		return tbl, nil
	}
	var list []string
	for _, i := range extra {
		list = append(list, names[i]+" "+types[i])
	}
	if !ld.opts.Evolve {
		return nil, fmt.Errorf("%w: the files have columns table %s lacks: %s (use --evolve to add them)", ErrBadInput, ld.opts.Table, strings.Join(list, ", "))
	}
	var typeErr error
	tx, staged, err := ld.l.StageSchema(ctx, ld.opts.Table, tbl, func(u *table.UpdateSchema) {
		for _, i := range extra {
			next := 0
			t, err := duck.IcebergType(types[i], func() int { next++; return next })
			if err != nil {
				typeErr = fmt.Errorf("%w: column %s: %v", ErrBadInput, names[i], err)
				return
			}
			u.AddColumn([]string{names[i]}, t, "", false, nil)
		}
	})
	if typeErr != nil {
		return nil, typeErr
	}
	if err != nil {
		return nil, err
	}
	// The new columns commit with the rows, in one snapshot, or not at all.
	ld.tx = tx
	return staged, nil
}

// write writes the rows and commits them, handling rejected rows.
func (ld *loader) write(ctx context.Context, tbl *table.Table, src string, names, types []string, inBytes int64, start time.Time) (*Result, error) {
	byName := map[string]string{}
	jsonCol := map[string]bool{}
	for i, n := range names {
		byName[strings.ToLower(n)] = n
		jsonCol[n] = types[i] == "JSON"
	}
	var cols []string
	for _, f := range tbl.Schema().Fields() {
		if n, ok := byName[strings.ToLower(f.Name)]; ok && jsonCol[n] {
			// A JSON column (a key whose values mix types) is stored as text:
			// strings without their quotes, other values as written.
			cols = append(cols, "json_extract_string("+duck.Ident(n)+", '$')")
		} else if ok {
			cols = append(cols, duck.Ident(n))
		} else {
			cols = append(cols, "NULL")
		}
	}
	check := byName
	if ld.format == "csv" {
		check = map[string]string{}
		for _, n := range ld.csvChecked {
			check[strings.ToLower(n)] = n
		}
	}
	if len(check) > 0 && !ld.jsonLines {
		srcTypes := map[string]string{}
		for i, n := range names {
			srcTypes[n] = types[i]
		}
		if err := ld.checkTypes(ctx, tbl, src, check, srcTypes); err != nil {
			return nil, err
		}
	}
	query := "SELECT " + strings.Join(cols, ", ") + " FROM " + src
	stop := ld.progress(tbl, inBytes, start)
	files, n, err := duck.WriteData(ctx, ld.conn, tbl, ld.l, query, ld.opts.TargetFileSize)
	stop(n)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ld.opts.Table, dataError(err))
	}
	rejected, err := ld.rejects(ctx)
	if err != nil {
		ld.removeFiles(ctx, files)
		return nil, err
	}
	if len(rejected) > 0 && ld.opts.BadRows == BadRowsFail {
		ld.removeFiles(ctx, files)
		r := rejected[0]
		more := ""
		if len(rejected) > 1 {
			more = fmt.Sprintf(" (and %d more bad rows; see --bad-rows=skip|quarantine)", len(rejected)-1)
		}
		col := ""
		if r.Column != "" {
			col = " column " + r.Column
		}
		return nil, fmt.Errorf("%w: %s line %d%s: %s; nothing was loaded%s", ErrBadInput, r.File, r.Line, col, brief(r.Error), more)
	}
	if _, err := ld.l.CommitFiles(ctx, ld.opts.Table, tbl, lake.Commit{Job: ld.opts.Job, Data: files, Tx: ld.tx,
		Props: map[string]string{"edp.load.files": fmt.Sprint(len(ld.files)), "edp.load.rejected": fmt.Sprint(len(rejected))}}); err != nil {
		// Only a conflict proves the commit did not land. After any other
		// failure the files stay: a commit whose answer was lost (the
		// catalog database dropping the connection at COMMIT) may have
		// landed, and deleting files a snapshot names would break the
		// table. Orphan cleanup removes them once they are old enough.
		if lake.IsConflict(err) {
			ld.removeFiles(ctx, files)
		}
		return nil, err
	}
	if len(rejected) > 0 && ld.opts.BadRows == BadRowsQuarantine {
		if err := ld.quarantine(ctx, rejected); err != nil {
			return nil, fmt.Errorf("rows loaded, but writing the %d rejected rows to %s__rejected failed: %w", len(rejected), ld.opts.Table, err)
		}
	}
	return &Result{Table: ld.opts.Table, Rows: n, Rejected: int64(len(rejected)), Files: len(ld.files), Elapsed: time.Since(start)}, nil
}

// removeFiles deletes files written for a load that will not commit. What
// it cannot delete, orphan cleanup removes later.
func (ld *loader) removeFiles(ctx context.Context, files []iceberg.DataFile) {
	_ = ld.l.RemoveFiles(context.WithoutCancel(ctx), files)
}

// progress polls the bytes written under the table's data directory.
func (ld *loader) progress(tbl *table.Table, inBytes int64, start time.Time) func(rows int64) {
	if ld.opts.Progress == nil {
		return func(int64) {}
	}
	// Files are written under the table's data directory, or its mirror in
	// the staging area for a remote warehouse.
	dataDir := ld.l.StagePath(strings.TrimRight(tbl.Location(), "/") + "/data")
	before := dirSize(dataDir)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ld.opts.Progress(Progress{Table: ld.opts.Table.String(), Files: len(ld.files), InputBytes: inBytes,
					WrittenBytes: dirSize(dataDir) - before, Rows: ld.written.Load(), Elapsed: time.Since(start)})
			}
		}
	}()
	return func(rows int64) {
		close(done)
		<-finished
		ld.opts.Progress(Progress{Table: ld.opts.Table.String(), Files: len(ld.files), InputBytes: inBytes,
			WrittenBytes: dirSize(dataDir) - before, Rows: rows, Elapsed: time.Since(start), Done: true})
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// dataError marks DuckDB's errors about values (a cast that fails, text
// that is not valid UTF-8) as bad input, shortened: DuckDB quotes whole
// lines, which may be megabytes long.
func dataError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Conversion Error") || strings.Contains(msg, "Invalid Input Error") || strings.Contains(msg, "Invalid unicode") {
		return fmt.Errorf("%w: %s", ErrBadInput, brief(msg))
	}
	return err
}

// brief shortens a message for people: each line is cut to a readable
// length (DuckDB quotes whole input lines, which may be megabytes long),
// keeping every line so that file names and reasons further on survive.
func brief(msg string) string {
	const perLine = 300
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if len(l) > perLine {
			cut := perLine
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			lines[i] = l[:cut] + fmt.Sprintf("… (%d more bytes)", len(l)-cut)
		}
	}
	return strings.Join(lines, "\n")
}
