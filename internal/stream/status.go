package stream

import (
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edp-data/edp/internal/telemetry"
)

// Pipeline states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StatePaused   = "paused"
	StateStopped  = "stopped"
	StateFailed   = "failed"
)

// Metrics are the Prometheus series of all pipelines of a process, by
// pipeline name (pipelines are few and named by operators).
type Metrics struct {
	records, rows, deadLetters, skipped, commits *prometheus.CounterVec
	lag                                          *prometheus.GaugeVec
	freshness                                    *prometheus.HistogramVec
}

// NewMetrics registers the stream series on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"pipeline"}), log)
	}
	return &Metrics{
		records:     counter("edp_stream_records_total", "Kafka records a pipeline committed (as rows, dead letters or skipped)."),
		rows:        counter("edp_stream_rows_total", "Rows a pipeline committed to its table."),
		deadLetters: counter("edp_stream_dead_letters_total", "Records a pipeline wrote to its dead-letter table."),
		skipped:     counter("edp_stream_skipped_total", "Bad records a pipeline dropped (on_bad_record: skip)."),
		commits:     counter("edp_stream_commits_total", "Snapshots a pipeline committed."),
		lag: telemetry.RegisterOrReuse(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edp_stream_lag_records",
			Help: "Records in the pipeline's assigned partitions not yet committed to its table."}, []string{"pipeline"}), log),
		freshness: telemetry.RegisterOrReuse(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "edp_stream_freshness_seconds",
			Help:    "Time from a record's Kafka timestamp to the commit that made it queryable.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}}, []string{"pipeline"}), log),
	}
}

// PartitionStatus is one assigned partition's position.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the next offset the table holds for the partition
	// (-1: none yet); End is the partition's high watermark at the last
	// fetch; Lag is End - Committed.
	Committed int64 `json:"committed"`
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"`
}

// Status describes a pipeline for edp stream status and the API.
type Status struct {
	Name           string            `json:"name"`
	State          string            `json:"state"`
	Error          string            `json:"error,omitempty"`
	Partitions     []PartitionStatus `json:"partitions"`
	Lag            int64             `json:"lag"`
	Records        int64             `json:"records"`
	Rows           int64             `json:"rows"`
	DeadLetters    int64             `json:"dead_letters"`
	Skipped        int64             `json:"skipped"`
	Commits        int64             `json:"commits"`
	RecordsPerSec  float64           `json:"records_per_sec"`
	LastCommit     *time.Time        `json:"last_commit,omitempty"`
	LastSnapshotID int64             `json:"last_snapshot_id,omitempty"`
	// FreshnessP50 and FreshnessMax are over the last commit's records:
	// Kafka timestamp to queryable, in seconds.
	FreshnessP50 float64 `json:"freshness_p50_seconds"`
	FreshnessMax float64 `json:"freshness_max_seconds"`
}

type statusTracker struct {
	name    string
	metrics *Metrics
	now     func() time.Time

	mu     sync.Mutex
	st     Status
	lagOf  map[tp]PartitionStatus
	window []rateSample
}

type rateSample struct {
	at      time.Time
	records int64
}

func newStatusTracker(spec Spec, m *Metrics, now func() time.Time) *statusTracker {
	return &statusTracker{name: spec.Name, metrics: m, now: now, st: Status{Name: spec.Name, State: StateStarting}, lagOf: map[tp]PartitionStatus{}}
}

func (s *statusTracker) setState(state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.State = state
	s.st.Error = ""
	if err != nil {
		s.st.Error = err.Error()
	}
}

func (s *statusTracker) noteError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Error = err.Error()
}

// committed records one commit: how many records, rows, dead letters and
// skips it covered, the snapshot, and each record's Kafka timestamp.
func (s *statusTracker) committed(records, rows, dead, skipped int64, snapshot int64, timestamps []time.Time) {
	now := s.now()
	ages := make([]float64, 0, len(timestamps))
	for _, ts := range timestamps {
		ages = append(ages, max(0, now.Sub(ts).Seconds()))
	}
	sort.Float64s(ages)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Records += records
	s.st.Rows += rows
	s.st.DeadLetters += dead
	s.st.Skipped += skipped
	if snapshot != 0 {
		s.st.Commits++
		s.st.LastSnapshotID = snapshot
		s.st.LastCommit = &now
	}
	if len(ages) > 0 {
		s.st.FreshnessP50 = ages[len(ages)/2]
		s.st.FreshnessMax = ages[len(ages)-1]
	}
	s.window = append(s.window, rateSample{at: now, records: s.st.Records})
	for len(s.window) > 2 && now.Sub(s.window[0].at) > 30*time.Second {
		s.window = s.window[1:]
	}
	if m := s.metrics; m != nil {
		m.records.WithLabelValues(s.name).Add(float64(records))
		m.rows.WithLabelValues(s.name).Add(float64(rows))
		m.deadLetters.WithLabelValues(s.name).Add(float64(dead))
		m.skipped.WithLabelValues(s.name).Add(float64(skipped))
		if snapshot != 0 {
			m.commits.WithLabelValues(s.name).Inc()
		}
		// Sampled: a histogram observation per record would cost more
		// than the rest of the commit bookkeeping.
		h := m.freshness.WithLabelValues(s.name)
		step := max(1, len(ages)/100)
		for i := 0; i < len(ages); i += step {
			h.Observe(ages[i])
		}
	}
}

// positions replaces the partition positions shown in status.
func (s *statusTracker) positions(parts []PartitionStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lagOf = map[tp]PartitionStatus{}
	for _, p := range parts {
		s.lagOf[tp{p.Topic, p.Partition}] = p
	}
	s.updateLag()
}

func (s *statusTracker) forget(revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, parts := range revoked {
		for _, p := range parts {
			delete(s.lagOf, tp{t, p})
		}
	}
	s.updateLag()
}

func (s *statusTracker) updateLag() {
	var total int64
	for _, p := range s.lagOf {
		total += p.Lag
	}
	s.st.Lag = total
	if s.metrics != nil {
		s.metrics.lag.WithLabelValues(s.name).Set(float64(total))
	}
}

func (s *statusTracker) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.st
	out.Partitions = []PartitionStatus{}
	for _, p := range s.lagOf {
		out.Partitions = append(out.Partitions, p)
	}
	slices.SortFunc(out.Partitions, func(a, b PartitionStatus) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	if n := len(s.window); n >= 2 {
		first, last := s.window[0], s.window[n-1]
		if d := last.at.Sub(first.at).Seconds(); d > 0 {
			out.RecordsPerSec = float64(last.records-first.records) / d
		}
	}
	return out
}

// Status reports the pipeline's state, positions and counts.
func (p *Pipeline) Status() Status { return p.stat.status() }
