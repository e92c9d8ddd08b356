package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/edp-data/edp/internal/filecache"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/resilience"
)

// Errors callers match with errors.Is. They wrap iceberg-go's so either works.
var (
	ErrNoSuchTable     = catalog.ErrNoSuchTable
	ErrNoSuchNamespace = catalog.ErrNoSuchNamespace
	ErrTableExists     = catalog.ErrTableAlreadyExists
	ErrNamespaceExists = catalog.ErrNamespaceAlreadyExists
	ErrNamespaceInUse  = catalog.ErrNamespaceNotEmpty
	ErrInvalid         = errors.New("invalid argument")
)

// SummaryJob is the snapshot-summary property naming the job that made a
// commit; SummaryPrincipal names who ran it.
const (
	SummaryJob       = "edp.job"
	SummaryPrincipal = "edp.principal"
)

// reservedNamespaces are DuckDB's own schemas; an edp namespace with one of
// these names would shadow or be shadowed by them in SQL.
var reservedNamespaces = map[string]bool{
	"main": true, "temp": true, "system": true, "information_schema": true, "pg_catalog": true,
}

// Options configure Open.
type Options struct {
	// CatalogURI is sqlite://PATH (the embedded default) or
	// postgres://USER@HOST/DB (see metadb.Open).
	CatalogURI string
	// Warehouse holds the table files: an absolute local directory (or a
	// file:// URI of one), or an object-store URI s3://BUCKET/PREFIX
	// configured by Storage.
	Warehouse string
	// LocalDir is local space for a remote warehouse: writes are staged
	// in LocalDir/stage before upload, reads are cached in LocalDir/cache,
	// and temporary files go to LocalDir/tmp. It defaults to the local
	// warehouse's parent directory and is required for a remote one.
	LocalDir string
	// Storage configures a remote warehouse; it is ignored for a local one.
	Storage Storage
	Authz   policy.Authorizer
	Logger  *slog.Logger
	// OnCommit, if set, is called once for every change to a table that
	// policy allowed, committed or not, on the committing goroutine.
	OnCommit func(context.Context, CommitEvent)
	// Tracer receives a span per commit and per policy decision; nil
	// means no tracing.
	Tracer trace.TracerProvider
}

// Storage configures an object-store warehouse.
type Storage struct {
	// Props are iceberg-go's FileIO properties (objstore.S3Props):
	// endpoint, region, addressing and credentials.
	Props iceberg.Properties
	// Encryption is asked for on every data and delete file uploaded.
	Encryption objstore.Encryption
	// CacheBytes bounds the local read cache; zero means DefaultCacheBytes.
	CacheBytes int64
	// Registerer receives the file cache's and the store's metrics.
	Registerer prometheus.Registerer
	// BreakerOpenFor is how long object-store calls fail fast once the
	// store keeps failing; zero means resilience.DefaultOpenFor.
	BreakerOpenFor time.Duration
}

// DefaultCacheBytes bounds the read cache of a remote warehouse unless
// configured otherwise.
const DefaultCacheBytes = 10 << 30

// Lake is an open catalog plus warehouse.
type Lake struct {
	db               *metadb.DB
	cat              *sqlcat.Catalog
	warehouse        string // the local directory; "" for a remote warehouse
	whURI            string // the warehouse as a URI, without a trailing slash
	localDir         string
	store            *objstore.Store    // nil for a local warehouse
	cache            *filecache.Cache   // nil for a local warehouse
	s3               *resilience.Caller // object-store calls; nil for a local warehouse
	stage            string             // this Lake's staging directory (remote)
	stageLock        *os.File           // held while the staging directory is in use
	cacheLock        *os.File           // holds the shared cache directory (remote)
	privateCache     string             // a cache of this Lake's own, removed on Close
	privateLock      *os.File
	storeProps       iceberg.Properties // FileIO properties of a remote warehouse, with its HTTP client
	unregisterClient func()
	ioProps          iceberg.Properties // the FileIO properties of the warehouse
	authz            policy.Authorizer
	log              *slog.Logger
	onCommit         func(context.Context, CommitEvent)
	tracer           trace.Tracer
	// Test seams, set only by export_test.go: beforeSwap runs between a
	// REST commit's staging and its catalog swap; commitTx commits a
	// catalog transaction (tx.Commit when nil).
	beforeSwap func()
	commitFn   func(*sql.Tx) error
}

