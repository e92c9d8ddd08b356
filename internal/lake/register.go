package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/policy"
)

// maxMetadataSize bounds the metadata file Register reads: real table
// metadata is kilobytes to a few megabytes, and a path naming some large
// unrelated file must not be read whole into memory.
const maxMetadataSize = 256 << 20

// Register adds to the catalog, under id, an Iceberg table that already
// exists as files: metadataLocation is its metadata JSON (a local path or a
// file:// URI). Nothing is written to the warehouse; the table's history,
// snapshots and files are those the metadata names, so time travel reaches
// as far back as before. It is how a table dropped from the catalog without
// PURGE is put back.
//
// The metadata file and the table location it names must both lie inside
// the warehouse, as every file edp reads or writes does; the file must be
// Iceberg table metadata of format version 1 or 2 (DuckDB, which reads
// edp's tables, cannot read v3 deletion vectors). The namespace must exist,
// and an existing table or view of that name is refused with
// ErrTableExists.
//
// iceberg-go v0.7.0's SQL catalog has no RegisterTable, so the catalog row
// is inserted here the way its CreateTable does, in one transaction that
// checks the namespace and the name first.
func (l *Lake) Register(ctx context.Context, id Ident, metadataLocation string) (*table.Table, error) {
	if err := validName("namespace", id.Namespace); err != nil {
		return nil, err
	}
	if err := validName("table", id.Name); err != nil {
		return nil, err
	}
	path, err := l.metadataPath(metadataLocation)
	if err != nil {
		return nil, err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, err
	}
	start := time.Now()
	tbl, err := l.register(ctx, id, path)
	if err != nil {
		err = fmt.Errorf("register table %s: %w", id, err)
		tbl = nil
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: OpRegister}, start, tbl, err)
	return tbl, err
}

// metadataPath turns a metadata location into an absolute local path, or
// for a remote warehouse a URI, inside the warehouse, or says why it
// cannot be one.
func (l *Lake) metadataPath(loc string) (string, error) {
	if l.store != nil {
		if p := parseLocation(loc); !strings.Contains(loc, "://") || p.root == "file://" {
			return "", fmt.Errorf("%w: metadata location %q: the warehouse is %s, so give the metadata file's URI there", ErrInvalid, loc, l.whURI)
		}
		if !l.insideWarehouse(loc) || strings.Contains(loc, "/../") {
			return "", fmt.Errorf("%w: metadata location %s is outside the warehouse %s", ErrInvalid, loc, l.whURI)
		}
		return loc, nil
	}
	p := loc
	if u, err := url.Parse(loc); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		// len > 1 keeps a Windows drive letter from reading as a scheme.
		if u.Scheme != "file" {
			return "", fmt.Errorf("%w: metadata location %q: the warehouse is local, so only local files (a path or file://) can be registered", ErrInvalid, loc)
		}
		p = u.Path
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: metadata location %q must be an absolute path", ErrInvalid, loc)
	}
	p = filepath.Clean(p)
	if !l.insideWarehouse(p) {
		return "", fmt.Errorf("%w: metadata location %s is outside the warehouse %s", ErrInvalid, p, l.warehouse)
	}
	return p, nil
}

func (l *Lake) register(ctx context.Context, id Ident, path string) (*table.Table, error) {
	meta, err := l.readMetadata(ctx, path)
	if err != nil {
		return nil, err
	}
	if v := meta.Version(); v != 1 && v != 2 {
		return nil, fmt.Errorf("%w: %s is Iceberg format version %d; edp reads versions 1 and 2", ErrInvalid, path, v)
	}
	// The table's location decides where later commits write; a table
	// whose metadata points outside the warehouse would let them write
	// (and a purge delete) there.
	if !l.insideWarehouse(meta.Location()) {
		return nil, fmt.Errorf("%w: %s names table location %q, outside the warehouse %s", ErrInvalid, path, meta.Location(), l.whURI)
	}
	// Metadata from elsewhere gets the checks a commit gets: nothing in it
	// may point later commits, a purge or an expiry outside the table.
	if err := checkProperties(meta.Properties()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := l.checkNewStatistics(id, nil, meta); err != nil {
		return nil, err
	}
	if err := l.checkNewSnapshots(ctx, id, nil, meta); err != nil {
		return nil, err
	}
	// Two catalog entries over one directory would let one table's orphan
	// cleanup or purge delete the other's files. (A missing namespace is
	// the clearer error, so it is reported first.)
	if ok, err := l.cat.CheckNamespaceExists(ctx, table.Identifier{id.Namespace}); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchNamespace, id.Namespace)
	}
	if other, err := l.SharedLocation(ctx, id, meta.Location()); err != nil {
		return nil, err
	} else if other != "" {
		return nil, fmt.Errorf("%w: %s names table location %q, which is table %s's (or overlaps it); drop that table from the catalog first", ErrInvalid, path, meta.Location(), other)
	}
	location := path
	if l.store == nil {
		location = (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
	}
	if err := l.insertTableRow(ctx, id, location); err != nil {
		return nil, err
	}
	return l.load(ctx, id)
}

