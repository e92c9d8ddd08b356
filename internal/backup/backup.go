package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors callers match with errors.Is.
var (
	// ErrExists: the backup file is already there and Options.Force is off.
	ErrExists = errors.New("backup file already exists")
	// ErrNotMetadata: a file is not an intact edp metadata database (not
	// SQLite, damaged or truncated, or without edp's tables).
	ErrNotMetadata = errors.New("not an edp metadata database")
	// ErrInUse: another connection, typically a running edp serve, has the
	// database open, so it cannot be replaced.
	ErrInUse = errors.New("the database is in use; stop edp serve first")
	// ErrUnsupported: the catalog is not a SQLite file (PostgreSQL has its
	// own tools).
	ErrUnsupported = errors.New("unsupported catalog")
	// ErrInvalid: the arguments contradict each other, such as a backup
	// file that is the database itself.
	ErrInvalid = errors.New("invalid backup argument")
)

// RequiredTables are the tables every edp metadata database has: the
// Iceberg SQL catalog's two and edp's accounts and audit log. A file
// without all of them is refused as a backup.
var RequiredTables = []string{
	"iceberg_tables", "iceberg_namespace_properties",
	"edp_users", "edp_api_keys", "edp_audit_log",
}

// countedTables are the tables whose rows a Manifest counts when present:
// RequiredTables and the audit log's signed checkpoints.
var countedTables = append(append([]string{}, RequiredTables...), "edp_audit_checkpoints")

// TableCount is the number of rows in one table of a backup.
type TableCount struct {
	Name string
	Rows int64
}

// Manifest describes a backup file, as written by Backup or as installed
// by Restore.
type Manifest struct {
	Version   string    // edp version that made it; empty if not given
	Time      time.Time // when the backup was taken, or restored
	Source    string    // the database read (Backup) or the backup file read (Restore)
	File      string    // the file written (Backup) or the database replaced (Restore)
	Size      int64     // bytes
	SHA256    string    // hex SHA-256 of the backup file
	Tables    []TableCount
	AuditHead int64 // seq of the last audit entry in the backup, 0 if none

	// Restore only.
	MovedAside string   // where the replaced database now is; empty if there was none
	Warnings   []string // what the restore did not bring back, for the operator to read
}

// Rows returns the row count of table name, and whether it is present.
func (m *Manifest) Rows(name string) (int64, bool) {
	for _, t := range m.Tables {
		if t.Name == name {
			return t.Rows, true
		}
	}
	return 0, false
}

// Options configure Backup.
type Options struct {
	// Force replaces an existing backup file.
	Force bool
	// Version is recorded in the Manifest.
	Version string
	// Clock stamps the Manifest; nil means time.Now.
	Clock func() time.Time
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Version is recorded in the Manifest.
	Version string
	// Clock stamps the Manifest and names the moved-aside database; nil
	// means time.Now.
	Clock func() time.Time
}

// Backup writes a consistent copy of the SQLite metadata database dbPath
// (a path or a sqlite:// URI) to dest while other connections, such as a
// running edp serve, may be writing to it. VACUUM INTO reads one snapshot,
// so the copy holds whole commits only, and writes a compact file with no
// WAL beside it. The copy is checked with PRAGMA integrity_check and for
// edp's tables before it is renamed to dest; dest is created with mode
// 0600, since it holds password and API key hashes.
func Backup(ctx context.Context, dbPath, dest string, opts Options) (*Manifest, error) {
	src, err := sqlitePath(dbPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("backup: metadata database: %w", err)
	}
	if dest, err = filepath.Abs(dest); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if isDatabaseFile(src, dest) {
		return nil, fmt.Errorf("%w: the backup file %s is the metadata database itself", ErrInvalid, dest)
	}
	if _, err := os.Lstat(dest); err == nil && !opts.Force {
		return nil, fmt.Errorf("backup to %s: %w (use --force to replace it)", dest, ErrExists)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	taken := clock()

	// VACUUM INTO accepts an existing file if it is empty, so the
	// temporary name is reserved with CreateTemp, which also gives it mode
	// 0600 before a byte is written.
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer removeTemp(tmp)

	if err := vacuumInto(ctx, src, tmp); err != nil {
		return nil, err
	}
	m, err := inspect(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("backup of %s: the copy failed its check: %w", src, err)
	}
	if m.Size, m.SHA256, err = syncAndHash(tmp); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := install(tmp, dest, opts.Force); err != nil {
		return nil, err
	}
	m.Version, m.Time, m.Source, m.File = opts.Version, taken, src, dest
	return m, nil
}

// vacuumInto copies the database at src into the empty file dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	// The busy timeout covers opening a database whose WAL another process
	// is recovering; the copy itself is a read and does not wait for writers.
	db, err := openDB(ctx, src, 10*time.Second)
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO "+quoteLiteral(dst)); err != nil {
		return fmt.Errorf("backup: copy %s: %w", src, err)
	}
	return db.Close()
}

