package filecache

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edp-data/edp/internal/telemetry"
)

type metrics struct {
	hits, misses, fillBytes, evictions, fillErrors, corrupt prometheus.Counter
	bytes                                                   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return telemetry.RegisterOrReuse(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), log)
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
		bytes: telemetry.RegisterOrReuse(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edp_file_cache_bytes",
			Help: "Bytes of the cached files.",
		}), log),
	}
}