// readMetadata reads and parses the metadata JSON at path (a URI in a
// remote warehouse).
func (l *Lake) readMetadata(ctx context.Context, path string) (table.Metadata, error) {
	var (
		r    io.ReadCloser
		size int64
	)
	if l.store != nil {
		var err error
		if r, size, err = (resilientSource{store: l.store, caller: l.s3}).Open(ctx, path); err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalid, path)
		}
		r, size = f, st.Size()
	}
	defer r.Close()
	if size > maxMetadataSize {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than Iceberg table metadata can sensibly be", ErrInvalid, path, size)
	}
	meta, err := table.ParseMetadata(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not valid Iceberg table metadata: %w", ErrInvalid, path, err)
	}
	return meta, nil
}

// insertTableRow adds the catalog row for id in one transaction that first
// checks, as iceberg-go's CreateTable does, that the namespace exists and
// that no table or view has the name. The primary key still guards a race
// with a concurrent create: the insert then fails, and the name is checked
// again to report ErrTableExists.
func (l *Lake) insertTableRow(ctx context.Context, id Ident, metadataLocation string) error {
	return l.inCatalogTx(ctx, func(tx *sql.Tx) error {
		return l.insertRowTx(ctx, tx, id, metadataLocation, TableKind)
	})
}

// Kinds of catalog rows: iceberg-go's SQL catalog keeps tables and views
// in one table, told apart by iceberg_type.
const (
	TableKind = sqlcat.TableType
	ViewKind  = sqlcat.ViewType
)

// insertRowTx is insertTableRow inside the caller's transaction, for a
// table or a view (kind).
func (l *Lake) insertRowTx(ctx context.Context, tx *sql.Tx, id Ident, metadataLocation, kind string) error {
	hasType, err := l.hasIcebergType(ctx)
	if err != nil {
		return err
	}
	if !hasType && kind != TableKind {
		return fmt.Errorf("%w: this catalog predates views; open it with a newer edp first", ErrInvalid)
	}
	catName := l.cat.Name()
	err = func() error {
		var n int
		if err := tx.QueryRowContext(ctx, l.db.Rebind(`SELECT
			(SELECT count(*) FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?) +
			(SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?)`),
			catName, id.Namespace, catName, id.Namespace).Scan(&n); err != nil {
			return fmt.Errorf("check namespace: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchNamespace, id.Namespace)
		}
		if err := l.checkNameFree(ctx, tx, id); err != nil {
			return err
		}
		q := `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type) VALUES (?, ?, ?, ?, ?)`
		args := []any{catName, id.Namespace, id.Name, metadataLocation, kind}
		if !hasType {
			q = `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location) VALUES (?, ?, ?, ?)`
			args = args[:4]
		}
		if _, err := tx.ExecContext(ctx, l.db.Rebind(q), args...); err != nil {
			return fmt.Errorf("insert catalog row: %w", err)
		}
		return nil
	}()
	if err != nil && !errors.Is(err, ErrTableExists) && !errors.Is(err, ErrNoSuchNamespace) {
		if exists, cerr := l.nameTaken(ctx, id); cerr == nil && exists {
			return fmt.Errorf("%w: %s", ErrTableExists, id)
		}
	}
	return err
}

// nameTaken reports whether a table or view already has id's name.
func (l *Lake) nameTaken(ctx context.Context, id Ident) (bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, l.db.Rebind(`SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?`),
		l.cat.Name(), id.Namespace, id.Name).Scan(&n)
	return n > 0, err
}

func (l *Lake) checkNameFree(ctx context.Context, tx *sql.Tx, id Ident) error {
	var n int
	if err := tx.QueryRowContext(ctx, l.db.Rebind(`SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?`),
		l.cat.Name(), id.Namespace, id.Name).Scan(&n); err != nil {
		return fmt.Errorf("check name: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s", ErrTableExists, id)
	}
	return nil
}

// inCatalogTx runs fn in a transaction of the metadata database, committing
// when fn succeeds.
func (l *Lake) inCatalogTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	commit := (*sql.Tx).Commit
	if l.commitFn != nil {
		commit = l.commitFn
	}
	if err := commit(tx); err != nil {
		return fmt.Errorf("%w: %w", errCommitUnknown, err)
	}
	return nil
}

// hasIcebergType reports whether iceberg_tables has the iceberg_type
// column: catalogs made by iceberg-go before it existed (its "V0" schema)
// lack it, and iceberg-go keeps working on them without adding it.
func (l *Lake) hasIcebergType(ctx context.Context) (bool, error) {
	has, err := metadb.HasColumn(ctx, l.db, l.db.Dialect, "iceberg_tables", "iceberg_type")
	if err != nil {
		return false, fmt.Errorf("inspect catalog: %w", err)
	}
	return has, nil
}
