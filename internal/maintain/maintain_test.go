package maintain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/query"
)

// env is a real lake in a temporary directory with a DuckDB query engine.
type env struct {
	t   testing.TB
	ctx context.Context
	l   *lake.Lake
	e   *query.Engine
	dir string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, laketest.New(t))
}

// newEnvOn is newEnv on the given storage.
func newEnvOn(t testing.TB, st laketest.Storage) *env {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
	l, err := lake.Open(ctx, st.Options(lake.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e, err := query.New(ctx, l, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &env{t: t, ctx: ctx, l: l, e: e, dir: st.LocalDir}
}

func (v *env) exec(sql string) {
	v.t.Helper()
	res, err := v.e.Exec(v.ctx, sql)
	if err != nil {
		v.t.Fatalf("%s: %v", sql, err)
	}
	res.Close()
}

// rows runs a query and renders its rows as lines.
func (v *env) rows(sql string) []string {
	v.t.Helper()
	out, err := v.query(sql)
	if err != nil {
		v.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func (v *env) query(sql string) ([]string, error) {
	res, err := v.e.Exec(v.ctx, sql)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []string
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(row...))
	}
}

func (v *env) current(id lake.Ident) int64 {
	v.t.Helper()
	tbl, err := v.l.LoadTable(v.ctx, id)
	if err != nil {
		v.t.Fatal(err)
	}
	return tbl.CurrentSnapshot().SnapshotID
}

func (v *env) tableDir(id lake.Ident) string {
	v.t.Helper()
	tbl, err := v.l.LoadTable(v.ctx, id)
	if err != nil {
		v.t.Fatal(err)
	}
	return lake.LocalPath(tbl.Location())
}

// results are every query whose answer maintenance must not change.
func (v *env) results(table string, snapshot int64) map[string][]string {
	v.t.Helper()
	qs := []string{
		"SELECT * FROM " + table + " ORDER BY id, cat, amount",
		"SELECT count(*), count(DISTINCT id), sum(id), sum(amount), count(note) FROM " + table,
		"SELECT cat, count(*), sum(amount), max(note) FROM " + table + " GROUP BY cat ORDER BY cat",
		"SELECT id, amount FROM " + table + " WHERE id BETWEEN 20 AND 60 ORDER BY id",
		fmt.Sprintf("SELECT * FROM %s FOR VERSION AS OF %d ORDER BY id, cat, amount", table, snapshot),
	}
	out := map[string][]string{}
	for _, q := range qs {
		out[q] = v.rows(q)
	}
	return out
}

// fill makes a table of many small files with position deletes from
// DELETE and UPDATE and a column added half way.
func (v *env) fill(table, partitionBy string) {
	v.exec("CREATE NAMESPACE IF NOT EXISTS m")
	v.exec("CREATE TABLE " + table + " (id INT, cat VARCHAR, amount DOUBLE)" + partitionBy)
	id := 0
	insert := func(n int, withNote bool) {
		var vals []string
		for range n {
			id++
			row := fmt.Sprintf("(%d, 'c%d', %d.5", id, id%3, id*10)
			if withNote {
				row += fmt.Sprintf(", 'n%d'", id)
			}
			vals = append(vals, row+")")
		}
		v.exec("INSERT INTO " + table + " VALUES " + strings.Join(vals, ", "))
	}
	for range 12 {
		insert(5, false)
	}
	v.exec("DELETE FROM " + table + " WHERE id % 7 = 0")
	v.exec("UPDATE " + table + " SET amount = amount * 2 WHERE id % 5 = 0")
	v.exec("ALTER TABLE " + table + " ADD COLUMN note VARCHAR")
	for range 8 {
		insert(4, true)
	}
	v.exec("DELETE FROM " + table + " WHERE id % 11 = 0")
	v.exec("UPDATE " + table + " SET note = 'u' || CAST(id AS VARCHAR) WHERE id % 4 = 1")
}

func mustRun(t *testing.T, v *env, id lake.Ident, opts Options) *Report {
	t.Helper()
	rep, err := Run(v.ctx, v.l, id, opts, nil)
	if err != nil {
		t.Fatalf("Run(%s) = %v", id, err)
	}
	return rep
}

func sameResults(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for q, w := range want {
		g := got[q]
		if slices.Equal(g, w) {
			continue
		}
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		first := func(rows []string) string {
			if i < len(rows) {
				return fmt.Sprintf("%.80q", rows[i])
			}
			return "(end)"
		}
		t.Errorf("%s after maintenance: %d rows, want %d; first difference at row %d: got %s, want %s", q, len(g), len(w), i, first(g), first(w))
	}
}

// TestCompactionKeepsResults compacts tables of many small files with
// deletes, partitioned and not, and checks every query answers as before
// while the file count falls and the delete files are folded in.
func TestCompactionKeepsResults(t *testing.T) {
	for _, tc := range []struct{ name, partitionBy string }{
		{"unpartitioned", ""},
		{"partitioned", " PARTITIONED BY (cat)"},
		{"bucketed", " PARTITIONED BY (bucket(2, id))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			id := lake.Ident{Namespace: "m", Name: "t"}
			v.fill("m.t", tc.partitionBy)
			snap := v.current(id)
			before := v.results("m.t", snap)

			rep := mustRun(t, v, id, Options{SkipExpiry: true, SkipOrphans: true})
			if rep.Compaction == nil {
				t.Fatalf("Run did not compact: notes %q", rep.Notes)
			}
			if rep.After.DataFiles >= rep.Before.DataFiles {
				t.Errorf("data files after = %d, want fewer than %d", rep.After.DataFiles, rep.Before.DataFiles)
			}
			if rep.Before.DeleteFiles == 0 || rep.After.DeleteFiles != 0 {
				t.Errorf("delete files before/after = %d/%d, want some/0", rep.Before.DeleteFiles, rep.After.DeleteFiles)
			}
			live := v.rows("SELECT count(*) FROM m.t")[0]
			if fmt.Sprint(rep.Compaction.OutputRows) != live {
				t.Errorf("compaction wrote %d rows, table has %s live rows", rep.Compaction.OutputRows, live)
			}
			sameResults(t, v.results("m.t", snap), before)
			// Deleted rows stay deleted.
			if got := v.rows("SELECT count(*) FROM m.t WHERE (id <= 60 AND id % 7 = 0) OR id % 11 = 0")[0]; got != "0" {
				t.Errorf("deleted rows after compaction = %s, want 0", got)
			}
			// A second run finds nothing left to compact.
			if again := mustRun(t, v, id, Options{SkipExpiry: true, SkipOrphans: true}); again.Compaction != nil {
				t.Errorf("second run compacted %d files again", again.Compaction.InputFiles)
			}
		})
	}
}

// TestCompactionKeepsDeletesOfFilesNotRewritten pins the reason edp does
// not use iceberg-go v0.7.0's RewriteDataFiles: it drops a position-delete
// file as soon as one of the files it names is rewritten. Here one DELETE
// writes one delete file naming a large file (not rewritten) and small
// ones (rewritten); the large file's deleted rows must stay deleted.
func TestCompactionKeepsDeletesOfFilesNotRewritten(t *testing.T) {
	v := newEnv(t)
	id := lake.Ident{Namespace: "m", Name: "big"}
	v.exec("CREATE NAMESPACE m")
	v.exec("CREATE TABLE m.big (id INT, cat VARCHAR, amount DOUBLE, note VARCHAR)")
	v.exec("INSERT INTO m.big SELECT i, 'big', i * 1.0, repeat('x', 200) || CAST(i AS VARCHAR) FROM range(0, 20000) t(i)")
	for i := range 6 {
		v.exec(fmt.Sprintf("INSERT INTO m.big VALUES (%d, 'small', 1.5, 'n')", 100000+i))
	}
	v.exec("DELETE FROM m.big WHERE id % 1000 = 0 OR id = 100002")
	tbl, err := v.l.LoadTable(v.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var largest int64
	for _, tk := range tasks {
		largest = max(largest, tk.File.FileSizeBytes())
	}
	// The large file is not small, and one delete file is not enough to
	// force a rewrite: only the six small files are compacted.
	if err := v.l.SetProperties(v.ctx, id, map[string]string{
		PropTargetFileSize: fmt.Sprint(largest), PropSmallFileRatio: "0.5", PropDeleteFileThreshold: "5",
	}, nil); err != nil {
		t.Fatal(err)
	}
	snap := v.current(id)
	before := v.results("m.big", snap)
	rep := mustRun(t, v, id, Options{SkipExpiry: true, SkipOrphans: true})
	if rep.Compaction == nil || rep.Compaction.InputFiles != 6 {
		t.Fatalf("compaction = %+v, notes %q; want the 6 small files rewritten", rep.Compaction, rep.Notes)
	}
	if rep.Compaction.DeleteFilesRemoved != 0 || rep.After.DeleteFiles != rep.Before.DeleteFiles {
		t.Errorf("delete files removed = %d, want 0: the delete file still applies to the large file", rep.Compaction.DeleteFilesRemoved)
	}
	sameResults(t, v.results("m.big", snap), before)
	if got := v.rows("SELECT count(*) FROM m.big WHERE id % 1000 = 0 OR id = 100002")[0]; got != "0" {
		t.Errorf("deleted rows after compaction = %s, want 0", got)
	}
}

// TestDryRunChangesNothing plans every step and checks no file, snapshot
// or property changed.
func TestDryRunChangesNothing(t *testing.T) {
	localOnly(t)
	v := newEnv(t)
	id := lake.Ident{Namespace: "m", Name: "t"}
	v.fill("m.t", "")
	if err := v.l.SetProperties(v.ctx, id, map[string]string{PropManifestRewriteMin: "2"}, nil); err != nil {
		t.Fatal(err)
	}
	orphan := writeOld(t, filepath.Join(v.tableDir(id), "data", "stray.parquet"), 2*time.Hour)
	time.Sleep(5 * time.Millisecond) // every snapshot is then older than ExpireOlderThan
	filesBefore := listFiles(t, v.dir)
	snapsBefore, _ := v.l.Snapshots(v.ctx, id)
	rep := mustRun(t, v, id, Options{DryRun: true, ExpireOlderThan: time.Millisecond, RetainLast: 1, OrphansOlderThan: time.Hour})
	if !rep.DryRun || rep.Compaction == nil || rep.Expiry == nil || len(rep.Expiry.Expired) == 0 || rep.Orphans == nil || rep.Manifests == nil {
		t.Fatalf("dry run report = %+v, want every step planned", rep)
	}
	if !slices.Contains(rep.Orphans.Files, "file://"+orphan) && !slices.Contains(rep.Orphans.Files, orphan) {
		t.Errorf("dry run orphans = %q, want %s among them", rep.Orphans.Files, orphan)
	}
	if rep.ReclaimedBytes == 0 {
		t.Errorf("dry run reclaimed bytes = 0, want the expired and orphan files' size")
	}
	if got := listFiles(t, v.dir); !slices.Equal(got, filesBefore) {
		t.Errorf("files changed by a dry run:\n got %q\nwant %q", got, filesBefore)
	}
	if snaps, _ := v.l.Snapshots(v.ctx, id); len(snaps) != len(snapsBefore) {
		t.Errorf("snapshots after dry run = %d, want %d", len(snaps), len(snapsBefore))
	}
}

// TestExpiry keeps the newest snapshots, deletes the files only expired
// ones referenced, and makes time travel to an expired one fail cleanly.
func TestExpiry(t *testing.T) {
	v := newEnv(t)
	id := lake.Ident{Namespace: "m", Name: "t"}
	v.fill("m.t", "")
	mustRun(t, v, id, Options{SkipExpiry: true, SkipOrphans: true}) // compaction leaves the old files to expiry
	snap := v.current(id)
	before := v.results("m.t", snap)
	all, _ := v.l.Snapshots(v.ctx, id)
	old := all[0].ID
	time.Sleep(5 * time.Millisecond)

	rep := mustRun(t, v, id, Options{SkipCompaction: true, SkipOrphans: true, ExpireOlderThan: time.Millisecond, RetainLast: 2})
	if rep.Expiry == nil || rep.Expiry.Kept != 2 || len(rep.Expiry.Expired) != len(all)-2 {
		t.Fatalf("expiry = %+v, want %d expired and 2 kept", rep.Expiry, len(all)-2)
	}
	if rep.Expiry.FilesDeleted == 0 || rep.ReclaimedBytes == 0 {
		t.Errorf("expiry deleted %d files, %d bytes; want the pre-compaction files gone", rep.Expiry.FilesDeleted, rep.ReclaimedBytes)
	}
	snaps, _ := v.l.Snapshots(v.ctx, id)
	if len(snaps) != 2 || snaps[len(snaps)-1].ID != snap {
		t.Errorf("snapshots after expiry = %+v, want the newest 2 ending at %d", snaps, snap)
	}
	sameResults(t, v.results("m.t", snap), before)
	_, err := v.query(fmt.Sprintf("SELECT count(*) FROM m.t FOR VERSION AS OF %d", old))
	if err == nil || !errors.Is(err, lake.ErrInvalid) {
		t.Errorf("time travel to expired snapshot %d: err = %v, want lake.ErrInvalid", old, err)
	}
}

// TestOrphans removes an old unreferenced file, keeps a young one, and
// keeps every referenced file however old.
func TestOrphans(t *testing.T) {
	localOnly(t)
	v := newEnv(t)
	id := lake.Ident{Namespace: "m", Name: "t"}
	v.fill("m.t", " PARTITIONED BY (cat)")
	snap := v.current(id)
	before := v.results("m.t", snap)
	tableDir := v.tableDir(id)
	// Age every file of the table, referenced or not.
	filepath.WalkDir(tableDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			old := time.Now().Add(-2 * time.Hour)
			os.Chtimes(p, old, old)
		}
		return err
	})
	stale := writeOld(t, filepath.Join(tableDir, "data", "stale.parquet"), 2*time.Hour)
	young := writeOld(t, filepath.Join(tableDir, "data", "young.parquet"), 10*time.Minute)

	t.Run("refuses a young minimum age", func(t *testing.T) {
		_, err := Run(v.ctx, v.l, id, Options{SkipCompaction: true, SkipExpiry: true, SkipManifests: true, OrphansOlderThan: 10 * time.Minute}, nil)
		if !errors.Is(err, lake.ErrInvalid) {
			t.Errorf("Run with a 10m orphan age = %v, want lake.ErrInvalid", err)
		}
	})
	rep := mustRun(t, v, id, Options{SkipCompaction: true, SkipExpiry: true, SkipManifests: true, OrphansOlderThan: time.Hour})
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale orphan still there (err %v); report %q", err, rep.Orphans.Files)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("young orphan removed: %v", err)
	}
	for _, f := range rep.Orphans.Files {
		if strings.HasSuffix(f, ".parquet") && !strings.HasSuffix(f, "stale.parquet") {
			t.Errorf("orphan cleanup removed %s, a file the table references", f)
		}
	}
	sameResults(t, v.results("m.t", snap), before)
}

