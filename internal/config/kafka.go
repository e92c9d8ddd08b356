package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// KafkaConfig says how to reach the Kafka cluster that edp kafka commands
// and stream pipelines use.
type KafkaConfig struct {
	Brokers       string // comma-separated host:port; empty means no Kafka
	SASLMechanism string // "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUser      string
	SASLPassword  string
	TLS           bool
	TLSCA         string // PEM file; empty means the system roots
	// SchemaRegistry is the URL of a Confluent-compatible schema registry.
	SchemaRegistry string
}

// StreamConfig holds defaults for stream pipelines.
type StreamConfig struct {
	// CommitInterval is how often a pipeline commits when it does not say.
	CommitInterval time.Duration
}

// checkBrokers accepts a comma-separated list of host:port addresses.
func checkBrokers(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	for _, b := range strings.Split(raw, ",") {
		b = strings.TrimSpace(b)
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("has %q, which is not host:port; use a list like kafka1:9092,kafka2:9092", b)
		}
	}
	return nil
}
