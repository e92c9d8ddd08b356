package catalogcopy

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/objstore"
)

// Errors callers match with errors.Is.
var (
	// ErrInvalid is wrapped when the arguments or the source cannot be
	// copied as they are.
	ErrInvalid = errors.New("invalid catalog copy")
	// ErrNotEmpty is wrapped when the target already holds a namespace, a
	// table, a user, an API key or an audit entry and Options.Force is off.
	ErrNotEmpty = errors.New("target metadata database is not empty")
	// ErrMissingMetadata is wrapped when a table's metadata file cannot be
	// read; nothing has been written to the target then.
	ErrMissingMetadata = errors.New("table metadata file missing or unreadable")
	// ErrVerify is wrapped when the committed copy does not read back as
	// the source: the target holds it, and a rerun needs Options.Force.
	ErrVerify = errors.New("copy did not verify")
)

// Options configure Migrate.
type Options struct {
	// Warehouse is where the source's tables live: an absolute directory
	// or an object-store URI (s3://BUCKET/PREFIX). The target must be used
	// with the same one: the catalog rows point at metadata files by
	// absolute location.
	Warehouse string
	// IOProps configure access to an object-store warehouse (see
	// objstore.S3Props); unused for a local one.
	IOProps iceberg.Properties
	// Force replaces whatever catalog rows, accounts and audit log the
	// target holds (in the same transaction as the copy) instead of
	// refusing a non-empty target.
	Force bool
	// AuditPublicKey is the public half of the key that signed the audit
	// log's checkpoints (keys/audit.pub in the data directory). Both logs
	// are verified with it; nil verifies a log without checkpoints only.
	AuditPublicKey ed25519.PublicKey
	// Clock times the copy; nil means time.Now.
	Clock func() time.Time
}

// Count is how many rows of one kind were copied.
type Count struct {
	Kind  string // "namespaces", "tables", "users", …
	Table string // the SQL table holding them
	Rows  int64
}

// Report says what Migrate copied and checked.
type Report struct {
	Counts []Count
	// Namespaces is the number of distinct namespaces, with or without
	// properties or tables.
	Namespaces int
	// AuditHead is the last audit entry copied; AuditCheckpoints the
	// number of signed checkpoints that verified on the target.
	AuditHead        int64
	AuditCheckpoints int
	// TablesLoaded counts the tables whose metadata loaded through an
	// Iceberg catalog on the target after the copy.
	TablesLoaded int
	// Skipped names tables of the source that Migrate does not know and so
	// did not copy (a newer edp's, or someone else's).
	Skipped  []string
	Duration time.Duration
}

// Rows returns the copied row count of kind, 0 if none.
func (r *Report) Rows(kind string) int64 {
	for _, c := range r.Counts {
		if c.Kind == kind {
			return c.Rows
		}
	}
	return 0
}

// Kinds Report.Counts names, in copy order.
const (
	KindNamespaces       = "namespace properties"
	KindTables           = "tables"
	KindUsers            = "users"
	KindAPIKeys          = "API keys"
	KindAuditEntries     = "audit entries"
	KindAuditCheckpoints = "audit checkpoints"
)

// column kinds, which decide the Go value a column is scanned into: text
// (NULL allowed), 64-bit integer, bytes and boolean. SQLite stores edp's
// booleans as 0/1 and PostgreSQL as BOOLEAN; scanning into sql.NullBool
// reads both and writes whichever the target wants.
type colKind int

const (
	text colKind = iota
	integer
	blob
	boolean
)

type column struct {
	name string
	kind colKind
}

// tableSpec is one SQL table Migrate copies.
type tableSpec struct {
	kind      string
	table     string
	component string // edp_schema_migrations component; "" for the Iceberg catalog
	cols      []column
	orderBy   string
}

