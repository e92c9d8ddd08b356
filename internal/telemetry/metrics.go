package telemetry

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds edp's Prometheus metrics and the registry they live in.
// Every method is safe on a nil *Metrics and then does nothing.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests     *prometheus.CounterVec   // method, route, code
	httpDuration     *prometheus.HistogramVec // method, route
	httpInFlight     prometheus.Gauge
	httpResponseSize *prometheus.HistogramVec // method, route

	queries            *prometheus.CounterVec   // statement, outcome
	queryDuration      *prometheus.HistogramVec // statement
	queryRows          *prometheus.CounterVec   // statement
	queryScannedBytes  *prometheus.CounterVec   // statement
	queryFilesPlanned  *prometheus.CounterVec   // statement
	queryFilesPruned   *prometheus.CounterVec   // statement
	commits            *prometheus.CounterVec   // operation, outcome
	commitDuration     *prometheus.HistogramVec // operation
	commitRetries      *prometheus.CounterVec   // operation
	commitConflicts    *prometheus.CounterVec   // operation
	loads              *prometheus.CounterVec   // format, outcome
	loadRows           *prometheus.CounterVec   // format
	loadBytes          *prometheus.CounterVec   // format
	authFailures       *prometheus.CounterVec   // method
	auditAppends       *prometheus.CounterVec   // outcome
	auditAppendLatency prometheus.Histogram
}

// durationBuckets spans fast API calls and multi-minute queries and loads;
// Prometheus' default buckets stop at 10s.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// NewMetrics returns Metrics registered in a new registry, together with the
// Go runtime and process collectors and edp_build_info{version} = 1. Each
// call has its own registry, so tests can create as many as they like.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{reg: reg}

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	f.gaugeVec("edp_build_info", "Always 1; the version label says which edp is running.", "version").
		WithLabelValues(version).Set(1)

	m.httpRequests = f.counterVec("edp_http_requests_total",
		"HTTP requests served, by method, route pattern and status code.", "method", "route", "code")
	m.httpDuration = f.histogramVec("edp_http_request_duration_seconds",
		"Time from receiving an HTTP request to the handler returning, by method and route pattern.",
		durationBuckets, "method", "route")
	m.httpInFlight = f.gauge("edp_http_requests_in_flight", "HTTP requests being served.")
	m.httpResponseSize = f.histogramVec("edp_http_response_size_bytes",
		"Bytes of HTTP response bodies written, by method and route pattern.",
		prometheus.ExponentialBuckets(256, 4, 10), "method", "route")

	m.queries = f.counterVec("edp_queries_total",
		"SQL statements run, by statement kind and outcome.", "statement", "outcome")
	m.queryDuration = f.histogramVec("edp_query_duration_seconds",
		"Time to run a SQL statement, by statement kind.", durationBuckets, "statement")
	m.queryRows = f.counterVec("edp_query_rows_total",
		"Rows returned (SELECT) or written (DML) by SQL statements.", "statement")
	m.queryScannedBytes = f.counterVec("edp_query_scanned_bytes_total",
		"Bytes of data files planned for scanning by SQL statements.", "statement")
	m.queryFilesPlanned = f.counterVec("edp_query_files_planned_total",
		"Data files SQL statements planned to read (after pruning).", "statement")
	m.queryFilesPruned = f.counterVec("edp_query_files_pruned_total",
		"Data files skipped by SQL statements thanks to partition and column statistics.", "statement")

	m.commits = f.counterVec("edp_commits_total",
		"Table commits, by operation and outcome.", "operation", "outcome")
	m.commitDuration = f.histogramVec("edp_commit_duration_seconds",
		"Time to commit a table change, including retries, by operation.", durationBuckets, "operation")
	m.commitRetries = f.counterVec("edp_commit_retries_total",
		"Extra commit attempts after the first, by operation.", "operation")
	m.commitConflicts = f.counterVec("edp_commit_conflicts_total",
		"Commit attempts lost to a concurrent writer, by operation.", "operation")

	m.loads = f.counterVec("edp_loads_total", "Batch loads, by input format and outcome.", "format", "outcome")
	m.loadRows = f.counterVec("edp_load_rows_total", "Rows written by batch loads, by input format.", "format")
	m.loadBytes = f.counterVec("edp_load_bytes_total", "Bytes of input read by batch loads, by input format.", "format")

	m.authFailures = f.counterVec("edp_auth_failures_total",
		"Failed authentications, by the credential presented (missing, password, api_key, token, oidc, other).", "method")
	for _, method := range authMethods {
		m.authFailures.WithLabelValues(method) // a series at zero, so increases show up in rate()
	}
	m.authFailures.WithLabelValues(labelOther)

	m.auditAppends = f.counterVec("edp_audit_appends_total", "Audit log appends, by outcome.", "outcome")
	m.auditAppendLatency = f.histogram("edp_audit_append_duration_seconds",
		"Time to append one entry to the audit log.", prometheus.ExponentialBuckets(0.0005, 2, 14))
	return m
}

