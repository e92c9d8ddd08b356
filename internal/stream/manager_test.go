package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/stream"
)

// TestManager runs stored pipelines as edp serve does: a created pipeline
// starts, a paused one stops consuming and resumes where it left off, one
// that stopped itself stays failed with its error, and a deleted one is
// gone while its table stays.
func TestManager(t *testing.T) {
	e := newEnv(t, map[string]int32{"a": 2, "b": 1})
	store, err := stream.OpenStore(e.ctx, e.lake.MetaDB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := stream.NewManager(store, e.deps(), 50*time.Millisecond)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if _, err := m.Create(e.ctx, stream.Spec{Name: "a", Topics: []string{"a"}, TableName: "raw.a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(e.ctx, stream.Spec{Name: "a", Topics: []string{"a"}, TableName: "raw.a2"}); !errors.Is(err, stream.ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	e.produce("a", 0, jsonRecords(0, 50)...)
	e.produce("a", 1, jsonRecords(50, 100)...)
	e.waitFor("100 rows", func() bool { return e.count("SELECT count(*) FROM raw.a") == 100 })

	if err := m.SetPaused(e.ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the pipeline to pause", func() bool {
		in, err := m.Get(e.ctx, "a")
		return err == nil && in.Status.State == stream.StatePaused && in.Paused
	})
	e.produce("a", 0, jsonRecords(100, 130)...)
	if err := m.SetPaused(e.ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	e.waitFor("130 rows after resuming", func() bool { return e.count("SELECT count(*) FROM raw.a") == 130 })
	if got := e.query("SELECT count(*) - count(DISTINCT id) FROM raw.a"); got[0] != "0" {
		t.Errorf("duplicates after pause and resume: %v", got)
	}

	// A pipeline that stops itself on a bad record stays failed.
	e.produce("b", 0, `{"id":1}`, `not json`, `{"id":2}`)
	if _, err := m.Create(e.ctx, stream.Spec{Name: "b", Topics: []string{"b"}, TableName: "raw.b", OnBadRecord: stream.BadStop}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("pipeline b to fail", func() bool {
		in, err := m.Get(e.ctx, "b")
		return err == nil && in.Status.State == stream.StateFailed && strings.Contains(in.Status.Error, "offset 1")
	})
	list, err := m.List(e.ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d pipelines, %v; want 2", len(list), err)
	}

	if err := m.Delete(e.ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(e.ctx, "a"); !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if n := e.count("SELECT count(*) FROM raw.a"); n != 130 {
		t.Errorf("table after Delete has %d rows, want its 130", n)
	}
	if err := m.SetPaused(e.ctx, "nope", true); !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("SetPaused(nope) = %v, want ErrNotFound", err)
	}
}