// specs are the tables copied, in order. The Iceberg catalog's columns are
// iceberg-go v0.7.0's (catalog/sql: sqlIcebergTable and
// sqlIcebergNamespaceProps); edp's are those of auth's and audit's
// migrations.
var specs = []tableSpec{
	{kind: KindNamespaces, table: "iceberg_namespace_properties", orderBy: "catalog_name, namespace, property_key",
		cols: []column{{"catalog_name", text}, {"namespace", text}, {"property_key", text}, {"property_value", text}}},
	{kind: KindTables, table: "iceberg_tables", orderBy: "catalog_name, table_namespace, table_name",
		cols: []column{{"catalog_name", text}, {"table_namespace", text}, {"table_name", text}, {"iceberg_type", text},
			{"metadata_location", text}, {"previous_metadata_location", text}}},
	{kind: KindUsers, table: "edp_users", component: "auth", orderBy: "name",
		cols: []column{{"name", text}, {"password_hash", text}, {"roles", text}, {"created_at", text},
			{"disabled", boolean}, {"credentials_changed_at", text}}},
	{kind: KindAPIKeys, table: "edp_api_keys", component: "auth", orderBy: "id",
		cols: []column{{"id", text}, {"user_name", text}, {"hash", blob}, {"created_at", text},
			{"expires_at", text}, {"revoked_at", text}}},
	{kind: KindAuditEntries, table: "edp_audit_log", component: "audit", orderBy: "seq",
		cols: []column{{"seq", integer}, {"ts", text}, {"principal", text}, {"action", text}, {"resource", text},
			{"outcome", text}, {"details", text}, {"prev_hash", blob}, {"hash", blob}}},
	{kind: KindAuditCheckpoints, table: "edp_audit_checkpoints", component: "audit", orderBy: "seq",
		cols: []column{{"seq", integer}, {"head_hash", blob}, {"signed_at", text}, {"signature", blob}}},
}

// catalogRow is one iceberg_tables row, kept to check and load its table.
type catalogRow struct {
	catalog, namespace, name string
	icebergType              sql.NullString
	metadataLocation         sql.NullString
}

func (r catalogRow) String() string { return r.namespace + "." + r.name }

// isTable reports whether the row is a table rather than a view; rows made
// before iceberg-go recorded the type are tables.
func (r catalogRow) isTable() bool {
	return !r.icebergType.Valid || r.icebergType.String == sqlcat.TableType
}

// Migrate copies edp's metadata from one database to another: the Iceberg
// catalog's namespaces, namespace properties and table rows (each a pointer
// to a metadata file, which stays where it is), users, API keys, and the
// audit log and its checkpoints byte for byte, so the hash chain and the
// signatures verify on the target with the same key.
//
// In order, it:
//
//  1. verifies the source's audit log and reads the source in one
//     consistent snapshot (writes made after it are not copied: stop edp
//     first);
//  2. checks that every table's metadata file is a readable file inside
//     Options.Warehouse, and fails with ErrMissingMetadata naming every one
//     that is not, before touching the target;
//  3. creates the target's schema through the components' own migrations
//     (the Iceberg catalog's tables, auth's and audit's), so the target's
//     edp_schema_migrations rows are its own, and refuses a source whose
//     schema is at another version;
//  4. refuses a non-empty target with ErrNotEmpty unless Options.Force;
//  5. copies every row in one target transaction;
//  6. checks that the target holds as many rows of each kind as were
//     copied, that its audit log verifies to the same head with the same
//     checkpoints, and that every table loads through an Iceberg catalog
//     on the target; a failure there wraps ErrVerify.
//
// from and to stay owned by the caller.
func Migrate(ctx context.Context, from, to *metadb.DB, opts Options) (*Report, error) {
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	start := now()
	if !remote(opts.Warehouse) && !filepath.IsAbs(opts.Warehouse) {
		return nil, fmt.Errorf("%w: warehouse must be an absolute path or an s3:// URI, got %q", ErrInvalid, opts.Warehouse)
	}
	m := &migration{from: from, to: to, opts: opts, rep: &Report{}}
	if err := m.run(ctx); err != nil {
		return nil, err
	}
	m.rep.Duration = now().Sub(start)
	return m.rep, nil
}

type migration struct {
	from, to *metadb.DB
	opts     Options
	rep      *Report

	src      *sql.Tx // the source snapshot
	present  map[string]bool
	hasType  bool // the source's iceberg_tables has iceberg_type
	catalog  []catalogRow
	srcAudit *audit.Report
	copied   map[string]int64 // rows per table
}