// TestConcurrentWriters lets a writer commit between compaction's write
// and its commit: an INSERT is kept (the rewrite rebases over it); a
// DELETE of a row in a file being rewritten makes compaction plan again,
// and the row stays deleted.
func TestConcurrentWriters(t *testing.T) {
	for _, tc := range []struct{ name, sql, check, want string }{
		{"insert", "INSERT INTO m.t VALUES (1000, 'c1', 1.5, 'late')", "SELECT count(*) FROM m.t WHERE id = 1000", "1"},
		{"delete", "DELETE FROM m.t WHERE id = 1", "SELECT count(*) FROM m.t WHERE id = 1", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			id := lake.Ident{Namespace: "m", Name: "t"}
			v.fill("m.t", "")
			want := v.rows("SELECT count(*) FROM m.t")[0]
			fired := false
			rep, err := Run(v.ctx, v.l, id, Options{SkipExpiry: true, SkipOrphans: true, beforeCommit: func() {
				if !fired {
					fired = true
					v.exec(tc.sql)
				}
			}}, nil)
			if err != nil {
				t.Fatalf("Run with a concurrent %s = %v, want success after re-planning", tc.name, err)
			}
			if got := v.rows(tc.check)[0]; got != tc.want {
				t.Errorf("%s after compaction = %s, want %s", tc.check, got, tc.want)
			}
			var n int
			fmt.Sscan(want, &n)
			if tc.name == "insert" {
				n++
			} else {
				n--
			}
			if got := v.rows("SELECT count(*) FROM m.t")[0]; got != fmt.Sprint(n) {
				t.Errorf("rows after compaction = %s, want %d", got, n)
			}
			if tc.name == "delete" && rep.Compaction.Attempts != 2 {
				t.Errorf("compaction attempts = %d, want 2 (the first lost to the DELETE)", rep.Compaction.Attempts)
			}
		})
	}
}

