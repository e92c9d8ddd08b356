// Package kafkatest is test support: a Kafka-protocol cluster (franz-go's
// kfake) started in-process on real loopback TCP ports, with the
// kafka.Cluster settings that reach it. Only tests import it.
package kafkatest

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edp-data/edp/internal/kafka"
)

// Start starts a cluster and closes it when the test ends. Group session
// timeouts may be as short as 100 ms, so tests of rebalances need not wait
// for Kafka's 6 s minimum.
func Start(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, kafka.Cluster) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, kafka.Cluster{Brokers: c.ListenAddrs()}
}