// Open opens (creating if needed) the catalog and the warehouse directory.
func Open(ctx context.Context, opts Options) (*Lake, error) {
	if opts.Authz == nil {
		opts.Authz = policy.Roles{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tracer := noop.NewTracerProvider().Tracer("")
	if opts.Tracer != nil {
		tracer = opts.Tracer.Tracer("github.com/edp-data/edp/internal/lake")
		opts.Authz = tracedAuthz{inner: opts.Authz, tracer: tracer}
	}
	l := &Lake{authz: opts.Authz, log: opts.Logger, onCommit: opts.OnCommit, tracer: tracer}
	if err := l.openWarehouse(opts); err != nil {
		return nil, err
	}
	db, err := metadb.Open(ctx, opts.CatalogURI)
	if errors.Is(err, metadb.ErrInvalid) {
		l.closeStorage()
		return nil, fmt.Errorf("%w: catalog: %w", ErrInvalid, err)
	}
	if err != nil {
		l.closeStorage()
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	dialect := sqlcat.SQLite
	if db.Dialect == metadb.Postgres {
		dialect = sqlcat.Postgres
	}
	// iceberg-go's SQL catalog runs every change in a transaction and
	// commits a table with UPDATE … WHERE metadata_location = <the one it
	// read>: on both engines a writer that lost the race updates no row
	// and gets table.ErrCommitFailed, which IsConflict recognises.
	props := iceberg.Properties{"warehouse": l.whURI}
	if l.store != nil {
		maps.Copy(props, l.storeProps)
	}
	cat, err := sqlcat.NewCatalog("edp", db.DB, dialect, props)
	// iceberg-go creates its tables with CREATE TABLE IF NOT EXISTS, which
	// on PostgreSQL can still fail when several processes start on a fresh
	// database at once (the loser sees "already exists" or a duplicate key
	// in pg_type). The tables exist then; opening again succeeds.
	for attempt := 0; err != nil && attempt < 5 && creationRace(err); attempt++ {
		time.Sleep(time.Duration(20*(attempt+1)) * time.Millisecond)
		cat, err = sqlcat.NewCatalog("edp", db.DB, dialect, props)
	}
	if err != nil {
		db.Close()
		l.closeStorage()
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	l.db, l.cat, l.ioProps = db, cat, props
	return l, nil
}

// creationRace reports PostgreSQL's errors for two sessions creating the
// same table at once.
func creationRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "already exists") || strings.Contains(msg, "duplicate key") ||
		strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "SQLSTATE 42P07") || strings.Contains(msg, "SQLSTATE 42710")
}

// Close releases the catalog database and the file cache.
func (l *Lake) Close() error {
	err := l.db.Close()
	l.closeStorage()
	return err
}

// Warehouse returns the absolute warehouse directory of a local warehouse,
// or "" for a remote one (see WarehouseURI).
func (l *Lake) Warehouse() string { return l.warehouse }

// Catalog exposes the underlying Iceberg catalog for components that speak
// Iceberg directly (the REST catalog server, maintenance).
func (l *Lake) Catalog() catalog.Catalog { return l.cat }

// DB is the metadata database, shared by edp's own tables.
func (l *Lake) DB() *sql.DB { return l.db.DB }

// MetaDB is DB with its engine, for components that keep their own tables
// in it (accounts, audit log) and so need migrations and placeholders
// that suit the engine.
func (l *Lake) MetaDB() *metadb.DB { return l.db }

// Authorize asks the policy whether the principal in ctx may act on res.
func (l *Lake) Authorize(ctx context.Context, action policy.Action, res policy.Resource) error {
	return l.authz.Authorize(ctx, action, res)
}

// Ident names a table: namespace and table name.
type Ident struct {
	Namespace string
	Name      string
}

func (id Ident) String() string { return id.Namespace + "." + id.Name }

func (id Ident) iceberg() table.Identifier { return table.Identifier{id.Namespace, id.Name} }

func (id Ident) resource() policy.Resource {
	return policy.Resource{Namespace: id.Namespace, Table: id.Name}
}

// ParseIdent parses "namespace.table".
func ParseIdent(s string) (Ident, error) {
	ns, name, ok := strings.Cut(s, ".")
	if !ok || ns == "" || name == "" || strings.Contains(name, ".") {
		return Ident{}, fmt.Errorf("%w: table name %q must be namespace.table", ErrInvalid, s)
	}
	return Ident{Namespace: ns, Name: name}, nil
}

func validName(kind, s string) error {
	if s == "" || strings.ContainsAny(s, "./\\\x00") {
		return fmt.Errorf("%w: %s name %q must be non-empty and contain no '.', '/', '\\'", ErrInvalid, kind, s)
	}
	return nil
}

// checkProperties refuses properties that place files: a namespace or table
// location, or Iceberg's write.*.path settings. edp decides where files go,
// inside the warehouse; letting SQL choose would let it write, and with
// PURGE delete, anywhere the server can.
func checkProperties(props map[string]string) error {
	for k, v := range props {
		lk := strings.ToLower(k)
		if lk == "location" || strings.Contains(lk, "path") || strings.Contains(lk, "location") {
			return fmt.Errorf("%w: property %q is not allowed: edp places table files inside the warehouse", ErrInvalid, k)
		}
		// iceberg-go merges table properties into the FileIO's: these would
		// point the server's storage client (and its credentials) elsewhere.
		if ioProperty(lk) {
			return fmt.Errorf("%w: property %q is not allowed: storage access is the server's configuration", ErrInvalid, k)
		}
		if lk == "write.parquet.compression-codec" && !slices.Contains([]string{"zstd", "snappy", "gzip", "lz4", "lz4_raw", "brotli", "uncompressed"}, strings.ToLower(v)) {
			return fmt.Errorf("%w: property %s = %q: use zstd, snappy, gzip, lz4, brotli or uncompressed", ErrInvalid, k, v)
		}
	}
	return nil
}

// ioProperty reports a property name that configures a FileIO.
func ioProperty(k string) bool {
	for _, p := range []string{"s3.", "client.", "adls.", "gcs.", "hadoop.", "io-impl", "py-io-impl", "token", "credential", "warehouse", "edp.http"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// insideWarehouse reports whether a location (a URI or a local path) lies
// in the warehouse.
func (l *Lake) insideWarehouse(loc string) bool {
	w, p := parseLocation(l.whURI), parseLocation(loc)
	return w.root == p.root && !p.dots && p.path != w.path && nested(w.path, p.path)
}

// CreateNamespace creates ns with properties.
func (l *Lake) CreateNamespace(ctx context.Context, ns string, props map[string]string, ifNotExists bool) error {
	if err := validName("namespace", ns); err != nil {
		return err
	}
	if reservedNamespaces[strings.ToLower(ns)] {
		return fmt.Errorf("%w: namespace name %q is reserved", ErrInvalid, ns)
	}
	if err := checkProperties(props); err != nil {
		return err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, policy.Resource{Namespace: ns}); err != nil {
		return err
	}
	err := l.cat.CreateNamespace(ctx, table.Identifier{ns}, props)
	if ifNotExists && errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// ListNamespaces returns all namespaces, sorted.
func (l *Lake) ListNamespaces(ctx context.Context) ([]string, error) {
	if err := l.authz.Authorize(ctx, policy.Read, policy.Resource{}); err != nil {
		return nil, err
	}
	ids, err := l.cat.ListNamespaces(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, strings.Join(id, "."))
	}
	slices.Sort(out)
	return out, nil
}

// NamespaceProperties returns the properties of ns.
func (l *Lake) NamespaceProperties(ctx context.Context, ns string) (map[string]string, error) {
	if err := l.authz.Authorize(ctx, policy.Read, policy.Resource{Namespace: ns}); err != nil {
		return nil, err
	}
	props, err := l.cat.LoadNamespaceProperties(ctx, table.Identifier{ns})
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	return props, nil
}

// DropNamespace drops ns. With cascade, its tables are dropped (and purged)
// first; without, a non-empty namespace is refused.
func (l *Lake) DropNamespace(ctx context.Context, ns string, ifExists, cascade bool) error {
	if err := l.authz.Authorize(ctx, policy.Admin, policy.Resource{Namespace: ns}); err != nil {
		return err
	}
	if cascade {
		tables, err := l.ListTables(ctx, ns)
		if err != nil && !(ifExists && errors.Is(err, catalog.ErrNoSuchNamespace)) {
			return err
		}
		for _, id := range tables {
			if err := l.DropTable(ctx, id, true, false); err != nil {
				return err
			}
		}
	}
	err := l.cat.DropNamespace(ctx, table.Identifier{ns})
	if ifExists && errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drop namespace %s: %w", ns, err)
	}
	return nil
}

// ListTables returns the tables of ns ("" for all namespaces), sorted.
func (l *Lake) ListTables(ctx context.Context, ns string) ([]Ident, error) {
	if err := l.authz.Authorize(ctx, policy.Read, policy.Resource{Namespace: ns}); err != nil {
		return nil, err
	}
	namespaces := []string{ns}
	if ns == "" {
		var err error
		if namespaces, err = l.ListNamespaces(ctx); err != nil {
			return nil, err
		}
	}
	var out []Ident
	for _, n := range namespaces {
		for id, err := range l.cat.ListTables(ctx, table.Identifier{n}) {
			if err != nil {
				return nil, fmt.Errorf("list tables in %s: %w", n, err)
			}
			out = append(out, Ident{Namespace: n, Name: id[len(id)-1]})
		}
	}
	sortIdents(out)
	return out, nil
}

// CreateTable creates a table. Columns of edp tables are optional: the
// Parquet files DuckDB writes mark every column optional, and iceberg-go
// refuses such files for required fields.
func (l *Lake) CreateTable(ctx context.Context, id Ident, schema *iceberg.Schema, spec *iceberg.PartitionSpec, props map[string]string) (*table.Table, error) {
	if err := validName("namespace", id.Namespace); err != nil {
		return nil, err
	}
	if err := validName("table", id.Name); err != nil {
		return nil, err
	}
	if err := checkProperties(props); err != nil {
		return nil, err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, err
	}
	p := iceberg.Properties{
		// Position deletes keep UPDATE/DELETE/MERGE cheap; v2 because DuckDB
		// cannot read v3 deletion vectors.
		"write.delete.mode":    "merge-on-read",
		"write.update.mode":    "merge-on-read",
		"write.merge.mode":     "merge-on-read",
		"format-version":       "2",
		"write.format.default": "parquet",
		// Merge small manifests on append (Iceberg Java's default): without
		// it every commit adds a manifest and planning slows with history.
		"commit.manifest-merge.enabled": "true",
	}
	for k, v := range props {
		p[k] = v
	}
	loc, err := l.newTableLocation(id)
	if err != nil {
		return nil, err
	}
	opts := []catalog.CreateTableOpt{catalog.WithProperties(p), catalog.WithLocation(loc)}
	if spec != nil {
		opts = append(opts, catalog.WithPartitionSpec(spec))
	}
	start := time.Now()
	tbl, err := l.cat.CreateTable(ctx, id.iceberg(), schema, opts...)
	if err != nil {
		err = fmt.Errorf("create table %s: %w", id, err)
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: OpCreate}, start, tbl, err)
	if err != nil {
		return nil, err
	}
	return tbl, nil
}

// LoadTable loads the current metadata of a table for reading.
func (l *Lake) LoadTable(ctx context.Context, id Ident) (*table.Table, error) {
	if err := l.authz.Authorize(ctx, policy.Read, id.resource()); err != nil {
		return nil, err
	}
	return l.load(ctx, id)
}

func (l *Lake) load(ctx context.Context, id Ident) (*table.Table, error) {
	tbl, err := l.cat.LoadTable(ctx, id.iceberg())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	return tbl, nil
}

// TableExists reports whether id names a table.
func (l *Lake) TableExists(ctx context.Context, id Ident) (bool, error) {
	if err := l.authz.Authorize(ctx, policy.Read, id.resource()); err != nil {
		return false, err
	}
	return l.cat.CheckTableExists(ctx, id.iceberg())
}

// DropTable removes a table from the catalog; with purge its files too.
func (l *Lake) DropTable(ctx context.Context, id Ident, purge, ifExists bool) error {
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return err
	}
	start := time.Now()
	var err error
	if purge {
		var tbl *table.Table
		if tbl, err = l.cat.LoadTable(ctx, id.iceberg()); err == nil {
			if err = l.cat.DropTable(ctx, id.iceberg()); err == nil {
				// The catalog entry is gone, so the table is dropped even if
				// some files linger; report them rather than fail the drop.
				// Files are removed only inside the warehouse.
				other, serr := l.SharedLocation(ctx, id, tbl.Location())
				if loc := tbl.Location(); !l.insideWarehouse(loc) {
					l.log.Warn("dropped table; its files are outside the warehouse and were kept", "table", id.String(), "location", loc)
				} else if serr != nil || other != "" {
					l.log.Warn("dropped table; its directory is shared with another table, so its files were kept", "table", id.String(), "other", other, "err", serr)
				} else {
					// PurgeFiles deletes every file the metadata names, data
					// or not; TableFS keeps it inside the table's directory.
					own := table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(),
						func(ctx context.Context) (iceio.IO, error) { return l.TableFS(ctx, tbl) }, nil)
					if perr := own.PurgeFiles(ctx); perr != nil {
						l.log.Warn("dropped table but could not purge all files", "table", id.String(), "err", perr)
					}
					if rerr := l.removeDir(ctx, loc); rerr != nil {
						l.log.Warn("dropped table but could not remove its directory", "table", id.String(), "err", rerr)
					}
				}
			}
		}
	} else {
		err = l.cat.DropTable(ctx, id.iceberg())
	}
	if ifExists && errors.Is(err, catalog.ErrNoSuchTable) {
		return nil
	}
	if err != nil {
		err = fmt.Errorf("drop table %s: %w", id, err)
	}
	l.emit(ctx, CommitEvent{Table: id, Operation: OpDrop}, start, nil, err)
	return err
}

// RenameTable renames (and possibly moves between namespaces) a table.
func (l *Lake) RenameTable(ctx context.Context, from, to Ident) error {
	if err := l.authz.Authorize(ctx, policy.Admin, from.resource()); err != nil {
		return err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, to.resource()); err != nil {
		return err
	}
	if err := validName("table", to.Name); err != nil {
		return err
	}
	start := time.Now()
	tbl, err := l.cat.RenameTable(ctx, from.iceberg(), to.iceberg())
	if err != nil {
		err = fmt.Errorf("rename table %s to %s: %w", from, to, err)
	}
	l.emit(ctx, CommitEvent{Table: from, To: to, Operation: OpRename}, start, tbl, err)
	return err
}

// localPath turns a file:// location (or a plain path) into a local path.
func localPath(loc string) string {
	if u, err := url.Parse(loc); err == nil && u.Scheme == "file" {
		return u.Path
	}
	return loc
}

// LocalPath is localPath for other packages: the local file behind an
// Iceberg file location in a local warehouse.
func LocalPath(loc string) string { return localPath(loc) }