// TestSchedulerOneJobPerTable checks the per-table exclusion and a
// scheduling pass.
func TestSchedulerOneJobPerTable(t *testing.T) {
	v := newEnv(t)
	id := lake.Ident{Namespace: "m", Name: "t"}
	v.fill("m.t", "")
	v.exec("CREATE TABLE m.off (id INT)")
	v.exec("INSERT INTO m.off VALUES (1)")
	for range 6 {
		v.exec("INSERT INTO m.off VALUES (2)")
	}
	if err := v.l.SetProperties(v.ctx, lake.Ident{Namespace: "m", Name: "off"}, map[string]string{PropEnabled: "false"}, nil); err != nil {
		t.Fatal(err)
	}
	m := jobs.New(jobs.Options{})
	s := NewScheduler(v.l, m, SchedulerOptions{})

	reader := auth.WithPrincipal(context.Background(), auth.Principal{Name: "r", Roles: []string{auth.RoleReader}})
	if _, err := s.RunNow(reader, id, true); !errors.Is(err, policy.ErrDenied) {
		t.Errorf("RunNow by a reader = %v, want policy.ErrDenied", err)
	}
	if !s.acquire(id) {
		t.Fatal("acquire on an idle table failed")
	}
	if _, err := s.RunNow(v.ctx, id, false); !errors.Is(err, ErrBusy) {
		t.Errorf("RunNow while maintenance runs = %v, want ErrBusy", err)
	}
	s.release(id)

	started, err := s.Pass(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 {
		t.Fatalf("pass started %d jobs, want 1 (m.off is disabled)", len(started))
	}
	j, err := m.Wait(v.ctx, started[0].ID)
	if err != nil || j.State != jobs.StateSucceeded {
		t.Fatalf("job = %+v, %v; want succeeded", j, err)
	}
	rep, ok := j.Result.(*Report)
	if !ok || rep.Compaction == nil || rep.Table != "m.t" {
		t.Fatalf("job result = %#v, want a compaction report of m.t", j.Result)
	}
	// Compacted, orphans just cleaned: nothing is due.
	if again, err := s.Pass(v.ctx); err != nil || len(again) != 0 {
		t.Errorf("second pass = %d jobs, %v; want none", len(again), err)
	}
	j, err = s.RunNow(v.ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	if j, _ = m.Wait(v.ctx, j.ID); j.State != jobs.StateSucceeded || !j.Result.(*Report).DryRun {
		t.Errorf("dry RunNow = %+v, want a succeeded dry run", j)
	}
}

// TestPolicyFor reads defaults and properties.
func TestPolicyFor(t *testing.T) {
	def, err := PolicyFor(nil)
	if err != nil || !def.Enabled || def.TargetFileSize != 512<<20 || def.MinInputFiles != 5 || def.MaxSnapshotAge != 5*24*time.Hour || def.MinSnapshotsToKeep != 1 || def.OrphanMinAge != 72*time.Hour {
		t.Errorf("PolicyFor(nil) = %+v, %v; want the defaults", def, err)
	}
	for _, tc := range []struct {
		props map[string]string
		ok    bool
		check func(Policy) bool
	}{
		{map[string]string{"write.target-file-size-bytes": "1000"}, true, func(p Policy) bool { return p.TargetFileSize == 1000 }},
		{map[string]string{"write.target-file-size-bytes": "1000", PropTargetFileSize: "2000"}, true, func(p Policy) bool { return p.TargetFileSize == 2000 }},
		{map[string]string{PropMaxSnapshotAgeMs: "60000", PropMinSnapshotsToKeep: "3"}, true, func(p Policy) bool { return p.MaxSnapshotAge == time.Minute && p.MinSnapshotsToKeep == 3 }},
		{map[string]string{PropEnabled: "false", PropGCEnabled: "false"}, true, func(p Policy) bool { return !p.Enabled && !p.GCEnabled }},
		{map[string]string{PropOrphanMinAge: "30m"}, false, nil},
		{map[string]string{PropSmallFileRatio: "1.5"}, false, nil},
		{map[string]string{PropMinInputFiles: "x"}, false, nil},
	} {
		p, err := PolicyFor(tc.props)
		if (err == nil) != tc.ok || (tc.ok && !tc.check(p)) {
			t.Errorf("PolicyFor(%v) = %+v, %v; ok want %v", tc.props, p, err, tc.ok)
		}
		if err != nil && !errors.Is(err, lake.ErrInvalid) {
			t.Errorf("PolicyFor(%v) error %v does not wrap lake.ErrInvalid", tc.props, err)
		}
	}
}

// TestOrphansOnObjectStore removes an unreferenced object from a table's
// directory in an S3 warehouse and keeps every referenced one. (Objects
// cannot be aged, so the minimum age is waived.)
func TestOrphansOnObjectStore(t *testing.T) {
	st := laketest.NewS3(t)
	v := newEnvOn(t, st)
	id := lake.Ident{Namespace: "m", Name: "t"}
	v.fill("m.t", " PARTITIONED BY (cat)")
	snap := v.current(id)
	before := v.results("m.t", snap)
	tbl, err := v.l.LoadTable(v.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "stray")
	if err := os.WriteFile(local, []byte("not referenced"), 0o644); err != nil {
		t.Fatal(err)
	}
	stray := tbl.Location() + "/data/stray.parquet"
	if err := objstore.NewStore(st.Storage.Props, objstore.Encryption{}).Upload(v.ctx, local, stray); err != nil {
		t.Fatal(err)
	}
	filesBefore, err := v.l.ListFiles(v.ctx, tbl.Location())
	if err != nil {
		t.Fatal(err)
	}
	rep := mustRun(t, v, id, Options{SkipCompaction: true, SkipExpiry: true, SkipManifests: true,
		OrphansOlderThan: time.Nanosecond, AllowYoungOrphans: true})
	if rep.Orphans == nil || !slices.Equal(rep.Orphans.Files, []string{stray}) {
		t.Fatalf("orphans = %+v, want exactly %s", rep.Orphans, stray)
	}
	filesAfter, err := v.l.ListFiles(v.ctx, tbl.Location())
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(filesBefore), func(f string) bool { return f == stray })
	slices.Sort(want)
	slices.Sort(filesAfter)
	if !slices.Equal(filesAfter, want) {
		t.Errorf("files after orphan cleanup:\n got %q\nwant %q", filesAfter, want)
	}
	sameResults(t, v.results("m.t", snap), before)
}

// localOnly skips tests that age files by setting their modification
// times, which objects in a store do not allow.
func localOnly(t *testing.T) {
	t.Helper()
	if laketest.Remote() {
		t.Skip("ages files by setting modification times; objects in a store have none to set")
	}
}

func writeOld(t *testing.T, p string, age time.Duration) string {
	t.Helper()
	if err := os.WriteFile(p, []byte("not referenced"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-age)
	if err := os.Chtimes(p, ts, ts); err != nil {
		t.Fatal(err)
	}
	return p
}

// listFiles lists the files under dir with their sizes, the catalog's
// SQLite files aside (reads may touch them).
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			out = append(out, fmt.Sprintf("%s %d", p, info.Size()))
		}
		return err
	})
	return out
}

