package telemetry_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/edp-data/edp/internal/telemetry"
)

// sample returns the value of the series name{labels} in g: a counter's or
// gauge's value, or a histogram's sample count. ok is false when the series
// does not exist.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; !ok || want != l.GetValue() {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
			t.Fatalf("%s has unexpected type %v", name, f.GetType())
		}
	}
	return 0, false
}

func wantSample(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := sample(t, g, name, labels)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// exercise calls every recording method once, so that every vector has a
// series for the linter to look at.
func exercise(m *telemetry.Metrics) {
	m.ObserveQuery(telemetry.QueryStats{Statement: "select", Outcome: "ok", Duration: 30 * time.Millisecond,
		Rows: 10, BytesScanned: 4096, FilesPlanned: 8, FilesPruned: 6})
	m.ObserveCommit(telemetry.CommitStats{Operation: "append", Outcome: "ok", Duration: time.Second, Retries: 1, Conflicts: 1})
	m.ObserveLoad("csv", "ok", 100, 2048)
	m.AuthFailure("password")
	m.ObserveAuditAppend(time.Millisecond, nil)
	h := m.InstrumentHTTP(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
}

func TestMetricsLint(t *testing.T) {
	m := telemetry.NewMetrics("1.2.3")
	exercise(m)
	m.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil)) // adds promhttp's own metrics
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewMetricsRegistry(t *testing.T) {
	m := telemetry.NewMetrics("1.2.3")
	telemetry.NewMetrics("other") // registries are independent: no duplicate registration panic

	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP edp_build_info Always 1; the version label says which edp is running.
# TYPE edp_build_info gauge
edp_build_info{version="1.2.3"} 1
`), "edp_build_info")
	if err != nil {
		t.Error(err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if n, err := testutil.GatherAndCount(m.Registry(), name); err != nil || n != 1 {
			t.Errorf("GatherAndCount(%q) = %d, %v; want 1 (runtime and process collectors registered)", name, n, err)
		}
	}
}

func TestMetricsHandler(t *testing.T) {
	m := telemetry.NewMetrics("9.9.9")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `edp_build_info{version="9.9.9"} 1`) {
		t.Errorf("GET /metrics = %d, body without edp_build_info:\n%.500s", res.StatusCode, body)
	}
}

func TestObserveQuery(t *testing.T) {
	m := telemetry.NewMetrics("test")
	reg := m.Registry()
	m.ObserveQuery(telemetry.QueryStats{Statement: "select", Outcome: "ok", Duration: 2 * time.Second,
		Rows: 10, BytesScanned: 1000, FilesPlanned: 5, FilesPruned: 3})
	m.ObserveQuery(telemetry.QueryStats{Statement: "select", Outcome: "ok", Rows: 5, BytesScanned: 500})
	m.ObserveQuery(telemetry.QueryStats{Statement: "insert", Outcome: "denied"})
	// Unbounded or unknown values must not become label values.
	m.ObserveQuery(telemetry.QueryStats{Statement: "SELECT * FROM secrets", Outcome: "syntax error at line 1"})
	// Negative counts (unknown) are ignored rather than panicking.
	m.ObserveQuery(telemetry.QueryStats{Statement: "select", Outcome: "error", Rows: -1, BytesScanned: -1, FilesPlanned: -1})

	wantSample(t, reg, "edp_queries_total", map[string]string{"statement": "select", "outcome": "ok"}, 2)
	wantSample(t, reg, "edp_queries_total", map[string]string{"statement": "select", "outcome": "error"}, 1)
	wantSample(t, reg, "edp_queries_total", map[string]string{"statement": "insert", "outcome": "denied"}, 1)
	wantSample(t, reg, "edp_queries_total", map[string]string{"statement": "other", "outcome": "other"}, 1)
	wantSample(t, reg, "edp_query_duration_seconds", map[string]string{"statement": "select"}, 3)
	wantSample(t, reg, "edp_query_rows_total", map[string]string{"statement": "select"}, 15)
	wantSample(t, reg, "edp_query_scanned_bytes_total", map[string]string{"statement": "select"}, 1500)
	wantSample(t, reg, "edp_query_files_planned_total", map[string]string{"statement": "select"}, 5)
	wantSample(t, reg, "edp_query_files_pruned_total", map[string]string{"statement": "select"}, 3)
	if n, _ := testutil.GatherAndCount(reg, "edp_queries_total"); n != 4 {
		t.Errorf("edp_queries_total has %d series, want 4", n)
	}
}

func TestObserveCommitLoadAuthAudit(t *testing.T) {
	m := telemetry.NewMetrics("test")
	reg := m.Registry()
	m.ObserveCommit(telemetry.CommitStats{Operation: "append", Outcome: "ok", Duration: time.Second, Retries: 2, Conflicts: 1})
	m.ObserveCommit(telemetry.CommitStats{Operation: "row_delta", Outcome: "conflict", Conflicts: 3})
	m.ObserveCommit(telemetry.CommitStats{Operation: "sales.orders", Outcome: "ok"}) // a table name is not an operation
	m.ObserveLoad("parquet", "ok", 1000, 1<<20)
	m.ObserveLoad("parquet", "error", 0, 0)
	m.ObserveLoad("/tmp/x.xlsx", "ok", 1, 1)
	for _, method := range []string{"password", "password", "api_key", "alice"} {
		m.AuthFailure(method)
	}
	m.ObserveAuditAppend(time.Millisecond, nil)
	m.ObserveAuditAppend(time.Millisecond, errors.New("disk full"))

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"edp_commits_total", map[string]string{"operation": "append", "outcome": "ok"}, 1},
		{"edp_commits_total", map[string]string{"operation": "row_delta", "outcome": "conflict"}, 1},
		{"edp_commits_total", map[string]string{"operation": "other", "outcome": "ok"}, 1},
		{"edp_commit_duration_seconds", map[string]string{"operation": "append"}, 1},
		{"edp_commit_retries_total", map[string]string{"operation": "append"}, 2},
		{"edp_commit_conflicts_total", map[string]string{"operation": "row_delta"}, 3},
		{"edp_loads_total", map[string]string{"format": "parquet", "outcome": "ok"}, 1},
		{"edp_loads_total", map[string]string{"format": "parquet", "outcome": "error"}, 1},
		{"edp_loads_total", map[string]string{"format": "other", "outcome": "ok"}, 1},
		{"edp_load_rows_total", map[string]string{"format": "parquet"}, 1000},
		{"edp_load_bytes_total", map[string]string{"format": "parquet"}, 1 << 20},
		{"edp_auth_failures_total", map[string]string{"method": "password"}, 2},
		{"edp_auth_failures_total", map[string]string{"method": "api_key"}, 1},
		{"edp_auth_failures_total", map[string]string{"method": "other"}, 1},
		{"edp_auth_failures_total", map[string]string{"method": "oidc"}, 0}, // exists before the first failure
		{"edp_audit_appends_total", map[string]string{"outcome": "ok"}, 1},
		{"edp_audit_appends_total", map[string]string{"outcome": "error"}, 1},
		{"edp_audit_append_duration_seconds", map[string]string{}, 2},
	}
	for _, tt := range tests {
		wantSample(t, reg, tt.name, tt.labels, tt.want)
	}
}

// A nil *Metrics is what tests and the CLI pass when nothing is scraped.
func TestNilMetrics(t *testing.T) {
	var m *telemetry.Metrics
	exercise(m)
	if m.Registry() != nil {
		t.Error("nil Metrics: Registry() != nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics: Handler() answered %d, want 404", rec.Code)
	}
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	m.InstrumentHTTP(next).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Error("nil Metrics: InstrumentHTTP(next) did not call next")
	}
}