// Registry returns the registry holding every metric, for gathering in
// tests or registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus exposition formats. On a nil
// *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// QueryStats describes one SQL statement for ObserveQuery.
type QueryStats struct {
	Statement    string // select, insert, update, delete, merge, ddl, explain, other
	Outcome      string // ok, error, cancelled, denied
	Duration     time.Duration
	Rows         int64 // returned by a SELECT, written by DML
	BytesScanned int64
	FilesPlanned int
	FilesPruned  int
}

// ObserveQuery records a finished SQL statement. Unknown statement kinds and
// outcomes are counted as "other".
func (m *Metrics) ObserveQuery(s QueryStats) {
	if m == nil {
		return
	}
	stmt := bounded(s.Statement, statements)
	m.queries.WithLabelValues(stmt, bounded(s.Outcome, outcomes)).Inc()
	m.queryDuration.WithLabelValues(stmt).Observe(s.Duration.Seconds())
	addPositive(m.queryRows.WithLabelValues(stmt), s.Rows)
	addPositive(m.queryScannedBytes.WithLabelValues(stmt), s.BytesScanned)
	addPositive(m.queryFilesPlanned.WithLabelValues(stmt), int64(s.FilesPlanned))
	addPositive(m.queryFilesPruned.WithLabelValues(stmt), int64(s.FilesPruned))
}

// CommitStats describes one table commit for ObserveCommit.
type CommitStats struct {
	Operation string // append, delete, overwrite, replace, row_delta, schema, ...; see operations
	Outcome   string // ok, error, conflict, cancelled, denied
	Duration  time.Duration
	Retries   int // attempts after the first
	Conflicts int // attempts lost to a concurrent writer
}

// ObserveCommit records a finished table commit. Unknown operations and
// outcomes are counted as "other".
func (m *Metrics) ObserveCommit(s CommitStats) {
	if m == nil {
		return
	}
	op := bounded(s.Operation, operations)
	m.commits.WithLabelValues(op, bounded(s.Outcome, outcomes)).Inc()
	m.commitDuration.WithLabelValues(op).Observe(s.Duration.Seconds())
	addPositive(m.commitRetries.WithLabelValues(op), int64(s.Retries))
	addPositive(m.commitConflicts.WithLabelValues(op), int64(s.Conflicts))
}

// ObserveLoad records a finished batch load of rows read from bytes of input
// in format (csv, json, parquet; others count as "other").
func (m *Metrics) ObserveLoad(format, outcome string, rows, bytes int64) {
	if m == nil {
		return
	}
	format = bounded(format, formats)
	m.loads.WithLabelValues(format, bounded(outcome, outcomes)).Inc()
	addPositive(m.loadRows.WithLabelValues(format), rows)
	addPositive(m.loadBytes.WithLabelValues(format), bytes)
}

// AuthFailure counts a failed authentication by the kind of credential
// presented: missing, password, api_key, token or oidc; anything else
// counts as "other".
func (m *Metrics) AuthFailure(method string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(bounded(method, authMethodSet)).Inc()
}

// ObserveAuditAppend records one audit log append that took d and failed
// when err is non-nil.
func (m *Metrics) ObserveAuditAppend(d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.auditAppends.WithLabelValues(outcome).Inc()
	m.auditAppendLatency.Observe(d.Seconds())
}

// The label values each bounded label accepts; anything else becomes
// labelOther. Keeping them closed is what keeps the series count fixed.
const labelOther = "other"

var (
	statements = set("select", "insert", "update", "delete", "merge", "ddl", "explain")
	outcomes   = set("ok", "error", "cancelled", "denied", "conflict")
	// The commit kinds of the brief's callers and of internal/lake's Op*
	// constants.
	operations = set("append", "delete", "overwrite", "replace", "row_delta", "schema",
		"partitioning", "properties", "rollback", "create", "drop", "rename", "compact", "expire", "rewrite_manifests", "register",
		"commit", "create_view", "replace_view", "drop_view", "rename_view")
	formats       = set("csv", "json", "parquet")
	authMethods   = []string{"missing", "password", "api_key", "token", "oidc"}
	authMethodSet = set(authMethods...)
)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func bounded(v string, allowed map[string]bool) string {
	if allowed[v] {
		return v
	}
	return labelOther
}

// addPositive adds n to c when n is positive: a counter panics on negative
// additions, and a caller's -1 "unknown" must not take the server down.
func addPositive(c prometheus.Counter, n int64) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// factory creates metrics and registers them, panicking on a clash: the
// names are fixed in this file, so a clash is a programming error caught by
// any test that calls NewMetrics.
type factory struct{ reg prometheus.Registerer }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// RegisterOrReuse adds c to reg (when there is one), or returns the
// collector already registered under the same name, so that components
// made more than once in a process (a cache reopened, several callers of
// one service) keep reporting into one series. Any other registration
// failure is logged and c returned unregistered.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("metric not registered", "err", err)
	return c
}