func (m *migration) run(ctx context.Context) error {
	var err error
	if m.present, err = tables(ctx, m.from); err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	if m.present["edp_audit_log"] {
		if m.srcAudit, err = verifyAudit(ctx, m.from, m.opts.AuditPublicKey); err != nil {
			return fmt.Errorf("source audit log: %w", err)
		}
		if p := m.srcAudit.Problem; p != nil {
			return fmt.Errorf("%w: the source audit log does not verify (%s at entry %d: %s); a copy would carry the problem over",
				ErrInvalid, p.Kind, p.Seq, p.Msg)
		}
	}

	var txOpts = &sql.TxOptions{ReadOnly: true}
	if m.from.Dialect == metadb.Postgres {
		txOpts.Isolation = sql.LevelRepeatableRead
	}
	if m.src, err = m.from.BeginTx(ctx, txOpts); err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	defer m.src.Rollback()
	if err := m.readCatalog(ctx); err != nil {
		return err
	}
	if err := m.checkMetadata(ctx); err != nil {
		return err
	}

	// Only now is the target touched.
	cats, err := m.prepareTarget(ctx)
	for _, c := range cats {
		defer c.Close()
	}
	if err != nil {
		return err
	}
	log, err := audit.Open(ctx, m.to, audit.Options{})
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer log.Close()
	if err := m.checkVersions(ctx); err != nil {
		return err
	}
	if err := m.copyAll(ctx); err != nil {
		return err
	}
	return m.verify(ctx, log, cats)
}

// tables lists the tables of db's current schema.
func tables(ctx context.Context, db *metadb.DB) (map[string]bool, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	if db.Dialect == metadb.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// verifyAudit runs audit's own Verify on db. audit.Open also brings the
// audit tables to this edp's version, which on an up-to-date database
// changes nothing.
func verifyAudit(ctx context.Context, db *metadb.DB, pub ed25519.PublicKey) (*audit.Report, error) {
	log, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		return nil, err
	}
	defer log.Close()
	return log.Verify(ctx, pub)
}

// readCatalog reads the source's iceberg_tables rows and notes which of the
// known tables the source lacks and which unknown ones it has.
func (m *migration) readCatalog(ctx context.Context) error {
	known := map[string]bool{"edp_schema_migrations": true}
	for _, s := range specs {
		known[s.table] = true
	}
	for t := range m.present {
		if !known[t] {
			m.rep.Skipped = append(m.rep.Skipped, t)
		}
	}
	slices.Sort(m.rep.Skipped)
	if !m.present["iceberg_tables"] {
		return nil
	}
	var err error
	if m.hasType, err = metadb.HasColumn(ctx, m.src, m.from.Dialect, "iceberg_tables", "iceberg_type"); err != nil {
		return fmt.Errorf("read source catalog: %w", err)
	}
	typ := "iceberg_type"
	if !m.hasType {
		typ = "NULL"
	}
	rows, err := m.src.QueryContext(ctx, `SELECT catalog_name, table_namespace, table_name, `+typ+`, metadata_location
		FROM iceberg_tables ORDER BY catalog_name, table_namespace, table_name`)
	if err != nil {
		return fmt.Errorf("read source catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r catalogRow
		if err := rows.Scan(&r.catalog, &r.namespace, &r.name, &r.icebergType, &r.metadataLocation); err != nil {
			return fmt.Errorf("read source catalog: %w", err)
		}
		m.catalog = append(m.catalog, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read source catalog: %w", err)
	}
	return nil
}

// checkMetadata checks, before anything is copied, that every catalog
// row's metadata file is a readable file in the warehouse, and names every
// one that is not.
func (m *migration) checkMetadata(ctx context.Context) error {
	var problems []string
	for _, r := range m.catalog {
		if err := m.checkMetadataFile(ctx, r); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", r, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %d of %d tables: %s", ErrMissingMetadata, len(problems), len(m.catalog), strings.Join(problems, "; "))
	}
	return nil
}

// remote reports whether a warehouse is an object-store URI.
func remote(warehouse string) bool {
	u, err := url.Parse(warehouse)
	return err == nil && len(u.Scheme) > 1 && u.Scheme != "file"
}

// checkObject is checkMetadataFile for an object-store warehouse.
func (m *migration) checkObject(ctx context.Context, loc string) error {
	prefix := strings.TrimRight(m.opts.Warehouse, "/") + "/"
	if !strings.HasPrefix(loc, prefix) || strings.Contains(loc, "/../") {
		return fmt.Errorf("%s is outside the warehouse %s", loc, m.opts.Warehouse)
	}
	r, _, err := objstore.NewStore(m.opts.IOProps, objstore.Encryption{}).Open(ctx, loc)
	if err != nil {
		return err
	}
	defer r.Close()
	// Reading a byte proves it readable, not just present.
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("read %s: %w", loc, err)
	}
	return nil
}

