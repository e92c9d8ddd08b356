package backup_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/backup"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

const password = "correct horse battery staple"

var restoreTime = time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)

func adminCtx() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: "tester", Roles: []string{auth.RoleAdmin}})
}

// platform is what edp serve keeps open on a data directory: the lake, a
// query engine over it, the account store and the signed audit log.
type platform struct {
	lake   *lake.Lake
	engine *query.Engine
	users  *auth.Store
	audit  *audit.Log
}

// openPlatform opens the data directory dir the way server.Open does; with
// engine false it skips DuckDB. The audit log signs every third entry so
// that backups hold checkpoints.
func openPlatform(t *testing.T, dir, catalog string, key ed25519.PrivateKey, engine bool) *platform {
	t.Helper()
	ctx := adminCtx()
	l, err := lake.Open(ctx, lake.Options{CatalogURI: "sqlite://" + catalog, Warehouse: filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{lake: l}
	if p.users, err = auth.OpenStore(ctx, l.MetaDB()); err != nil {
		t.Fatal(err)
	}
	if p.audit, err = audit.Open(ctx, l.MetaDB(), audit.Options{Signer: key, CheckpointEvery: 3}); err != nil {
		t.Fatal(err)
	}
	if engine {
		if p.engine, err = query.New(ctx, l, query.Options{TempDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *platform) close(t *testing.T) {
	t.Helper()
	if p.engine != nil {
		if err := p.engine.Close(); err != nil {
			t.Error(err)
		}
	}
	if err := errors.Join(p.audit.Close(), p.lake.Close()); err != nil {
		t.Error(err)
	}
}

func (p *platform) exec(t *testing.T, stmt string) {
	t.Helper()
	res, err := p.engine.Exec(adminCtx(), stmt)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	res.Close()
}

// scalars runs a query and returns the cells of its single row as text.
func (p *platform) scalars(t *testing.T, q string) []string {
	t.Helper()
	res, err := p.engine.Exec(adminCtx(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer res.Close()
	row, err := res.Rows.Next()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = fmt.Sprint(v)
	}
	if _, err := res.Rows.Next(); err != io.EOF {
		t.Fatalf("%s: more than one row (%v)", q, err)
	}
	return out
}

func (p *platform) appendAudit(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := p.audit.Append(adminCtx(), audit.Record{Principal: "tester", Action: "query", Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
}

func (p *platform) userNames(t *testing.T) []string {
	t.Helper()
	us, err := p.users.ListUsers(adminCtx())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupWhileWriting backs up a lake while another goroutine keeps
// committing inserts, creating tables and appending audit entries. Each
// backup must be a state the lake really passed through: it passes the
// integrity check, opens as a lake whose every table loads and references
// only files that exist, holds whole inserts only (10 rows each, never
// part of one), holds every insert acknowledged before the backup began,
// and carries an audit log that verifies with the signing key.
func TestBackupWhileWriting(t *testing.T) {
	ctx := adminCtx()
	dir := t.TempDir()
	pub, priv := newKey(t)
	p := openPlatform(t, dir, filepath.Join(dir, "catalog.db"), priv, true)
	defer p.close(t)
	p.exec(t, "CREATE SCHEMA s")
	p.exec(t, "CREATE TABLE s.t (g BIGINT, i BIGINT)")
	p.exec(t, "INSERT INTO s.t SELECT 0, r FROM range(10) t(r)")
	for _, u := range []string{"alice", "bob"} {
		if err := p.users.AddUser(ctx, u, password, []string{auth.RoleWriter}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := p.users.CreateAPIKey(ctx, "alice", 0); err != nil {
		t.Fatal(err)
	}
	p.appendAudit(t, 4)

	// started counts inserts begun, done inserts acknowledged, appended
	// audit entries acknowledged (besides the 4 above).
	var started, done, appended atomic.Int64
	stop := make(chan struct{})
	werr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				werr <- nil
				return
			default:
			}
			started.Store(n)
			stmts := []string{fmt.Sprintf("INSERT INTO s.t SELECT %d, r FROM range(10) t(r)", n)}
			if n%4 == 0 {
				stmts = append(stmts, fmt.Sprintf("CREATE TABLE s.t%d AS SELECT %d AS g", n, n))
			}
			for i, st := range stmts {
				res, err := p.engine.Exec(ctx, st)
				if err != nil {
					werr <- fmt.Errorf("%s: %w", st, err)
					return
				}
				res.Close()
				if i == 0 {
					done.Store(n)
				}
			}
			if _, err := p.audit.Append(ctx, audit.Record{Principal: "writer", Action: "commit", Resource: "s.t",
				Outcome: audit.OutcomeSuccess, Details: map[string]any{"n": n}}); err != nil {
				werr <- fmt.Errorf("audit append %d: %w", n, err)
				return
			}
			appended.Add(1)
		}
	}()
	waitFor := func(min int64) {
		for done.Load() < min {
			select {
			case err := <-werr:
				t.Fatalf("writer stopped: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}

	bkDir := t.TempDir()
	var lastRows int64 = -1
	var next int64 = 2
	for k := 1; k <= 3; k++ {
		waitFor(next)
		before, auditBefore := done.Load(), appended.Load()
		dest := filepath.Join(bkDir, fmt.Sprintf("meta-%d.db", k))
		m, err := backup.Backup(ctx, "sqlite://"+filepath.Join(dir, "catalog.db"), dest, backup.Options{Version: "test"})
		if err != nil {
			t.Fatalf("backup %d: %v", k, err)
		}
		after := started.Load()
		next = after + 2

		rows := checkBackup(t, m, dest, dir, pub, before, after, 4+auditBefore)
		if rows <= lastRows {
			t.Errorf("backup %d has %d rows in s.t, backup %d had %d: the writer's commits in between are missing", k, rows, k-1, lastRows)
		}
		lastRows = rows
	}
	close(stop)
	wg.Wait()
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// checkBackup checks one backup taken while inserts 1..before were
// acknowledged and no insert after `after` had started, and returns the
// rows of s.t in it.
func checkBackup(t *testing.T, m *backup.Manifest, dest, dataDir string, pub ed25519.PublicKey, before, after, auditAtLeast int64) int64 {
	t.Helper()
	ctx := adminCtx()
	if got := fileSHA(t, dest); m.SHA256 != got {
		t.Errorf("Manifest.SHA256 = %s, want %s (the file's)", m.SHA256, got)
	}
	if st, err := os.Stat(dest); err != nil || st.Size() != m.Size || st.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want size %d, mode 0600", st, err, m.Size)
	}
	if m.Version != "test" || m.File != dest || m.Source != filepath.Join(dataDir, "catalog.db") {
		t.Errorf("Manifest = %+v, want version test, file %s, source %s", m, dest, filepath.Join(dataDir, "catalog.db"))
	}
	if n, ok := m.Rows("edp_users"); !ok || n != 2 {
		t.Errorf("Manifest edp_users = %d, %v, want 2", n, ok)
	}
	if n, ok := m.Rows("edp_api_keys"); !ok || n != 1 {
		t.Errorf("Manifest edp_api_keys = %d, %v, want 1", n, ok)
	}
	if n, _ := m.Rows("edp_audit_log"); n != m.AuditHead || n < auditAtLeast {
		t.Errorf("Manifest edp_audit_log rows %d, audit head %d; want equal and at least %d", n, m.AuditHead, auditAtLeast)
	}

	// Open a copy, as a restore would, with the same warehouse.
	copyDir := t.TempDir()
	cat := filepath.Join(copyDir, "catalog.db")
	copyFile(t, dest, cat)
	b := openPlatform(t, dataDir, cat, nil, true)
	defer b.close(t)

	ids, err := b.lake.ListTables(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := m.Rows("iceberg_tables"); int64(len(ids)) != n {
		t.Errorf("backup lists %d tables, Manifest counts %d", len(ids), n)
	}
	for _, id := range ids {
		tbl, err := b.lake.LoadTable(ctx, id)
		if err != nil {
			t.Errorf("table %s in the backup does not load: %v", id, err)
			continue
		}
		if _, err := os.Stat(lake.LocalPath(tbl.MetadataLocation())); err != nil {
			t.Errorf("table %s: metadata file: %v", id, err)
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			t.Errorf("table %s: plan: %v", id, err)
			continue
		}
		for _, task := range tasks {
			if _, err := os.Stat(lake.LocalPath(task.File.FilePath())); err != nil {
				t.Errorf("table %s references a missing data file: %v", id, err)
			}
		}
		if id.Name != "t" {
			// s.tN is CREATE TABLE … AS SELECT N: two commits, the empty
			// table and then its one row, so a backup between them holds
			// the empty table — a state every reader could see too.
			n := strings.TrimPrefix(id.Name, "t")
			got := b.scalars(t, "SELECT count(*), coalesce(min(g), "+n+"), coalesce(max(g), "+n+") FROM "+id.String())
			if (got[0] != "0" && got[0] != "1") || got[1] != n || got[2] != n {
				t.Errorf("SELECT count(*), min(g), max(g) FROM %s = %v, want 0 or 1 rows of g = %s", id, got, n)
			}
		}
	}

	// Whole inserts only: every g has exactly 10 rows.
	got := b.scalars(t, "SELECT count(*), count(DISTINCT g), count(*) FILTER (WHERE g > 0), "+
		"(SELECT count(*) FROM (SELECT g FROM s.t GROUP BY g HAVING count(*) <> 10)) FROM s.t")
	var rows, groups, written, partial int64
	fmt.Sscan(strings.Join(got, " "), &rows, &groups, &written, &partial)
	if partial != 0 || rows != groups*10 {
		t.Errorf("s.t in the backup: %d rows in %d inserts, %d inserts partial; want whole inserts of 10 rows", rows, groups, partial)
	}
	if inserts := written / 10; inserts < before || inserts > after {
		t.Errorf("s.t in the backup holds %d inserts, want between %d (acknowledged before the backup) and %d (begun by its end)", inserts, before, after)
	}

	if names := b.userNames(t); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("users in the backup = %v, want [alice bob]", names)
	}
	rep, err := b.audit.Verify(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Head != m.AuditHead || rep.Checkpoints == 0 {
		t.Errorf("audit log in the backup: %+v (problem %v), want intact to entry %d with checkpoints", rep, rep.Problem, m.AuditHead)
	}
	return rows
}

// metaDB makes a small edp metadata database at dir/catalog.db without
// DuckDB: the catalog with a namespace, one user and a few audit entries.
func metaDB(t *testing.T, dir string) string {
	t.Helper()
	cat := filepath.Join(dir, "catalog.db")
	_, priv := newKey(t)
	p := openPlatform(t, dir, cat, priv, false)
	if err := p.lake.CreateNamespace(adminCtx(), "s", nil, false); err != nil {
		t.Fatal(err)
	}
	if err := p.users.AddUser(adminCtx(), "alice", password, []string{auth.RoleReader}); err != nil {
		t.Fatal(err)
	}
	p.appendAudit(t, 50)
	p.close(t)
	return cat
}

// TestRestore restores a backup over a data directory that moved on:
// tables, users and audit entries made after the backup are gone, those
// before it are back, the audit log verifies and accepts new entries, and
// the replaced database is kept beside it. Before that, a restore is
// refused while another connection holds the write lock or merely has the
// database open, as an idle edp serve does.
func TestRestore(t *testing.T) {
	ctx := adminCtx()
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog.db")
	pub, priv := newKey(t)
	p := openPlatform(t, dir, cat, priv, true)
	p.exec(t, "CREATE SCHEMA s")
	p.exec(t, "CREATE TABLE s.t AS SELECT r AS id FROM range(3) t(r)")
	p.exec(t, "CREATE TABLE s.gone AS SELECT 1 AS x")
	if err := p.users.AddUser(ctx, "alice", password, []string{auth.RoleWriter}); err != nil {
		t.Fatal(err)
	}
	p.appendAudit(t, 4)
	bk := filepath.Join(t.TempDir(), "meta.db")
	bm, err := backup.Backup(ctx, cat, bk, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The data directory moves on.
	p.exec(t, "INSERT INTO s.t VALUES (100)")
	p.exec(t, "CREATE TABLE s.after AS SELECT 1 AS x")
	if err := p.lake.DropTable(ctx, lake.Ident{Namespace: "s", Name: "gone"}, true, false); err != nil {
		t.Fatal(err)
	}
	if err := p.users.AddUser(ctx, "carol", password, []string{auth.RoleReader}); err != nil {
		t.Fatal(err)
	}
	p.appendAudit(t, 5)

	t.Run("refused while open", func(t *testing.T) {
		// p is open and idle, as a server between requests: it holds no
		// write lock, yet a restore under it would be lost.
		_, err := backup.Restore(ctx, bk, cat, backup.RestoreOptions{})
		assertInUse(t, err, dir)
	})
	p.close(t)
	before := fileSHA(t, cat)

	t.Run("refused while writing", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+cat+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		_, err = backup.Restore(ctx, bk, cat, backup.RestoreOptions{})
		assertInUse(t, err, dir)
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	})
	if got := fileSHA(t, cat); got != before {
		t.Fatalf("a refused restore changed catalog.db")
	}

	m, err := backup.Restore(ctx, bk, "sqlite://"+cat, backup.RestoreOptions{Version: "test", Clock: func() time.Time { return restoreTime }})
	if err != nil {
		t.Fatal(err)
	}
	wantAside := cat + ".before-restore-20261126T010203Z"
	if m.MovedAside != wantAside || m.File != cat || m.Source != bk || m.SHA256 != bm.SHA256 || m.AuditHead != bm.AuditHead {
		t.Errorf("Restore manifest = %+v, want moved aside to %s, file %s, source %s, sha %s, audit head %d",
			m, wantAside, cat, bk, bm.SHA256, bm.AuditHead)
	}
	for _, want := range []string{"orphans", fmt.Sprintf("after entry %d are gone", bm.AuditHead), "revoked", "s.gone cannot be read"} {
		if !slices.ContainsFunc(m.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("Restore warnings %q do not mention %q", m.Warnings, want)
		}
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(cat + suffix); err == nil {
			t.Errorf("%s left beside the restored database", cat+suffix)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the data directory", e.Name())
		}
	}

	r := openPlatform(t, dir, cat, priv, true)
	defer r.close(t)
	if got := r.scalars(t, "SELECT count(*), max(id) FROM s.t"); got[0] != "3" || got[1] != "2" {
		t.Errorf("restored s.t: count, max = %v, want 3, 2", got)
	}
	if ok, err := r.lake.TableExists(ctx, lake.Ident{Namespace: "s", Name: "after"}); err != nil || ok {
		t.Errorf("s.after exists after restoring a backup taken before it: %v, %v", ok, err)
	}
	if names := r.userNames(t); !slices.Equal(names, []string{"alice"}) {
		t.Errorf("users after restore = %v, want [alice]", names)
	}
	rep, err := r.audit.Verify(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Head != bm.AuditHead {
		t.Errorf("restored audit log: %+v (problem %v), want intact to entry %d", rep, rep.Problem, bm.AuditHead)
	}
	r.appendAudit(t, 4)
	if rep, err := r.audit.Verify(ctx, pub); err != nil || !rep.OK() || rep.Head != bm.AuditHead+4 {
		t.Errorf("audit log after appending to the restored one: %+v, %v; want intact to entry %d", rep, err, bm.AuditHead+4)
	}

	// The replaced database is whole, so the restore can be undone.
	old, err := sql.Open("sqlite", "file:"+wantAside+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	var carol int
	if err := old.QueryRowContext(ctx, "SELECT count(*) FROM edp_users WHERE name = 'carol'").Scan(&carol); err != nil || carol != 1 {
		t.Errorf("moved-aside database: carol rows = %d, %v; want 1", carol, err)
	}
	var ok string
	if err := old.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("moved-aside database integrity_check = %q, %v", ok, err)
	}
}

func assertInUse(t *testing.T, err error, dir string) {
	t.Helper()
	if !errors.Is(err, backup.ErrInUse) || !strings.Contains(err.Error(), "stop edp serve first") {
		t.Fatalf("Restore on a database in use = %v, want ErrInUse", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "catalog.db.before-restore-*"))
	if len(matches) > 0 {
		t.Errorf("a refused restore moved the database aside: %v", matches)
	}
}

// TestRestoreRefusesBadBackups feeds Restore files that are not intact edp
// metadata databases: each is refused and the target is left as it was.
func TestRestoreRefusesBadBackups(t *testing.T) {
	ctx := adminCtx()
	src := t.TempDir()
	good := filepath.Join(t.TempDir(), "good.db")
	if _, err := backup.Backup(ctx, metaDB(t, src), good, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	files := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Break the b-tree page header of a page in the middle, past the file
	// header, so the file still opens as SQLite.
	corrupt := slices.Clone(whole)
	pageSize := int(binary.BigEndian.Uint16(whole[16:18]))
	off := max(len(whole)/pageSize/2, 1) * pageSize
	for i := off; i < off+8; i++ {
		corrupt[i] = 0xff
	}
	tests := []struct {
		name, path, want string
	}{
		{"truncated", write("truncated.db", whole[:len(whole)/2]), ""},
		{"corrupted", write("corrupted.db", corrupt), ""},
		{"not sqlite", write("notes.txt", []byte("this is not a database\n")), ""},
		{"empty", write("empty.db", nil), "edp_audit_log"},
		{"other sqlite database", other, "iceberg_tables"},
	}
	target := t.TempDir()
	cat := metaDB(t, target)
	before := fileSHA(t, cat)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backup.Restore(ctx, tt.path, cat, backup.RestoreOptions{})
			if !errors.Is(err, backup.ErrNotMetadata) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore(%s) = %v, want ErrNotMetadata naming %q", tt.name, err, tt.want)
			}
			if got := fileSHA(t, cat); got != before {
				t.Errorf("Restore(%s) changed the target database", tt.name)
			}
			entries, _ := os.ReadDir(target)
			for _, e := range entries {
				if e.Name() != "catalog.db" && e.Name() != "warehouse" {
					t.Errorf("Restore(%s) left %s in the data directory", tt.name, e.Name())
				}
			}
		})
	}
}

// TestBackupDestination pins how Backup treats its destination: an
// existing file is kept unless Force, the database itself is refused, and
// a name with quotes and URI characters is written where it says.
func TestBackupDestination(t *testing.T) {
	ctx := adminCtx()
	cat := metaDB(t, t.TempDir())
	dir := t.TempDir()

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(ctx, cat, existing, backup.Options{}); !errors.Is(err, backup.ErrExists) {
		t.Errorf("Backup to an existing file = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("a refused backup changed the existing file to %d bytes", len(b))
	}
	m, err := backup.Backup(ctx, cat, existing, backup.Options{Force: true})
	if err != nil {
		t.Fatalf("Backup with Force: %v", err)
	}
	if got := fileSHA(t, existing); got != m.SHA256 {
		t.Errorf("forced backup: file sha %s, manifest %s", got, m.SHA256)
	}

	odd := filepath.Join(dir, "it's #1 %20?", "o'k.db")
	if err := os.MkdirAll(filepath.Dir(odd), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err = backup.Backup(ctx, cat, odd, backup.Options{})
	if err != nil {
		t.Fatalf("Backup to %q: %v", odd, err)
	}
	if n, _ := m.Rows("edp_audit_log"); n != 50 || m.AuditHead != 50 {
		t.Errorf("backup to %q: audit rows %d, head %d, want 50", odd, n, m.AuditHead)
	}
	if entries, _ := os.ReadDir(filepath.Dir(odd)); len(entries) != 1 {
		t.Errorf("directory of %q holds %d entries, want only the backup", odd, len(entries))
	}

	for _, dest := range []string{cat, cat + "-wal"} {
		if _, err := backup.Backup(ctx, cat, dest, backup.Options{Force: true}); !errors.Is(err, backup.ErrInvalid) {
			t.Errorf("Backup(%s, %s, Force) = %v, want ErrInvalid", cat, dest, err)
		}
	}
	if _, err := backup.Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db"), backup.Options{}); err == nil {
		t.Errorf("Backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Errorf("Backup of a missing database created it")
	}
}

// TestPostgresRefused: a PostgreSQL catalog is pg_dump's job, and the
// error must not repeat the URI, which may hold a password.
func TestPostgresRefused(t *testing.T) {
	ctx := adminCtx()
	uri := "postgres://edp:s3cret@db.example.com/edp"
	tests := []struct {
		name string
		run  func() error
	}{
		{"backup", func() error {
			_, err := backup.Backup(ctx, uri, filepath.Join(t.TempDir(), "b.db"), backup.Options{})
			return err
		}},
		{"restore", func() error {
			_, err := backup.Restore(ctx, filepath.Join(t.TempDir(), "b.db"), uri, backup.RestoreOptions{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, backup.ErrUnsupported) || !strings.Contains(err.Error(), "pg_dump") ||
				!strings.Contains(err.Error(), "pg_restore") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s of %s = %v, want ErrUnsupported naming pg_dump and pg_restore, without the password", tt.name, uri, err)
			}
		})
	}
}