// TestOrphansOfRenamedTable pins a data-loss bug: a table renamed away
// kept its directory <ns>.db/<name>, a new table of the old name was given
// the same directory, and the new table's orphan cleanup deleted every
// file of the renamed one. New tables now get a directory of their own,
// and cleanup refuses a directory another table uses.
func TestOrphansOfRenamedTable(t *testing.T) {
	localOnly(t)
	v := newEnv(t)
	v.exec("CREATE SCHEMA IF NOT EXISTS m")
	v.exec("CREATE TABLE m.a (id BIGINT)")
	v.exec("INSERT INTO m.a SELECT range FROM range(100)")
	v.exec("ALTER TABLE m.a RENAME TO b")
	v.exec("CREATE TABLE m.a (id BIGINT)")
	v.exec("INSERT INTO m.a VALUES (1)")
	a, b := lake.Ident{Namespace: "m", Name: "a"}, lake.Ident{Namespace: "m", Name: "b"}
	if v.tableDir(a) == v.tableDir(b) {
		t.Fatalf("new m.a got the renamed table's directory %s", v.tableDir(a))
	}
	for _, id := range []lake.Ident{a, b} {
		filepath.WalkDir(filepath.Dir(v.tableDir(id)), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				old := time.Now().Add(-2 * time.Hour)
				os.Chtimes(p, old, old)
			}
			return err
		})
	}
	mustRun(t, v, a, Options{SkipCompaction: true, SkipExpiry: true, SkipManifests: true, OrphansOlderThan: time.Hour})
	if got := v.rows("SELECT count(*) FROM m.b"); len(got) != 1 || got[0] != "100" {
		t.Errorf("m.b after m.a's orphan cleanup = %v, want 100 rows", got)
	}
	// A table whose directory another table uses is left alone.
	shared, err := v.l.SharedLocation(v.ctx, a, "file://"+v.tableDir(b))
	if err != nil || shared != "m.b" {
		t.Errorf("SharedLocation(m.a, m.b's directory) = %q, %v, want m.b", shared, err)
	}
}
