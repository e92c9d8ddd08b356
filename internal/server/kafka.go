package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/stream"
	"github.com/edp-data/edp/internal/telemetry"
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

// streamPrincipal is who stream pipelines commit as: the server itself,
// acting for the admins who created them (creating one needs admin on
// its table).
var streamPrincipal = auth.Principal{Name: "edp-stream", Roles: []string{auth.RoleAdmin}}

// newStreams opens the pipeline store and the manager that runs it.
func newStreams(ctx context.Context, cfg *config.Config, plat *Platform, metrics *telemetry.Metrics, log *slog.Logger) (*stream.Manager, error) {
	store, err := stream.OpenStore(ctx, plat.Lake.MetaDB(), nil)
	if err != nil {
		return nil, err
	}
	cluster, _ := KafkaCluster(cfg)
	var registry *sr.Client
	if cfg.Kafka.SchemaRegistry != "" {
		if registry, err = sr.NewClient(sr.URLs(cfg.Kafka.SchemaRegistry)); err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
	}
	deps := stream.Deps{Registry: registry,
		Lake: plat.Lake, Cluster: cluster, TempDir: filepath.Join(plat.TempDir(), "stream"), Logger: log,
		Metrics: stream.NewMetrics(metrics.Registry(), log), TargetFileSize: cfg.Load.TargetFileSize,
	}
	return stream.NewManager(store, deps, cfg.Stream.CommitInterval), nil
}
