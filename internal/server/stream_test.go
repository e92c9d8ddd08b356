package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/kafka/kafkatest"
	"github.com/edp-data/edp/internal/server"
)

// TestServeRunsStreams creates a pipeline through the API of a running
// server configured with a Kafka cluster, and checks that the server runs
// it: records become rows, status and metrics report them, and shutdown
// stops it cleanly.
func TestServeRunsStreams(t *testing.T) {
	_, cluster := kafkatest.Start(t, kfake.SeedTopics(2, "signups"))
	cfg := testConfig(t, t.TempDir())
	cfg.Kafka.Brokers = strings.Join(cluster.Brokers, ",")
	cfg.Stream.CommitInterval = 100 * time.Millisecond
	s := start(t, cfg, server.Options{AdminPassword: adminPW})
	base, c := s.srv.URL(), http.DefaultClient
	tok := login(t, c, base, "admin", adminPW)
	spec, _ := json.Marshal(map[string]any{"name": "signups", "topics": []string{"signups"}, "table": "web.signups"})
	if code, body := do(t, c, "POST", base+"/api/v1/streams", tok, "application/json", bytes.NewReader(spec)); code != 201 {
		t.Fatalf("create stream = %d %s", code, body)
	}
	prod, err := kafka.NewClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range 50 {
		if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: "signups", Value: fmt.Appendf(nil, `{"user":%d}`, i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := do(t, c, "GET", base+"/api/v1/streams/signups", tok, "", nil)
		var got struct {
			Pipeline struct {
				Status struct {
					Rows  int64
					State string
				}
			}
		}
		json.Unmarshal(body, &got)
		if code == 200 && got.Pipeline.Status.Rows == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline did not commit 50 rows: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := sqlCSV(t, c, base, tok, "SELECT count(DISTINCT \"user\") AS n FROM web.signups"); got != "n\n50\n" {
		t.Errorf("rows = %q, want 50 distinct users", got)
	}
	if code, body := do(t, c, "GET", base+"/metrics", tok, "", nil); code != 200 || !bytes.Contains(body, []byte(`edp_stream_rows_total{pipeline="signups"} 50`)) {
		t.Errorf("/metrics (%d) lacks edp_stream_rows_total 50 for signups", code)
	}
	s.shutdown(t)
}
