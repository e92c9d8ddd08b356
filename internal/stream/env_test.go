package stream_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/kafka/kafkatest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/lake/laketest"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/stream"
)

// env is a Kafka-protocol broker on loopback, a lake and a query engine
// in a temporary data directory.
type env struct {
	t       *testing.T
	ctx     context.Context
	cluster kafka.Cluster
	kfake   *kfake.Cluster
	lake    *lake.Lake
	engine  *query.Engine
	dir     string
	prod    *kgo.Client
}

func newEnv(t *testing.T, topics map[string]int32) *env {
	t.Helper()
	var opts []kfake.Opt
	for name, parts := range topics {
		opts = append(opts, kfake.SeedTopics(parts, name))
	}
	kc, cluster := kafkatest.Start(t, opts...)
	dir := t.TempDir()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "stream", Roles: []string{auth.RoleAdmin}})
	l, _ := laketest.Open(ctx, t, lake.Options{})
	e, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kafka.NewClient(cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close(); e.Close() })
	return &env{t: t, ctx: ctx, cluster: cluster, kfake: kc, lake: l, engine: e, dir: dir, prod: prod}
}

// deps are a pipeline's dependencies in this env; group sessions are
// short so that a stopped consumer's partitions move on quickly.
func (e *env) deps() stream.Deps {
	return stream.Deps{Logger: debugLog, Lake: e.lake, Cluster: e.cluster, TempDir: filepath.Join(e.dir, "tmp"),
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(500 * time.Millisecond), kgo.HeartbeatInterval(100 * time.Millisecond), kgo.RebalanceTimeout(5 * time.Second), kafkaLogs}}
}

// produce sends values to topic, partition by partition as given.
func (e *env) produce(topic string, partition int32, values ...string) {
	e.t.Helper()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)})
	}
	if err := e.prod.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) produceKeyed(topic string, partition int32, key string, value []byte) {
	e.t.Helper()
	if err := e.prod.ProduceSync(e.ctx, &kgo.Record{Topic: topic, Partition: partition, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// query runs SQL and returns its rows as "a | b" lines.
func (e *env) query(sql string) []string {
	e.t.Helper()
	rows, err := e.tryQuery(sql)
	if err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

func (e *env) tryQuery(sql string) ([]string, error) {
	res, err := e.engine.Exec(e.ctx, sql)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []string
	for res.Rows != nil {
		row, err := res.Rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out, nil
}

// waitFor polls cond until it holds; the bound only keeps a broken test
// from hanging, it asserts nothing about speed.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count returns count(*) of a query, or -1 while the table does not exist.
func (e *env) count(sql string) int {
	rows, err := e.tryQuery(sql)
	if err != nil || len(rows) != 1 {
		return -1
	}
	var n int
	fmt.Sscan(rows[0], &n)
	return n
}

// start runs a pipeline in the background; stop cancels it and returns
// Run's error.
func (e *env) start(spec stream.Spec, deps stream.Deps) (p *stream.Pipeline, stop func() error) {
	e.t.Helper()
	p, err := stream.New(spec, deps)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			cancel()
			result = <-done
			stopped = true
		}
		return result
	}
	e.t.Cleanup(func() { stop() })
	return p, stop
}