func (m *migration) checkMetadataFile(ctx context.Context, r catalogRow) error {
	if !r.metadataLocation.Valid || r.metadataLocation.String == "" {
		return errors.New("no metadata location")
	}
	loc := r.metadataLocation.String
	if remote(m.opts.Warehouse) {
		return m.checkObject(ctx, loc)
	}
	p := lake.LocalPath(loc)
	if u, err := url.Parse(loc); err == nil && u.Scheme != "" && u.Scheme != "file" {
		return fmt.Errorf("%s is not a local file", loc)
	}
	rel, err := filepath.Rel(m.opts.Warehouse, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is outside the warehouse %s", p, m.opts.Warehouse)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	// Reading a byte proves it readable, not just present.
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	return nil
}

// prepareTarget creates the target's tables through their owners: the
// Iceberg catalog's by iceberg-go's SQL catalog (as lake.Open does, with
// the same warehouse), the accounts' by auth.OpenStore. The audit tables
// are created by the caller's audit.Open. It returns a catalog per catalog
// name, which later loads every copied table; the caller closes them, also
// on error.
func (m *migration) prepareTarget(ctx context.Context) (map[string]*sqlcat.Catalog, error) {
	dialect := sqlcat.SQLite
	if m.to.Dialect == metadb.Postgres {
		dialect = sqlcat.Postgres
	}
	props := iceberg.Properties{"warehouse": (&url.URL{Scheme: "file", Path: filepath.ToSlash(m.opts.Warehouse)}).String()}
	if remote(m.opts.Warehouse) {
		props = iceberg.Properties{"warehouse": m.opts.Warehouse}
		maps.Copy(props, m.opts.IOProps)
	}
	names := map[string]bool{}
	for _, r := range m.catalog {
		names[r.catalog] = true
	}
	if len(names) == 0 {
		names["edp"] = true // creates the catalog's tables; the name is not stored
	}
	cats := map[string]*sqlcat.Catalog{}
	for name := range names {
		c, err := sqlcat.NewCatalog(name, m.to.DB, dialect, props)
		if err != nil {
			return cats, fmt.Errorf("target: create catalog tables: %w", err)
		}
		cats[name] = c
	}
	if _, err := auth.OpenStore(ctx, m.to); err != nil {
		return cats, fmt.Errorf("target: %w", err)
	}
	return cats, nil
}

// checkVersions refuses a source whose auth or audit schema differs from
// the target's, which this edp has just brought to its own version: rows
// of another version may not fit the columns.
func (m *migration) checkVersions(ctx context.Context) error {
	for _, component := range []string{"auth", "audit"} {
		want, err := m.to.SchemaVersion(ctx, component)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		var got int
		if m.present["edp_schema_migrations"] {
			if err := m.src.QueryRowContext(ctx, m.from.Rebind(`SELECT COALESCE(MAX(version), 0) FROM edp_schema_migrations WHERE component = ?`),
				component).Scan(&got); err != nil {
				return fmt.Errorf("read source schema version: %w", err)
			}
		}
		if got != want && m.hasTables(component) {
			return fmt.Errorf("%w: the source's %s schema is at version %d, this edp's at %d: open the source with this edp once (any command) to migrate it, then copy",
				ErrInvalid, component, got, want)
		}
	}
	return nil
}

// hasTables reports whether the source has any table of component.
func (m *migration) hasTables(component string) bool {
	for _, s := range specs {
		if s.component == component && m.present[s.table] {
			return true
		}
	}
	return false
}

// copyAll copies every table in one transaction on the target.
func (m *migration) copyAll(ctx context.Context) (err error) {
	tx, err := m.to.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("target: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var nonEmpty []string
	for _, s := range specs {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+s.table).Scan(&n); err != nil {
			return fmt.Errorf("target: count %s: %w", s.table, err)
		}
		if n > 0 {
			nonEmpty = append(nonEmpty, fmt.Sprintf("%d %s", n, s.kind))
		}
	}
	if len(nonEmpty) > 0 {
		if !m.opts.Force {
			return fmt.Errorf("%w: it holds %s", ErrNotEmpty, strings.Join(nonEmpty, ", "))
		}
		for _, s := range slices.Backward(specs) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table); err != nil {
				return fmt.Errorf("target: clear %s: %w", s.table, err)
			}
		}
	}
	m.copied = map[string]int64{}
	for _, s := range specs {
		n := int64(0)
		if m.present[s.table] {
			if n, err = m.copyTable(ctx, tx, s); err != nil {
				return err
			}
		}
		m.copied[s.table] = n
		m.rep.Counts = append(m.rep.Counts, Count{Kind: s.kind, Table: s.table, Rows: n})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("target: commit: %w", err)
	}
	return nil
}

