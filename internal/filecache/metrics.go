package filecache

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	hits, misses, fillBytes, evictions, fillErrors, corrupt prometheus.Counter
	bytes                                                   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), log)
	}
	return &metrics{
		hits: counter("edp_file_cache_hits_total",
			"Acquires served from a cached file (including files checked on first use after a restart)."),
		misses: counter("edp_file_cache_misses_total",
			"Acquires that found no usable cached file and waited for a download, whether it succeeded or not; concurrent Acquires sharing one download each count."),
		fillBytes: counter("edp_file_cache_fill_bytes_total",
			"Bytes read from the object store into the cache, including fills that failed."),
		evictions: counter("edp_file_cache_evictions_total",
			"Cached files removed to make room."),
		fillErrors: counter("edp_file_cache_fill_errors_total",
			"Downloads that failed or were cancelled; nothing was cached."),
		corrupt: counter("edp_file_cache_corrupt_total",
			"Cached files whose content no longer matched the hash taken when they were filled."),
		bytes: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edp_file_cache_bytes",
			Help: "Bytes of the cached files.",
		}), log),
	}
}

// register adds c to reg (when there is one), or returns the collector
// already registered under the same name, so that a Cache reopened in the
// same process keeps reporting.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
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
