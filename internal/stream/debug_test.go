package stream_test

import (
	"log/slog"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
)

// With EDP_TEST_DEBUG set, pipelines and their Kafka clients log to
// stderr.
var (
	debugLog  = slog.New(slog.DiscardHandler)
	kafkaLogs = kgo.WithLogger(nil)
)

func init() {
	if os.Getenv("EDP_TEST_DEBUG") != "" {
		debugLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		kafkaLogs = kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil))
	}
}
