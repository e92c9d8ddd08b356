package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/backup"
)

// metadataDB names the metadata database for package backup: the SQLite
// file, or the configured URI so that backup can refuse a PostgreSQL one
// with advice.
func (a *app) metadataDB() string {
	if p, ok := a.cfg.CatalogSQLitePath(); ok {
		return p
	}
	return a.cfg.Catalog.URI
}

// backupCmd copies the metadata database. It never opens the platform: a
// backup must not write to what it copies, and works beside a running
// server.
func (a *app) backupCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{Use: "backup FILE", Short: "Write a consistent copy of the metadata database to FILE", Args: cobra.ExactArgs(1),
		Long: `Copy the metadata database — the catalog's table pointers, users, API keys
and the audit log — to FILE, safely while edp serve is running. The copy is
one consistent snapshot, checked before it is kept; FILE is created with
mode 0600 because it holds password and API key hashes.

Table data files in the warehouse and the keys/ directory (audit signing key,
token keys) are not in it: copy them separately (see docs/OPERATIONS.md).
A PostgreSQL catalog is backed up with pg_dump instead.`,
		Example: "  edp backup /backups/edp-$(date +%F).db",
		RunE: func(_ *cobra.Command, args []string) error {
			m, err := backup.Backup(a.cmd.Context(), a.metadataDB(), args[0], backup.Options{Force: force, Version: Version})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "backed up %s to %s\n", m.Source, m.File)
			a.printManifest(m, "taken")
			return nil
		}}
	c.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return c
}

// restoreCmd replaces the metadata database with a backup. Like backupCmd
// it does not open the platform, which would hold the database it replaces.
func (a *app) restoreCmd() *cobra.Command {
	var yes bool
	c := &cobra.Command{Use: "restore FILE", Short: "Replace the metadata database with a backup made by edp backup", Args: cobra.ExactArgs(1),
		Long: `Replace the metadata database with FILE, a backup made by edp backup. Stop
edp serve first: a database that another process has open is refused.

The current database is kept beside it as catalog.db.before-restore-<time>,
so renaming it back undoes the restore. The restored catalog is as of the
backup: table data written since stays in the warehouse unreferenced, audit
entries since are gone (the restored log still verifies), and users and API
keys are as they were then — keys revoked since work again.`,
		RunE: func(_ *cobra.Command, args []string) error {
			db := a.metadataDB()
			if !yes {
				if !isTerminal(a.in) {
					return fmt.Errorf("restore replaces the metadata database %s; pass --yes to confirm", db)
				}
				fmt.Fprintf(a.errw, "Replace the metadata database %s with %s? Changes made since the backup are lost. [y/N] ", db, args[0])
				line, _ := bufio.NewReader(a.in).ReadString('\n')
				if ans := strings.ToLower(strings.TrimSpace(line)); ans != "y" && ans != "yes" {
					return fmt.Errorf("restore cancelled")
				}
			}
			m, err := backup.Restore(a.cmd.Context(), args[0], db, backup.RestoreOptions{Version: Version})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "restored %s from %s\n", m.File, m.Source)
			if m.MovedAside != "" {
				fmt.Fprintf(a.out, "the previous database is now %s\n", m.MovedAside)
			}
			a.printManifest(m, "restored")
			fmt.Fprintln(a.out, "note:")
			for _, w := range m.Warnings {
				fmt.Fprintf(a.out, "  - %s\n", w)
			}
			return nil
		}}
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return c
}

// printManifest prints what a backup holds; when says what Manifest.Time is.
func (a *app) printManifest(m *backup.Manifest, when string) {
	w := a.out
	if m.Version != "" {
		fmt.Fprintf(w, "  edp version  %s\n", m.Version)
	}
	fmt.Fprintf(w, "  %-12s %s\n", when, m.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  size         %d bytes\n", m.Size)
	fmt.Fprintf(w, "  sha256       %s\n", m.SHA256)
	fmt.Fprintf(w, "  audit head   entry %d\n", m.AuditHead)
	fmt.Fprintf(w, "  rows\n")
	for _, t := range m.Tables {
		fmt.Fprintf(w, "    %-30s %d\n", t.Name, t.Rows)
	}
}