// Restore replaces the SQLite metadata database dbPath (a path or a
// sqlite:// URI) with the backup src. It refuses a src that is not an
// intact edp metadata database, and a dbPath that another connection has
// open. The replaced database is renamed to
// <dbPath>.before-restore-<UTC time> (Manifest.MovedAside), so moving it
// back undoes the restore; the backup is copied next to dbPath, checked,
// and renamed into place.
//
// The restored catalog knows nothing of what happened after the backup:
// data files written since stay in the warehouse unreferenced, audit
// entries since are gone (the restored log ends at Manifest.AuditHead and
// still verifies), and accounts and API keys are as they were.
// Manifest.Warnings says so for the operator.
func Restore(ctx context.Context, src, dbPath string, opts RestoreOptions) (*Manifest, error) {
	target, err := sqlitePath(dbPath)
	if err != nil {
		return nil, err
	}
	if src, err = filepath.Abs(src); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if isDatabaseFile(target, src) {
		return nil, fmt.Errorf("%w: the backup file %s is the metadata database itself", ErrInvalid, src)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	mode := fs.FileMode(0o600)
	existing, err := os.Stat(target)
	switch {
	case err == nil:
		mode = existing.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("restore: %w", err)
	}

	// The check runs on the copy that will be installed, not on src, so
	// what was checked is exactly what goes into place.
	tmp, size, sum, err := copyBeside(src, target, mode)
	if err != nil {
		return nil, err
	}
	defer removeTemp(tmp)
	m, err := inspect(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("restore from %s: %w", src, err)
	}
	m.Version, m.Time, m.Source, m.File, m.Size, m.SHA256 = opts.Version, clock(), src, target, size, sum
	if m.Warnings, err = missingMetadata(ctx, tmp); err != nil {
		return nil, fmt.Errorf("restore from %s: %w", src, err)
	}

	if existing != nil {
		unlock, err := lockOut(ctx, target)
		if err != nil {
			return nil, err
		}
		// The lock is held until the new file is in place: no other process
		// can start a write on the old database between the check and the
		// rename.
		defer unlock()
		if m.MovedAside, err = moveAside(target, clock()); err != nil {
			return nil, err
		}
	} else if _, err := os.Lstat(target + "-wal"); err == nil {
		// SQLite would replay this WAL into the restored database.
		return nil, fmt.Errorf("%w: %s-wal exists without its database; move it away first", ErrInvalid, target)
	}
	if err := os.Rename(tmp, target); err != nil {
		if m.MovedAside != "" {
			// Put the old database back rather than leave none, which the
			// next edp start would silently replace with an empty one.
			if rerr := os.Rename(m.MovedAside, target); rerr != nil {
				return nil, fmt.Errorf("restore: install %s: %w; the previous database is at %s (moving it back failed: %v)", target, err, m.MovedAside, rerr)
			}
			return nil, fmt.Errorf("restore: install %s: %w; the previous database was put back", target, err)
		}
		return nil, fmt.Errorf("restore: install %s: %w", target, err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	m.Warnings = append([]string{
		"table data files written after the backup are not referenced by the restored catalog; they stay in the warehouse as orphans until maintenance removes them",
		fmt.Sprintf("audit entries after entry %d are gone; the restored audit log ends there and still verifies", m.AuditHead),
		"users and API keys are as of the backup: ones created since are gone, and ones removed or revoked since are back",
	}, m.Warnings...)
	return m, nil
}

// lockOut makes sure no other connection has the database at path open and
// keeps it that way until unlock is called.
//
// BEGIN EXCLUSIVE alone does not show that: in WAL mode it conflicts only
// with another writer, and an idle edp serve holds no write lock yet would
// go on writing to the replaced file. Every connection to a WAL database
// holds a shared lock on it for as long as it is open, and leaving WAL mode
// needs all of them gone, so PRAGMA journal_mode=DELETE is the check. It
// also checkpoints the WAL into the main file and removes it, which makes
// the database one self-contained file to move aside. BEGIN EXCLUSIVE then
// (outside WAL mode, a lock on the whole file) keeps new connections out.
func lockOut(ctx context.Context, path string) (unlock func(), err error) {
	db, err := openDB(ctx, path, 0)
	if err != nil {
		return nil, inUse(path, fmt.Errorf("restore: open %s: %w", path, err))
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, inUse(path, fmt.Errorf("restore: open %s: %w", path, err))
	}
	fail := func(what string, err error) (func(), error) {
		conn.Close()
		db.Close()
		return nil, inUse(path, fmt.Errorf("restore: %s %s: %w", what, path, err))
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		return fail("lock", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return fail("lock", err)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		return fail("checkpoint", err)
	}
	if !strings.EqualFold(mode, "delete") {
		return fail("checkpoint", fmt.Errorf("journal mode is still %s", mode))
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		return fail("lock", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}

// inUse turns SQLite's "database is locked" into ErrInUse.
func inUse(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY {
		return fmt.Errorf("restore %s: %w", path, ErrInUse)
	}
	return err
}

// moveAside renames the database (and any -wal or -shm file left beside
// it) to <path>.before-restore-<time>, keeping the SQLite suffixes so the
// set can be renamed back as a whole.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".before-restore-" + now.UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("restore: move %s aside: %w", path, err)
	}
	// After the checkpoint these should be gone; a stale WAL left at the
	// old name would be replayed into the restored database.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		err := os.Rename(path+suffix, aside+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return aside, fmt.Errorf("restore: move %s aside: %w", path+suffix, err)
		}
	}
	return aside, nil
}

// inspect checks that path is an intact edp metadata database and returns
// a Manifest with its table row counts and audit head.
func inspect(ctx context.Context, path string) (*Manifest, error) {
	db, err := openDB(ctx, path, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotMetadata, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("%w: integrity check: %w", ErrNotMetadata, err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: integrity check: %w", ErrNotMetadata, err)
		}
		if s != "ok" && len(problems) < 5 {
			problems = append(problems, s)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("%w: integrity check: %w", ErrNotMetadata, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: integrity check failed: %s", ErrNotMetadata, strings.Join(problems, "; "))
	}

	present := map[string]bool{}
	trows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		return nil, fmt.Errorf("%w: list tables: %w", ErrNotMetadata, err)
	}
	for trows.Next() {
		var n string
		if err := trows.Scan(&n); err != nil {
			trows.Close()
			return nil, fmt.Errorf("%w: list tables: %w", ErrNotMetadata, err)
		}
		present[n] = true
	}
	if err := errors.Join(trows.Err(), trows.Close()); err != nil {
		return nil, fmt.Errorf("%w: list tables: %w", ErrNotMetadata, err)
	}
	var missing []string
	for _, n := range RequiredTables {
		if !present[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: table %s missing", ErrNotMetadata, strings.Join(missing, ", "))
	}

	m := &Manifest{}
	for _, n := range countedTables {
		if !present[n] {
			continue
		}
		var c int64
		// n is one of the fixed names above, never input.
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+n+`"`).Scan(&c); err != nil {
			return nil, fmt.Errorf("count %s: %w", n, err)
		}
		m.Tables = append(m.Tables, TableCount{Name: n, Rows: c})
	}
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM edp_audit_log").Scan(&m.AuditHead); err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	return m, db.Close()
}

// missingMetadata names the tables of the catalog at path whose current
// metadata file, in a local warehouse, no longer exists: dropped with
// PURGE or cleaned up after the backup was taken. Such a table is in the
// restored catalog but cannot be read.
func missingMetadata(ctx context.Context, path string) ([]string, error) {
	db, err := openDB(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_namespace, table_name, metadata_location FROM iceberg_tables
		WHERE metadata_location IS NOT NULL ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ns, name, loc string
		if err := rows.Scan(&ns, &name, &loc); err != nil {
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		u, err := url.Parse(loc)
		if err != nil || (u.Scheme != "file" && u.Scheme != "") {
			continue // object stores are not checked
		}
		p := loc
		if u.Scheme == "file" {
			p = u.Path
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, fmt.Sprintf("table %s.%s cannot be read: its metadata file %s was deleted after the backup", ns, name, p))
		}
	}
	return out, rows.Err()
}

// sqlitePath returns the file behind a catalog given as a path or a
// sqlite:// URI, and refuses other catalogs.
func sqlitePath(db string) (string, error) {
	if scheme, rest, ok := strings.Cut(db, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		switch strings.ToLower(scheme) {
		case "sqlite":
			db, _, _ = strings.Cut(rest, "?")
		case "postgres", "postgresql":
			// The URI is not repeated: it may carry a password.
			return "", fmt.Errorf("%w: the catalog is a PostgreSQL database; back it up with pg_dump and restore it with pg_restore", ErrUnsupported)
		default:
			return "", fmt.Errorf("%w: %s:// catalogs cannot be backed up by edp, only SQLite ones", ErrUnsupported, scheme)
		}
	}
	if db == "" {
		return "", fmt.Errorf("%w: no metadata database path", ErrInvalid)
	}
	p, err := filepath.Abs(filepath.FromSlash(db))
	if err != nil {
		return "", fmt.Errorf("metadata database %s: %w", db, err)
	}
	return p, nil
}

// openDB opens an existing SQLite file (never creating one) with the given
// busy timeout.
func openDB(ctx context.Context, path string, busy time.Duration) (*sql.DB, error) {
	db, err := sql.Open("sqlite", fileURI(path)+fmt.Sprintf("?mode=rw&_pragma=busy_timeout(%d)", busy.Milliseconds()))
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// fileURI makes path a SQLite URI filename: the driver hands "file:" names
// to SQLite as URIs, where '?' and '#' end the path and '%' escapes.
func fileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
}

// quoteLiteral quotes s as an SQL string literal. VACUUM INTO takes its
// file name as an expression, so the name must be quoted, not spliced.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// isDatabaseFile reports whether p is the database db or one of its
// journal files, by name or, if both exist, by identity.
func isDatabaseFile(db, p string) bool {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if filepath.Clean(p) == db+suffix {
			return true
		}
	}
	a, errA := os.Stat(db)
	b, errB := os.Stat(p)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

// copyBeside copies src to a new temporary file in target's directory,
// syncs it and returns its name, size and SHA-256.
func copyBeside(src, target string, mode fs.FileMode) (tmp string, size int64, sum string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, "", fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return "", 0, "", fmt.Errorf("restore: %w", err)
	} else if !st.Mode().IsRegular() {
		return "", 0, "", fmt.Errorf("%w: %s is not a regular file", ErrNotMetadata, src)
	}
	out, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".restore-*.tmp")
	if err != nil {
		return "", 0, "", fmt.Errorf("restore: %w", err)
	}
	tmp = out.Name()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Chmod(mode)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeTemp(tmp)
		return "", 0, "", fmt.Errorf("restore: copy %s: %w", src, err)
	}
	return tmp, size, hex.EncodeToString(h.Sum(nil)), nil
}

// syncAndHash fsyncs the file at path and returns its size and SHA-256.
func syncAndHash(path string) (int64, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), f.Close()
}

// install moves the finished temporary file to dest. Without force it uses
// a hard link, which fails if dest exists, so a file created at dest since
// the first check is not replaced either.
func install(tmp, dest string, force bool) error {
	if force {
		if err := os.Rename(tmp, dest); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return syncDir(filepath.Dir(dest))
	}
	err := os.Link(tmp, dest)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("backup to %s: %w (use --force to replace it)", dest, ErrExists)
	case err != nil:
		// Some file systems have no hard links; fall back to check and rename.
		if _, serr := os.Lstat(dest); serr == nil {
			return fmt.Errorf("backup to %s: %w (use --force to replace it)", dest, ErrExists)
		}
		if err := os.Rename(tmp, dest); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return syncDir(filepath.Dir(dest))
}

// syncDir fsyncs a directory so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeTemp removes a temporary database file and any journal SQLite
// left beside it; a missing file is not an error.
func removeTemp(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}
