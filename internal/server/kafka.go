package server

import (
	"strings"

	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/kafka"
)

// KafkaCluster turns the kafka.* settings into the cluster that edp kafka
// commands and stream pipelines connect to; ok is false when no brokers
// are configured.
func KafkaCluster(cfg *config.Config) (c kafka.Cluster, ok bool) {
	if strings.TrimSpace(cfg.Kafka.Brokers) == "" {
		return kafka.Cluster{}, false
	}
	for _, b := range strings.Split(cfg.Kafka.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	c.SASLMechanism = cfg.Kafka.SASLMechanism
	c.User = cfg.Kafka.SASLUser
	c.Password = cfg.Kafka.SASLPassword
	c.TLS = cfg.Kafka.TLS
	c.CAFile = cfg.Kafka.TLSCA
	return c, true
}
