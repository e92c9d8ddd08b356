package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/catalogcopy"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/server"
)

// catalogCmd holds operations on the metadata database as a whole. Like
// backup it does not open the platform: migrate reads the SQLite file it
// copies and must not write audit entries into it while doing so.
func (a *app) catalogCmd() *cobra.Command {
	c := &cobra.Command{Use: "catalog", Short: "Move the metadata database to PostgreSQL"}
	var to string
	var force bool
	migrate := &cobra.Command{Use: "migrate --to postgres://USER@HOST/DB", Short: "Copy the catalog, accounts and audit log from SQLite to PostgreSQL", Args: cobra.NoArgs,
		Long: `Copy the metadata database — the Iceberg catalog's namespaces and table
pointers, users, API keys and the audit log with its signed checkpoints — from
the configured SQLite catalog (catalog.uri) into the PostgreSQL database named
by --to. Table data and metadata files stay where they are: use the same
warehouse afterwards. The audit log is copied byte for byte and still verifies
with keys/audit.pub.

Stop edp serve first: changes made after the copy starts are not carried over.
Every table's metadata file is checked before anything is written; the copy is
one transaction, and is read back and verified before the command succeeds.
A target that already holds a namespace, table, user, API key or audit entry is
refused unless --force, which replaces its contents.

The SQLite file is left as it was. Afterwards set catalog.uri (EDP_CATALOG_URI)
to the PostgreSQL URI.`,
		Example: "  edp catalog migrate --to postgres://edp@db.internal/edp",
		RunE: func(*cobra.Command, []string) error {
			if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
				return fmt.Errorf("--to must be a postgres:// URI, got %q", redactURI(to))
			}
			src, ok := a.cfg.CatalogSQLitePath()
			if !ok {
				return fmt.Errorf("catalog.uri is %s: edp catalog migrate copies from a SQLite catalog", redactURI(a.cfg.Catalog.URI))
			}
			// metadb.Open would create a missing file and copy nothing.
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("metadata database: %w", err)
			}
			// A local warehouse is given as its directory, an object store
			// as its URI with the properties that reach it.
			warehouse, err := a.cfg.WarehousePath()
			var ioProps map[string]string
			if err != nil {
				if warehouse, err = a.cfg.WarehouseURI(); err != nil {
					return err
				}
				st, err := server.Storage(a.cfg)
				if err != nil {
					return err
				}
				ioProps = st.Props
			}
			dataDir, err := filepath.Abs(a.cfg.DataDir)
			if err != nil {
				return err
			}
			pub, err := server.ReadPublicKey(server.AuditPublicKeyPath(dataDir))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("audit public key: %w", err)
			}
			ctx := a.cmd.Context()
			from, err := metadb.Open(ctx, a.cfg.CatalogURI())
			if err != nil {
				return err
			}
			defer from.Close()
			target, err := metadb.Open(ctx, to)
			if err != nil {
				return err
			}
			defer target.Close()
			rep, err := catalogcopy.Migrate(ctx, from, target, catalogcopy.Options{Warehouse: warehouse, IOProps: ioProps, Force: force, AuditPublicKey: pub})
			if err != nil {
				return err
			}
			a.printCopyReport(rep, src, redactURI(to), warehouse)
			return nil
		}}
	migrate.Flags().StringVar(&to, "to", "", "PostgreSQL URI of the target database (required)")
	migrate.Flags().BoolVar(&force, "force", false, "replace whatever the target database already holds")
	_ = migrate.MarkFlagRequired("to")
	c.AddCommand(migrate)
	return c
}

func (a *app) printCopyReport(rep *catalogcopy.Report, from, to, warehouse string) {
	w := a.out
	fmt.Fprintf(w, "copied %s to %s in %s\n", from, to, rep.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-22s %d\n", "namespaces", rep.Namespaces)
	for _, c := range rep.Counts {
		fmt.Fprintf(w, "  %-22s %d\n", c.Kind, c.Rows)
	}
	fmt.Fprintf(w, "verified: %d tables load, audit log intact to entry %d with %d signed checkpoints\n",
		rep.TablesLoaded, rep.AuditHead, rep.AuditCheckpoints)
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "not copied: table %s (unknown to this edp)\n", s)
	}
	fmt.Fprintf(w, "next: set catalog.uri (EDP_CATALOG_URI) to the URI given to --to (%s) and keep the warehouse %s\n", to, warehouse)
}

// redactURI hides a password in uri, for output.
func redactURI(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Redacted()
	}
	return uri
}

// registerCmd is `edp table register`: it puts a table that exists as
// files back into the catalog, for example one dropped without PURGE.
func (a *app) registerCmd() *cobra.Command {
	return &cobra.Command{Use: "register NS.TABLE METADATA_JSON", Short: "Add an existing Iceberg table to the catalog from its metadata file", Args: cobra.ExactArgs(2),
		Long: `Register an Iceberg table that exists in the warehouse as files — one dropped
from the catalog without PURGE, say — under NS.TABLE, from its
metadata JSON file (normally the newest one in the table's metadata/
directory). Nothing is rewritten: its snapshots, and so time travel, are as
the file describes. The file and the table location must lie inside the
warehouse; the namespace must exist and the name be free.`,
		Example: "  edp table register sales.orders ./edp-data/warehouse/sales.db/orders-1a2b3c4d/metadata/00007-….metadata.json",
		RunE: func(_ *cobra.Command, args []string) error {
			if a.remote() {
				return fmt.Errorf("table register reads the metadata file from the local warehouse and does not take --server (EDP_SERVER)")
			}
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			loc := args[1]
			if !strings.Contains(loc, "://") {
				if loc, err = filepath.Abs(loc); err != nil {
					return err
				}
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			tbl, err := l.Register(a.ctx(), id, loc)
			if err != nil {
				return err
			}
			snap := "no snapshots"
			if s := tbl.CurrentSnapshot(); s != nil {
				snap = fmt.Sprintf("current snapshot %d of %d", s.SnapshotID, len(tbl.Metadata().Snapshots()))
			}
			fmt.Fprintf(a.out, "registered %s from %s (%s)\n", id, tbl.MetadataLocation(), snap)
			return nil
		}}
}
