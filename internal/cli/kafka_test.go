package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/kafka/kafkatest"
)

func TestKafkaCommands(t *testing.T) {
	_, cluster := kafkatest.Start(t)
	dir := t.TempDir()
	k := []string{"--kafka-brokers", strings.Join(cluster.Brokers, ",")}
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := edp(t, dir, stdin, append(append([]string(nil), args...), k...)...)
		if code != 0 {
			t.Fatalf("edp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	run("", "kafka", "topics", "create", "clicks", "--partitions", "2", "--topic-config", "cleanup.policy=compact")
	if out := run("", "kafka", "topics", "list"); !strings.Contains(out, "clicks") || !strings.Contains(out, "2") {
		t.Errorf("kafka topics list = %q, want clicks with 2 partitions", out)
	}
	run("u1|{\"page\":\"/\"}\nu2|{\"page\":\"/a\"}\n", "kafka", "produce", "clicks", "--key-separator", "|", "-H", "src=cli")
	var desc kafka.Topic
	if err := json.Unmarshal([]byte(run("", "kafka", "topics", "describe", "clicks", "--json")), &desc); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range desc.Partitions {
		total += p.Records()
	}
	if total != 2 || desc.Configs["cleanup.policy"] != "compact" {
		t.Errorf("describe clicks = %+v, want 2 records and cleanup.policy=compact", desc)
	}
	out := run("", "kafka", "consume", "clicks", "--envelope", "--until-end")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("consume printed %d lines, want 2:\n%s", len(lines), out)
	}
	keys := map[string]string{}
	for _, l := range lines {
		var m kafka.Message
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		keys[*m.Key] = *m.Value + " " + m.Headers["src"]
	}
	if keys["u1"] != `{"page":"/"} cli` || keys["u2"] != `{"page":"/a"} cli` {
		t.Errorf("consumed = %v, want u1 and u2 with their pages and header src=cli", keys)
	}
	if code, _, errs := edp(t, dir, "", "kafka", "topics", "list"); code == 0 || !strings.Contains(errs, "kafka.brokers") {
		t.Errorf("kafka topics list without brokers: exit %d, stderr %q, want an error naming kafka.brokers", code, errs)
	}
}
