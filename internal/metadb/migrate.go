package metadb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
)

// Migration is one versioned step of a component's schema. Versions start
// at 1 and grow by one; a released migration is never edited, only followed
// by a new one.
type Migration struct {
	Version int
	Name    string
	// SQLite and Postgres are the step's statements for each engine, run in
	// order inside the step's transaction.
	SQLite, Postgres []string
	// Func, if set, runs after the statements in the same transaction, for
	// what plain SQL cannot say on some engine (SQLite has no ADD COLUMN IF
	// NOT EXISTS, for one).
	Func func(ctx context.Context, q Querier, d Dialect) error
}

// Querier runs statements inside a migration's transaction. Its statements
// take the engine's own placeholders (see DB.Rebind).
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrationsLock is the PostgreSQL advisory lock key that serializes
// migrations across processes ("edpmigr" in ASCII).
const migrationsLock int64 = 0x6564706d69677200

var migrationsTable = map[Dialect]string{
	SQLite: `CREATE TABLE IF NOT EXISTS edp_schema_migrations (
		component TEXT NOT NULL,
		version INTEGER NOT NULL,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
		PRIMARY KEY (component, version))`,
	Postgres: `CREATE TABLE IF NOT EXISTS edp_schema_migrations (
		component TEXT NOT NULL,
		version INTEGER NOT NULL,
		name TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`,
}

// Migrate brings component's tables up to the last of ms, recording every
// applied version in edp_schema_migrations. Each migration runs in its own
// transaction, which also records it, so a failed one leaves neither its
// changes nor its record behind and the next start tries it again.
//
// Two processes may migrate at once: each step holds a lock across
// processes while it reads the recorded version and applies the next one
// (pg_advisory_xact_lock on PostgreSQL, BEGIN IMMEDIATE's write lock on
// SQLite), so every migration is applied exactly once. A database whose
// recorded version is above the last of ms was migrated by a newer edp;
// Migrate refuses it with ErrNewerSchema rather than run old code on a
// schema it does not know.
func (d *DB) Migrate(ctx context.Context, component string, ms []Migration) error {
	if err := checkMigrations(component, ms); err != nil {
		return err
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].Version
	}
	for {
		done, err := d.migrateStep(ctx, component, ms, known)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func checkMigrations(component string, ms []Migration) error {
	if component == "" {
		return fmt.Errorf("%w: migrations need a component name", ErrInvalid)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("%w: %s migration %q has version %d, want %d (versions start at 1 and grow by one)", ErrInvalid, component, m.Name, m.Version, i+1)
		}
		if m.Name == "" {
			return fmt.Errorf("%w: %s migration %d has no name", ErrInvalid, component, m.Version)
		}
	}
	return nil
}

// migrateStep applies, in one locked transaction, the migration after the
// recorded version, and reports true when there was none left to apply.
func (d *DB) migrateStep(ctx context.Context, component string, ms []Migration, known int) (done bool, err error) {
	c, err := d.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", component, err)
	}
	defer c.Close()
	begin := "BEGIN IMMEDIATE"
	if d.Dialect == Postgres {
		begin = "BEGIN"
	}
	if _, err := c.ExecContext(ctx, begin); err != nil {
		return false, fmt.Errorf("migrate %s: begin: %w", component, err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if _, rerr := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			// The connection's state is unknown: have database/sql
			// discard it rather than hand it to someone else.
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	if d.Dialect == Postgres {
		// Held until the transaction ends. Taken before the CREATE TABLE:
		// concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL.
		if _, err := c.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationsLock); err != nil {
			return false, fmt.Errorf("migrate %s: lock: %w", component, err)
		}
	}
	if _, err := c.ExecContext(ctx, migrationsTable[d.Dialect]); err != nil {
		return false, fmt.Errorf("migrate %s: create edp_schema_migrations: %w", component, err)
	}
	var current int
	if err := c.QueryRowContext(ctx, d.Rebind(`SELECT COALESCE(MAX(version), 0) FROM edp_schema_migrations WHERE component = ?`), component).Scan(&current); err != nil {
		return false, fmt.Errorf("migrate %s: read version: %w", component, err)
	}
	if current > known {
		return false, fmt.Errorf("%w: %s schema is at version %d, this edp knows versions up to %d", ErrNewerSchema, component, current, known)
	}
	if current == known {
		_, err := c.ExecContext(ctx, "COMMIT")
		committed = err == nil
		if err != nil {
			return false, fmt.Errorf("migrate %s: commit: %w", component, err)
		}
		return true, nil
	}
	m := ms[current]
	stmts := m.SQLite
	if d.Dialect == Postgres {
		stmts = m.Postgres
	}
	for _, s := range stmts {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return false, fmt.Errorf("migrate %s to version %d (%s): %w", component, m.Version, m.Name, err)
		}
	}
	if m.Func != nil {
		if err := m.Func(ctx, c, d.Dialect); err != nil {
			return false, fmt.Errorf("migrate %s to version %d (%s): %w", component, m.Version, m.Name, err)
		}
	}
	if _, err := c.ExecContext(ctx, d.Rebind(`INSERT INTO edp_schema_migrations (component, version, name) VALUES (?, ?, ?)`),
		component, m.Version, m.Name); err != nil {
		return false, fmt.Errorf("migrate %s to version %d: record: %w", component, m.Version, err)
	}
	// A cancelled caller must not interrupt the commit halfway.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return false, fmt.Errorf("migrate %s to version %d: commit: %w", component, m.Version, err)
	}
	committed = true
	return false, nil
}

// SchemaVersion returns the last migration version recorded for component,
// 0 if none (or if no migration has ever run on the database).
func (d *DB) SchemaVersion(ctx context.Context, component string) (int, error) {
	var v int
	err := d.QueryRowContext(ctx, d.Rebind(`SELECT COALESCE(MAX(version), 0) FROM edp_schema_migrations WHERE component = ?`), component).Scan(&v)
	if err != nil {
		if exists, terr := d.tableExists(ctx, "edp_schema_migrations"); terr == nil && !exists {
			return 0, nil
		}
		return 0, fmt.Errorf("schema version of %s: %w", component, err)
	}
	return v, nil
}

func (d *DB) tableExists(ctx context.Context, name string) (bool, error) {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if d.Dialect == Postgres {
		q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?`
	}
	var n int
	if err := d.QueryRowContext(ctx, d.Rebind(q), name).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// HasColumn reports whether table has column, on either engine. Through
// q it works inside a transaction too.
func HasColumn(ctx context.Context, q Querier, d Dialect, table, column string) (bool, error) {
	query := `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	if d == Postgres {
		query = `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, table, column).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}
