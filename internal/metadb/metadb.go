package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" for the embedded default
)

// Errors callers match with errors.Is.
var (
	// ErrInvalid is wrapped when a URI cannot name a metadata database.
	ErrInvalid = errors.New("invalid metadata database")
	// ErrNewerSchema is wrapped by Migrate when the database was migrated
	// by a newer edp than this one.
	ErrNewerSchema = errors.New("database was migrated by a newer edp")
)

// Dialect names the engine behind a DB.
type Dialect string

// The engines edp supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open metadata database and the engine it runs on. The embedded
// *sql.DB is shared by every component; statements written with ?
// placeholders go through Rebind first.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// Pool limits for PostgreSQL. Commits from many goroutines, the audit
// writer's pinned connection and the API's reads share one pool; a bound
// keeps several edp processes well inside the server's max_connections
// (100 by default), and idle connections are let go so a quiet process
// holds few.
const (
	pgMaxOpen     = 20
	pgMaxIdle     = 5
	pgMaxIdleTime = 5 * time.Minute
	pgMaxLifetime = time.Hour

	pgConnectTimeout   = 10 * time.Second
	pgStatementTimeout = "60s"
	pgIdleInTxTimeout  = "5min"
)

// Open opens the metadata database named by uri:
//
//   - sqlite://PATH opens (creating it and its directory if needed) a SQLite
//     file in WAL mode with a busy timeout and synchronous=NORMAL;
//   - postgres://… or postgresql://… connects to PostgreSQL with pgx and
//     checks that the server answers.
//
// Errors name the file, or the host and database, but never a password.
func Open(ctx context.Context, uri string) (*DB, error) {
	switch {
	case strings.HasPrefix(uri, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(uri, "sqlite://"))
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		return openPostgres(ctx, uri)
	}
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		scheme = uri
	}
	return nil, fmt.Errorf("%w: unsupported scheme %q: use sqlite://PATH or postgres://USER@HOST/DB", ErrInvalid, scheme)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite:// needs a file path", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create metadata database directory: %w", err)
	}
	// WAL lets readers proceed during a commit; the busy timeout makes
	// concurrent writers (several goroutines or processes committing to the
	// same catalog) wait for the lock instead of failing with SQLITE_BUSY.
	// The pragmas are in the DSN so every pooled connection gets them, in
	// order: the busy timeout first, because switching a new database to
	// WAL takes a lock that several processes opening it at once contend
	// for.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	err = db.PingContext(ctx)
	// A connection's first statements can still find the database busy
	// while another process creates it; that passes.
	for attempt := 1; err != nil && attempt < 5 && strings.Contains(err.Error(), "SQLITE_BUSY"); attempt++ {
		time.Sleep(time.Duration(attempt*50) * time.Millisecond)
		err = db.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite}, nil
}

func openPostgres(ctx context.Context, uri string) (*DB, error) {
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		// pgconn redacts the password in parse errors; scrub anyway, as
		// the URI may be malformed in ways its redaction does not expect.
		return nil, scrub(fmt.Errorf("%w: postgres URI: %w", ErrInvalid, err), uri)
	}
	where := fmt.Sprintf("postgres database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	// Bound every wait on the server unless the URI sets its own: an
	// unreachable host, a statement stuck behind a lock, a transaction a
	// crashed client left open. (Catalog statements take milliseconds.)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	for param, def := range map[string]string{"statement_timeout": pgStatementTimeout, "idle_in_transaction_session_timeout": pgIdleInTxTimeout} {
		if _, set := cfg.RuntimeParams[param]; !set {
			cfg.RuntimeParams[param] = def
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpen)
	db.SetMaxIdleConns(pgMaxIdle)
	db.SetConnMaxIdleTime(pgMaxIdleTime)
	db.SetConnMaxLifetime(pgMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, scrub(fmt.Errorf("connect to %s: %w", where, err), cfg.Password)
	}
	return &DB{DB: db, Dialect: Postgres}, nil
}

// scrubbed is an error whose text has a secret removed; errors.Is and As
// still see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err with every occurrence of secret in its text replaced.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), secret, "xxxxx"), err: err}
}

// Rebind rewrites q's ? placeholders for d's engine: unchanged for SQLite,
// $1, $2, … in order for PostgreSQL. A ? inside a quoted string or
// identifier, or a comment, is left alone.
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres {
		return q
	}
	return rebindDollar(q)
}

func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			// Copy through the closing quote; a doubled quote inside is
			// an escaped one and simply toggles twice.
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+1])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+4])
			i += j + 3
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
