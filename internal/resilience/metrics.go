package resilience

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/edp-data/edp/internal/telemetry"
)

// metrics are one Caller's view of the shared external-call metrics. A nil
// *metrics records nothing.
type metrics struct {
	calls   *prometheus.CounterVec // target, outcome
	retries prometheus.Counter
	target  string
}

func newMetrics(reg prometheus.Registerer, target string, breaker *gobreaker.CircuitBreaker[struct{}], log *slog.Logger) *metrics {
	calls := telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edp_external_calls_total",
		Help: "Calls to external services by outcome (ok, error, rejected by the circuit breaker); retries within a call are not counted separately.",
	}, []string{"target", "outcome"}), log)
	retries := telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edp_external_call_retries_total",
		Help: "Retried attempts of calls to external services.",
	}, []string{"target"}), log)

	// The gauge reads the breaker at scrape time: gobreaker moves from open
	// to half-open lazily, so a value kept from state-change callbacks would
	// show an idle service as open forever.
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "edp_circuit_breaker_open",
		Help:        "Circuit breaker state of an external service: 1 open, 0.5 half-open, 0 closed.",
		ConstLabels: prometheus.Labels{"target": target},
	}, func() float64 {
		switch breaker.State() {
		case gobreaker.StateOpen:
			return 1
		case gobreaker.StateHalfOpen:
			return 0.5
		}
		return 0
	})
	if err := reg.Register(state); err != nil {
		log.Warn("circuit breaker gauge not registered; is another Caller using the same name?", "err", err)
	}

	m := &metrics{calls: calls, retries: retries.WithLabelValues(target), target: target}
	for _, o := range []string{outcomeOK, outcomeError, outcomeRejected} {
		// Create the series at zero so rate() and alerts see them before
		// the first failure.
		calls.WithLabelValues(target, o)
	}
	return m
}

func (m *metrics) observe(outcome string) {
	if m != nil {
		m.calls.WithLabelValues(m.target, outcome).Inc()
	}
}

func (m *metrics) retried() {
	if m != nil {
		m.retries.Inc()
	}
}
