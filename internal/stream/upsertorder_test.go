package stream_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestUpsertOffsetOrderWithinPartition is the regression test for changes
// of one key in one partition applied in producer-timestamp order: with
// timestamps going backwards the older offset was applied last. Kafka's
// order (and its log compaction) says the later offset wins, in one batch
// or across two. Across partitions timestamps still decide.
func TestUpsertOffsetOrderWithinPartition(t *testing.T) {
	e := newEnv(t, map[string]int32{"kv": 2})
	now := time.Now()
	recs := []*kgo.Record{
		// Key 1, one partition, clock going backwards: offset 1 wins.
		{Topic: "kv", Partition: 0, Key: []byte("1"), Value: []byte(`{"k":1,"v":"first"}`), Timestamp: now.Add(10 * time.Second)},
		{Topic: "kv", Partition: 0, Key: []byte("1"), Value: []byte(`{"k":1,"v":"second"}`), Timestamp: now},
		// Key 2 moved from partition 1 to partition 0: the newer wins,
		// whichever partition comes first in the batch.
		{Topic: "kv", Partition: 0, Key: []byte("2"), Value: []byte(`{"k":2,"v":"new"}`), Timestamp: now.Add(20 * time.Second)},
		{Topic: "kv", Partition: 1, Key: []byte("2"), Value: []byte(`{"k":2,"v":"old"}`), Timestamp: now.Add(5 * time.Second)},
	}
	if err := e.prod.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	spec := stream.Spec{Name: "kv", Topics: []string{"kv"}, Table: lake.Ident{Namespace: "cur", Name: "kv"},
		Mode: stream.ModeUpsert, Key: []string{"k"}, CommitInterval: 300 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("all four records", func() bool { return p.Status().Records == 4 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, tc := range []struct{ key, want string }{{"1", "second"}, {"2", "new"}} {
		if got := e.query("SELECT v FROM cur.kv WHERE k = " + tc.key); len(got) != 1 || got[0] != tc.want {
			t.Errorf("v of key %s = %v, want [%s]", tc.key, got, tc.want)
		}
	}
}

// TestUpsertNullKeyRow is the regression test for an upsert pipeline that
// failed forever, restarted every few seconds, because one row of its
// table (written through SQL) had a NULL key: rebuilding the key index
// could not read it. Such a row belongs to no key and stays as it is.
func TestUpsertNullKeyRow(t *testing.T) {
	e := newEnv(t, map[string]int32{"kv": 1})
	e.query("CREATE SCHEMA cur")
	e.query("CREATE TABLE cur.kv (k BIGINT, v VARCHAR)")
	e.query("INSERT INTO cur.kv VALUES (NULL, 'from sql'), (1, 'old')")
	e.produceKeyed("kv", 0, "1", []byte(`{"k":1,"v":"a"}`))
	spec := stream.Spec{Name: "kv", Topics: []string{"kv"}, Table: lake.Ident{Namespace: "cur", Name: "kv"},
		Mode: stream.ModeUpsert, Key: []string{"k"}, CommitInterval: 200 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("the record committed or the pipeline failed", func() bool {
		st := p.Status()
		return st.Rows == 1 || st.State == stream.StateFailed
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got, want := e.query("SELECT k, v FROM cur.kv ORDER BY k NULLS LAST"), []string{"1 | a", "<nil> | from sql"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("rows = %q, want %q", got, want)
	}
}
