package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestore backs up a data directory with edp backup, changes it,
// and puts the backup back with edp restore: the table made after the
// backup is gone, the one before it is there, and the audit log verifies.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	mustEdp(t, dir, "sql", "CREATE SCHEMA s")
	mustEdp(t, dir, "sql", "CREATE TABLE s.t AS SELECT 1 AS a")
	bk := filepath.Join(t.TempDir(), "meta.db")

	code, out, errs := edp(t, dir, "", "backup", bk)
	if code != 0 {
		if strings.Contains(errs, "unknown command") {
			t.Fatalf("edp backup is not registered: add a.backupCmd() and a.restoreCmd() to root.AddCommand in cli.go")
		}
		t.Fatalf("edp backup: exit %d: %s", code, errs)
	}
	for _, want := range []string{"backed up " + filepath.Join(dir, "catalog.db") + " to " + bk, "sha256", "iceberg_tables", "audit head"} {
		if !strings.Contains(out, want) {
			t.Errorf("edp backup output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := edp(t, dir, "", "backup", bk); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("edp backup over an existing file: exit %d, stderr %q; want a refusal", code, errs)
	}
	mustEdp(t, dir, "backup", "--force", bk)

	mustEdp(t, dir, "sql", "CREATE TABLE s.later AS SELECT 2 AS b")
	if code, _, errs := edp(t, dir, "", "restore", bk); code == 0 || !strings.Contains(errs, "--yes") {
		t.Errorf("edp restore without --yes and no terminal: exit %d, stderr %q; want a refusal asking for --yes", code, errs)
	}
	out = mustEdp(t, dir, "restore", "--yes", bk)
	for _, want := range []string{"restored", "catalog.db.before-restore-", "orphans", "audit entries after entry"} {
		if !strings.Contains(out, want) {
			t.Errorf("edp restore output lacks %q:\n%s", want, out)
		}
	}
	if got := mustEdp(t, dir, "sql", "--output", "csv", "SELECT a FROM s.t"); got != "a\n1\n" {
		t.Errorf("s.t after restore = %q, want a\\n1\\n", got)
	}
	if code, _, errs := edp(t, dir, "", "sql", "SELECT * FROM s.later"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("s.later after restoring a backup taken before it: exit %d, stderr %q; want it gone", code, errs)
	}
	if out := mustEdp(t, dir, "audit", "verify"); !strings.Contains(out, "audit log intact") {
		t.Errorf("edp audit verify after restore:\n%s", out)
	}
}
