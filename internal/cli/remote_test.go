package cli_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/cli"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/server"
)

// serve starts edp serve on dataDir in-process and returns its URL.
func serve(t *testing.T, dataDir, adminPassword string) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = dataDir, "127.0.0.1:0"
	srv, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("server did not stop")
		}
	})
	return srv.URL()
}

// remote runs the CLI against a server, with no data directory of its own.
func remote(t *testing.T, url, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--server", url, "--data-dir", filepath.Join(t.TempDir(), "unused")}, args...)
	code := cli.Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRemoteCLI(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("EDP_TOKEN", "")
	dataDir := t.TempDir()
	url := serve(t, dataDir, "remote admin password")
	must := func(stdin string, args ...string) (string, string) {
		t.Helper()
		code, out, errs := remote(t, url, stdin, args...)
		if code != 0 {
			t.Fatalf("edp --server %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		return out, errs
	}

	// Not logged in yet: a clear error, not a stack of HTTP details.
	if code, _, errs := remote(t, url, "", "sql", "SELECT 1"); code == 0 || !strings.Contains(errs, "not logged in") {
		t.Fatalf("sql before login: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := remote(t, url, "wrong\n", "login", "--user", "admin", "--password-stdin"); code == 0 || !strings.Contains(strings.ToLower(errs), "invalid") {
		t.Errorf("login with a wrong password: exit %d, stderr %q", code, errs)
	}
	_, errs := must("remote admin password\n", "login", "--user", "admin", "--password-stdin")
	if !strings.Contains(errs, "logged in to "+url+" as admin") {
		t.Errorf("login said %q", errs)
	}

	in := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,ann\n2,bo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("", "namespace", "create", "raw")
	_, errs = must("", "load", "--table", "raw.people", in)
	if !strings.Contains(errs, "created raw.people: 2 rows from 1 files") {
		t.Errorf("remote load said %q", errs)
	}
	_, errs = must("", "sql", "INSERT INTO raw.people VALUES (3, 'cy')")
	if strings.TrimSpace(errs) != "INSERT 1" {
		t.Errorf("remote INSERT status = %q, want INSERT 1", errs)
	}
	snaps, _ := must("", "--output", "csv", "table", "snapshots", "raw.people")
	lines := strings.Split(strings.TrimSpace(snaps), "\n")
	if len(lines) != 3 {
		t.Fatalf("remote snapshots:\n%s", snaps)
	}
	first := strings.Split(lines[1], ",")[0]

	// The same statements give byte-identical output remotely and locally,
	// in every text format.
	queries := []string{
		"SELECT id, name, id * 1.5 AS x, DATE '2026-01-02' + CAST(id AS INTEGER) AS d FROM raw.people ORDER BY id",
		"SELECT count(*) AS n FROM raw.people FOR VERSION AS OF " + first,
	}
	formats := []string{"csv", "json", "jsonl", "table"}
	remoteOut := map[string]string{}
	for _, q := range queries {
		for _, f := range formats {
			out, _ := must("", "--output", f, "sql", q)
			remoteOut[f+q] = out
		}
	}
	desc, _ := must("", "--output", "csv", "table", "describe", "raw.people")

	// Locally, on the same data directory (the server keeps running), the
	// output is the same.
	local := func(args ...string) string {
		t.Helper()
		code, out, errs := edp(t, dataDir, "", args...)
		if code != 0 {
			t.Fatalf("local edp %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	for _, q := range queries {
		for _, f := range formats {
			if got := local("--output", f, "sql", q); got != remoteOut[f+q] {
				t.Errorf("%s output of %q differs:\nremote:\n%s\nlocal:\n%s", f, q, remoteOut[f+q], got)
			}
		}
	}
	if got := local("--output", "csv", "table", "describe", "raw.people"); got != desc {
		t.Errorf("describe differs:\nremote:\n%s\nlocal:\n%s", desc, got)
	}

	must("", "table", "rollback", "raw.people", first)
	if out, _ := must("", "--output", "csv", "sql", "SELECT count(*) AS n FROM raw.people"); out != "n\n2\n" {
		t.Errorf("count after remote rollback = %q", out)
	}
	must("", "table", "rename", "raw.people", "raw.persons")
	if code, _, errs := remote(t, url, "", "sql", "SELECT * FROM raw.nothing"); code == 0 || !strings.Contains(errs, "nothing") {
		t.Errorf("remote error: exit %d, stderr %q", code, errs)
	}

	// Logout revokes the saved key.
	must("", "logout")
	if code, _, errs := remote(t, url, "", "sql", "SELECT 1"); code == 0 || !strings.Contains(errs, "not logged in") {
		t.Errorf("sql after logout: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := remote(t, url, "", "--token", "edp_notarealkeyatall000000000000000000", "sql", "SELECT 1"); code == 0 || !strings.Contains(strings.ToLower(errs), "invalid") {
		t.Errorf("sql with a bogus --token: exit %d, stderr %q", code, errs)
	}

}
