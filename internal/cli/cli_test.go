package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/cli"
)

// edp runs the command line in-process against dataDir and returns its
// exit code, standard output and standard error.
func edp(t *testing.T, dataDir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--data-dir", dataDir}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func mustEdp(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	code, out, errs := edp(t, dataDir, "", args...)
	if code != 0 {
		t.Fatalf("edp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestDemoThenQuery(t *testing.T) {
	dir := t.TempDir()
	out := mustEdp(t, dir, "demo", "--small")
	for _, want := range []string{"bronze.customers", "silver.orders", "gold.daily_revenue_by_region", "and try:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	got := mustEdp(t, dir, "sql", "--output", "csv", "SELECT count(*) AS n FROM silver.customers")
	if got != "n\n200\n" {
		t.Errorf("silver.customers count = %q, want 200", got)
	}
	// The demo is deterministic: running it again gives the same gold table.
	sum1 := mustEdp(t, dir, "sql", "--output", "csv", "SELECT sum(revenue) FROM gold.daily_revenue_by_region")
	mustEdp(t, dir, "demo", "--small")
	sum2 := mustEdp(t, dir, "sql", "--output", "csv", "SELECT sum(revenue) FROM gold.daily_revenue_by_region")
	if sum1 != sum2 {
		t.Errorf("demo revenue changed between runs: %q then %q", sum1, sum2)
	}
}

func TestLoadSnapshotsRollback(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,a\n2,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustEdp(t, dir, "load", "--table", "raw.people", in)
	mustEdp(t, dir, "sql", "INSERT INTO raw.people VALUES (3, 'c')")
	list := mustEdp(t, dir, "table", "snapshots", "raw.people", "--output", "csv")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 {
		t.Fatalf("snapshots:\n%s\nwant a header and 2 snapshots", list)
	}
	first := strings.Split(lines[1], ",")[0]
	if !strings.Contains(lines[1], "load") || !strings.Contains(lines[2], "sql:insert") {
		t.Errorf("snapshot jobs not recorded:\n%s", list)
	}
	old := mustEdp(t, dir, "sql", "--output", "csv", "SELECT count(*) AS n FROM raw.people FOR VERSION AS OF "+first)
	if old != "n\n2\n" {
		t.Errorf("time travel count = %q, want 2", old)
	}
	mustEdp(t, dir, "table", "rollback", "raw.people", first)
	now := mustEdp(t, dir, "sql", "--output", "csv", "SELECT count(*) AS n FROM raw.people")
	if now != "n\n2\n" {
		t.Errorf("count after rollback = %q, want 2", now)
	}
}

func TestErrorsExitNonZero(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sql", "SELECT * FROM read_csv('/etc/passwd')"}, "read_csv"},
		{[]string{"sql", "COPY (SELECT 1) TO '/tmp/x.csv'"}, "COPY"},
		{[]string{"sql", "SELECT * FROM nope.nothing"}, "does not exist"},
		{[]string{"load", "--table", "a.b", filepath.Join(dir, "missing.csv")}, "no file matches"},
		{[]string{"--output", "xml", "sql", "SELECT 1"}, "output"},
		{[]string{"--load-bad-rows", "sometimes", "sql", "SELECT 1"}, "load.bad_rows"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, errs := edp(t, dir, "", c.args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure")
			}
			if !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q does not mention %q", errs, c.want)
			}
		})
	}
}

func TestSQLFromStdinAndConfigShow(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := edp(t, dir, "CREATE SCHEMA s;\nCREATE TABLE s.t AS SELECT 1 AS a;\nSELECT a + 1 AS b\nFROM s.t;\n", "sql", "--output", "csv")
	if code != 0 || !strings.Contains(out, "b\n2\n") {
		t.Fatalf("piped script: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	show := mustEdp(t, dir, "config", "show")
	if !strings.Contains(show, "data_dir") || !strings.Contains(show, "flag --data-dir") {
		t.Errorf("config show does not report data_dir from the flag:\n%s", show)
	}
}
