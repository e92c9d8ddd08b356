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

func TestStreamCommands(t *testing.T) {
	dir := t.TempDir()
	out := mustEdp(t, dir, "stream", "create", "orders", "--topic", "orders", "--table", "raw.orders", "--commit-interval", "2s", "--on-bad-record", "skip")
	if !strings.Contains(out, "orders → raw.orders (every 2s)") {
		t.Errorf("create printed %q", out)
	}
	if code, _, errs := edp(t, dir, "", "stream", "create", "orders", "--topic", "x", "--table", "raw.x"); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("second create: exit %d, stderr %q, want already exists", code, errs)
	}
	if code, _, errs := edp(t, dir, "", "stream", "create", "bad", "--table", "raw.x"); code == 0 || !strings.Contains(errs, "no source topic") {
		t.Errorf("create without topic: exit %d, stderr %q", code, errs)
	}
	mustEdp(t, dir, "stream", "pause", "orders")
	if out := mustEdp(t, dir, "stream", "list"); !strings.Contains(out, "raw.orders") || !strings.Contains(out, "paused") {
		t.Errorf("list after pause = %q, want orders paused", out)
	}
	mustEdp(t, dir, "stream", "resume", "orders")
	var info struct {
		Spec   map[string]any
		Paused bool
	}
	if err := json.Unmarshal([]byte(mustEdp(t, dir, "stream", "status", "orders", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Paused || info.Spec["on_bad_record"] != "skip" || info.Spec["commit_interval"] != "2s" {
		t.Errorf("status = %+v, want resumed, skip, 2s", info)
	}
	mustEdp(t, dir, "stream", "delete", "orders")
	if code, _, errs := edp(t, dir, "", "stream", "status", "orders"); code == 0 || !strings.Contains(errs, "no such pipeline") {
		t.Errorf("status after delete: exit %d, stderr %q", code, errs)
	}
}
