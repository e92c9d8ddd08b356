package restcatalog_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/table"
)

// TestIcebergJS drives the catalog from Node with iceberg-js (npm), a
// client written by others: testdata/icebergjs/drive.mjs creates, lists,
// commits to, renames and drops, and checks the spec's errors. .ci/run
// installs it (npm ci); elsewhere the test skips when node or the package
// is missing.
func TestIcebergJS(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "icebergjs"))
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "iceberg-js"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node (%v) and iceberg-js (%v) are required under CI: run npm ci in %s", err, modErr, dir)
		}
		t.Skipf("node or iceberg-js missing (run npm ci in %s)", dir)
	}
	e := startEnv(t, "")
	cmd := exec.Command(node, "drive.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EDP_ICEBERG_URI="+e.uri, "EDP_TOKEN="+e.token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node drive.mjs: %v\n%s", err, out)
	}
	for _, step := range []string{"ok config", "ok namespaces", "ok tables", "ok commit", "ok rename and drop"} {
		if !strings.Contains(string(out), step+"\n") {
			t.Errorf("drive.mjs did not report %q:\n%s", step, out)
		}
	}
	// What the script committed is what iceberg-go and edp see.
	tbl, err := e.client(e.token).LoadTable(context.Background(), table.Identifier{"js", "events"})
	if err != nil {
		t.Fatal(err)
	}
	spec := tbl.Spec()
	if tbl.Properties()["owner"] != "js" || spec.NumFields() != 1 {
		t.Errorf("js.events: owner = %q, %d partition fields; want js and 1", tbl.Properties()["owner"], spec.NumFields())
	}
	if got := e.sql("SELECT count(*) AS n FROM js.events"); got != "n\n0\n" {
		t.Errorf("edp SQL of js.events = %q", got)
	}
}