// copyTable streams the rows of one table from the source snapshot into
// the target transaction.
func (m *migration) copyTable(ctx context.Context, tx *sql.Tx, s tableSpec) (int64, error) {
	names := make([]string, len(s.cols))
	sel := make([]string, len(s.cols))
	marks := make([]string, len(s.cols))
	for i, c := range s.cols {
		names[i], sel[i], marks[i] = c.name, c.name, "?"
		if c.name == "iceberg_type" && !m.hasType {
			sel[i] = "NULL"
		}
	}
	rows, err := m.src.QueryContext(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+s.table+` ORDER BY `+s.orderBy)
	if err != nil {
		return 0, fmt.Errorf("read source %s: %w", s.table, err)
	}
	defer rows.Close()
	ins, err := tx.PrepareContext(ctx, m.to.Rebind(`INSERT INTO `+s.table+` (`+strings.Join(names, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`))
	if err != nil {
		return 0, fmt.Errorf("target: prepare %s: %w", s.table, err)
	}
	defer ins.Close()
	vals := make([]any, len(s.cols))
	var n int64
	for rows.Next() {
		for i, c := range s.cols {
			switch c.kind {
			case text:
				vals[i] = new(sql.NullString)
			case integer:
				vals[i] = new(sql.NullInt64)
			case blob:
				vals[i] = new([]byte)
			case boolean:
				vals[i] = new(sql.NullBool)
			}
		}
		if err := rows.Scan(vals...); err != nil {
			return n, fmt.Errorf("read source %s: %w", s.table, err)
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case *sql.NullString:
				args[i] = *v
			case *sql.NullInt64:
				args[i] = *v
			case *[]byte:
				args[i] = *v
			case *sql.NullBool:
				args[i] = *v
			}
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return n, fmt.Errorf("target: copy %s row %d: %w", s.table, n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read source %s: %w", s.table, err)
	}
	return n, nil
}

// verify checks the committed copy: row counts, the audit chain and
// checkpoints, and that every table's metadata loads through the catalog.
func (m *migration) verify(ctx context.Context, log *audit.Log, cats map[string]*sqlcat.Catalog) error {
	var problems []string
	for _, s := range specs {
		var n int64
		if err := m.to.QueryRowContext(ctx, `SELECT count(*) FROM `+s.table).Scan(&n); err != nil {
			return fmt.Errorf("target: count %s: %w", s.table, err)
		}
		if n != m.copied[s.table] {
			problems = append(problems, fmt.Sprintf("%s has %d rows, %d were copied", s.table, n, m.copied[s.table]))
		}
	}
	rep, err := log.Verify(ctx, m.opts.AuditPublicKey)
	if err != nil {
		return fmt.Errorf("target: verify audit log: %w", err)
	}
	switch {
	case rep.Problem != nil:
		problems = append(problems, fmt.Sprintf("audit log: %s at entry %d: %s", rep.Problem.Kind, rep.Problem.Seq, rep.Problem.Msg))
	case rep.Entries != m.copied["edp_audit_log"] || int64(rep.Checkpoints) != m.copied["edp_audit_checkpoints"]:
		problems = append(problems, fmt.Sprintf("audit log: %d entries and %d checkpoints verified, %d and %d were copied",
			rep.Entries, rep.Checkpoints, m.copied["edp_audit_log"], m.copied["edp_audit_checkpoints"]))
	}
	m.rep.AuditHead, m.rep.AuditCheckpoints = rep.Head, rep.Checkpoints

	namespaces := map[string]bool{}
	for _, r := range m.catalog {
		namespaces[r.catalog+"\x00"+r.namespace] = true
		if !r.isTable() {
			continue
		}
		if _, err := cats[r.catalog].LoadTable(ctx, table.Identifier{r.namespace, r.name}); err != nil {
			problems = append(problems, fmt.Sprintf("table %s does not load: %v", r, err))
			continue
		}
		m.rep.TablesLoaded++
	}
	rows, err := m.to.QueryContext(ctx, `SELECT DISTINCT catalog_name, namespace FROM iceberg_namespace_properties`)
	if err != nil {
		return fmt.Errorf("target: list namespaces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, ns string
		if err := rows.Scan(&c, &ns); err != nil {
			return fmt.Errorf("target: list namespaces: %w", err)
		}
		namespaces[c+"\x00"+ns] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("target: list namespaces: %w", err)
	}
	m.rep.Namespaces = len(namespaces)
	if len(problems) > 0 {
		return fmt.Errorf("%w: the target holds the copy, but: %s (rerun with Force after fixing the cause)", ErrVerify, strings.Join(problems, "; "))
	}
	return nil
}
