package stream_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestKafkaJSProducer has kafkajs (npm), running in Node, produce into a
// topic that a pipeline ingests. It needs node and the packages of
// testdata/kafkajs (npm ci there; .ci/run does it); without them it skips,
// unless CI is set, where their absence is a failure.
func TestKafkaJSProducer(t *testing.T) {
	dir, _ := filepath.Abs("testdata/kafkajs")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "kafkajs"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and testdata/kafkajs/node_modules are needed under CI: %v", err)
		}
		t.Skipf("needs node and `npm ci` in testdata/kafkajs: %v", err)
	}
	e := newEnv(t, map[string]int32{"node-events": 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "produce.js", strings.Join(e.cluster.Brokers, ","), "node-events", "200")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node produce.js: %v\n%s", err, out)
	}
	spec := stream.Spec{Name: "node", Topics: []string{"node-events"}, Table: lake.Ident{Namespace: "raw", Name: "node_events"}, CommitInterval: 100 * time.Millisecond}
	_, stop := e.start(spec, e.deps())
	e.waitFor("200 rows", func() bool { return e.count("SELECT count(*) FROM raw.node_events") == 200 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := e.query("SELECT count(DISTINCT id), sum(amount), min(source), count(DISTINCT \"user\") FROM raw.node_events")
	if want := "200 | 29850 | kafkajs | 7"; got[0] != want {
		t.Errorf("table = %v, want %s", got, want)
	}
}
