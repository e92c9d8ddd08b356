package cli_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/metadb"
)

func TestUsersAPIKeysAndAudit(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, string) {
		t.Helper()
		code, out, errs := edp(t, dir, stdin, args...)
		if code != 0 {
			t.Fatalf("edp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		return out, errs
	}
	run("correct horse battery\n", "user", "add", "alice", "--role", "writer", "--password-stdin")
	out, _ := run("", "user", "list", "--output", "csv")
	if !strings.Contains(out, "alice,writer,") {
		t.Errorf("user list = %q, want alice with role writer", out)
	}
	if code, _, errs := edp(t, dir, "correct horse battery\n", "user", "add", "alice", "--password-stdin"); code == 0 || !strings.Contains(errs, "exists") {
		t.Errorf("adding alice twice: exit %d, stderr %q, want an 'exists' error", code, errs)
	}
	if code, _, errs := edp(t, dir, "", "user", "add", "bob"); code == 0 || !strings.Contains(errs, "--password-stdin") {
		t.Errorf("user add without a terminal or --password-stdin: exit %d, stderr %q", code, errs)
	}

	key, note := run("", "apikey", "create", "alice", "--ttl", "24h")
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "edp_") || !strings.Contains(note, "shown only this once") {
		t.Fatalf("apikey create printed %q / %q", key, note)
	}
	// The key works against the store until revoked.
	id := strings.Fields(note)[2]
	assertKey(t, dir, key, true)
	out, _ = run("", "apikey", "list", "--output", "csv")
	if !strings.Contains(out, id) || strings.Contains(out, key) {
		t.Errorf("apikey list = %q, want the id %s and never the key", out, id)
	}
	run("", "apikey", "revoke", id)
	assertKey(t, dir, key, false)
	run("newer horse battery\n", "user", "passwd", "alice", "--password-stdin")
	run("", "user", "remove", "alice")

	// Every change above is in the audit log, which verifies.
	out, _ = run("", "audit", "tail", "-n", "50", "--output", "csv")
	for _, action := range []string{"user_add", "apikey_create", "apikey_revoke", "user_passwd", "user_remove"} {
		if !strings.Contains(out, ","+action+",") {
			t.Errorf("audit tail lacks %s:\n%s", action, out)
		}
	}
	if !strings.Contains(out, ",user_add,user:alice,error,") {
		t.Errorf("the failed second add of alice is not audited as an error:\n%s", out)
	}
	out, _ = run("", "audit", "search", "--action", "apikey_revoke", "--output", "csv")
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("audit search --action apikey_revoke = %d lines, want header + 1:\n%s", n, out)
	}
	out, _ = run("", "audit", "verify")
	if !strings.Contains(out, "audit log intact") {
		t.Errorf("audit verify = %q", out)
	}

	// Tampering is found and named.
	db, err := sql.Open("sqlite", filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE edp_audit_log SET principal = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs := edp(t, dir, "", "audit", "verify")
	if code == 0 || !strings.Contains(errs, "modified at entry 2") {
		t.Errorf("audit verify after tampering: exit %d, stderr %q, want 'modified at entry 2'", code, errs)
	}

	// Account commands refuse --server: they act on this data directory.
	if code, _, errs := edp(t, dir, "", "--server", "http://127.0.0.1:1", "user", "list"); code == 0 || !strings.Contains(errs, "local data directory") {
		t.Errorf("user list --server: exit %d, stderr %q", code, errs)
	}
}

// assertKey checks whether key authenticates against dir's account store.
func assertKey(t *testing.T, dir, key string, valid bool) {
	t.Helper()
	db, err := metadb.Open(context.Background(), "sqlite://"+filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := auth.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(context.Background(), key)
	if (err == nil) != valid {
		t.Errorf("AuthenticateAPIKey after CLI = %v, want valid=%v", err, valid)
	}
}
