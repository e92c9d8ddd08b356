package duck

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"
)

// Options configure a DuckDB database.
type Options struct {
	// AllowedDirs are the only directories SQL may read or write; DuckDB's
	// external access is otherwise off.
	AllowedDirs []string
	// TempDir is where DuckDB spills; it is added to AllowedDirs.
	TempDir     string
	MemoryLimit string // e.g. "4GB"; empty keeps DuckDB's default
	Threads     int    // 0 keeps DuckDB's default (all cores)
	// Progress, if set, counts the rows written by WriteData on this
	// database as they pass, for progress reports.
	Progress *atomic.Int64
}

// Open opens an in-memory DuckDB locked down to opts.AllowedDirs: no
// extension can be installed or loaded, no file outside those directories
// can be touched, and the configuration cannot be changed afterwards. This is
// the second wall behind query/'s statement allow-list.
func Open(ctx context.Context, opts Options) (*sql.DB, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	defer conn.Close()
	if err := registerFunctions(conn, opts.Progress); err != nil {
		db.Close()
		return nil, err
	}
	dirs := append([]string(nil), opts.AllowedDirs...)
	var settings []string
	if opts.TempDir != "" {
		if err := os.MkdirAll(opts.TempDir, 0o755); err != nil {
			db.Close()
			return nil, fmt.Errorf("create temp dir: %w", err)
		}
		dirs = append(dirs, opts.TempDir)
		settings = append(settings, "SET temp_directory = "+Quote(opts.TempDir))
	}
	if opts.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+Quote(opts.MemoryLimit))
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	quoted := make([]string, len(dirs))
	for i, d := range dirs {
		quoted[i] = Quote(strings.TrimRight(d, "/") + "/")
	}
	settings = append(settings,
		// Partition transforms and timestamptz rendering are defined in UTC.
		"SET TimeZone = 'UTC'",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allowed_directories = ["+strings.Join(quoted, ", ")+"]",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	)
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("configure duckdb (%s): %w", s, err)
		}
	}
	return db, nil
}

// Quote renders s as a SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ident renders s as a quoted SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
