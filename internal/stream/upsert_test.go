package stream_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/maintain"
	"github.com/edp-data/edp/internal/stream"
)

// TestUpsertAgainstModel applies random inserts, updates, deletes
// (tombstones) and keys moving between the table's partitions (the region
// of a key changes; the table is partitioned by region), in rounds, with
// the pipeline restarted between rounds and the table compacted and its
// snapshots expired by maintenance in the middle (so the key index is
// rebuilt and offsets come from the table property). After each round the
// table must equal a map applying the same changes in order.
func TestUpsertAgainstModel(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 11))
	e := newEnv(t, map[string]int32{"kv": 4})
	spec := stream.Spec{Name: "kv", Topics: []string{"kv"}, Table: lake.Ident{Namespace: "cur", Name: "kv"},
		Mode: stream.ModeUpsert, Key: []string{"k"}, CommitInterval: 40 * time.Millisecond, MaxBatchRecords: 60}
	// A partitioned table: an update that changes a key's region moves
	// its row to another partition, which an equality delete scoped to the
	// new partition would miss.
	if err := e.lake.CreateNamespace(e.ctx, "cur", nil, true); err != nil {
		t.Fatal(err)
	}
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "region", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "v", Type: iceberg.PrimitiveTypes.String})
	pspec, err := lake.BuildSpec(schema, []string{"region"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lake.CreateTable(e.ctx, spec.Table, schema, pspec, nil); err != nil {
		t.Fatal(err)
	}
	regions := []string{"eu", "us", "apac"}
	model := map[int]string{}
	ts := time.UnixMilli(1_700_000_000_000)
	var version int
	for round := 0; round < 6; round++ {
		var recs []*kgo.Record
		for range 50 + rng.IntN(150) {
			k := rng.IntN(40)
			// Keyed records stay in their key's Kafka partition, as Kafka
			// producers place them.
			ts = ts.Add(time.Millisecond)
			r := &kgo.Record{Topic: "kv", Partition: int32(k % 4), Key: []byte(fmt.Sprint(k)), Timestamp: ts}
			if _, ok := model[k]; ok && rng.IntN(4) == 0 {
				delete(model, k)
			} else {
				version++
				region := regions[rng.IntN(len(regions))]
				v := fmt.Sprintf("v%d", version)
				model[k] = region + " | " + v
				r.Value = fmt.Appendf(nil, `{"k":%d,"region":"%s","v":"%s"}`, k, region, v)
			}
			recs = append(recs, r)
		}
		if err := e.prod.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, k := range slices.Sorted(maps.Keys(model)) {
			want = append(want, fmt.Sprintf("%d | %s", k, model[k]))
		}
		p, stop := e.start(spec, e.deps())
		var got []string
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, _ = e.tryQuery("SELECT k, region, v FROM cur.kv ORDER BY k")
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: table (status %+v):\n%s\nwant:\n%s", round, p.Status(), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if round == 2 {
			if _, err := maintain.Run(e.ctx, e.lake, spec.Table, maintain.Options{TempDir: filepath.Join(e.dir, "tmp"),
				ExpireOlderThan: time.Millisecond, RetainLast: 1, SkipOrphans: true}, nil); err != nil {
				t.Fatal(err)
			}
			if got := e.query("SELECT k, region, v FROM cur.kv ORDER BY k"); !slices.Equal(got, want) {
				t.Fatalf("after maintenance: %v, want %v", got, want)
			}
		}
	}
	// The deletes were position deletes, never equality deletes.
	tbl, err := e.lake.LoadTable(e.ctx, spec.Table)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	posDeletes := 0
	for _, task := range tasks {
		if len(task.EqualityDeleteFiles) > 0 {
			t.Errorf("file %s has equality deletes", task.File.FilePath())
		}
		posDeletes += len(task.DeleteFiles)
	}
	if posDeletes == 0 {
		t.Errorf("no position deletes in the final table; the last rounds should have replaced rows")
	}
}

func TestDebezium(t *testing.T) {
	e := newEnv(t, map[string]int32{"dbserver1.public.customers": 1})
	files, err := filepath.Glob("testdata/debezium/[0-9]*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	slices.Sort(files)
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Key, Value json.RawMessage
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r := &kgo.Record{Topic: "dbserver1.public.customers", Timestamp: time.UnixMilli(int64(1_700_000_000_000 + i))}
		if string(ev.Key) != "null" {
			r.Key = ev.Key
		}
		if string(ev.Value) != "null" {
			r.Value = ev.Value
		}
		if err := e.prod.ProduceSync(e.ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	wantB, err := os.ReadFile("testdata/debezium/want.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(wantB)), "\n")
	spec := stream.Spec{Name: "customers", Topics: []string{"dbserver1.public.customers"}, Table: lake.Ident{Namespace: "cdc", Name: "customers"},
		Mode: stream.ModeUpsert, Envelope: stream.EnvelopeDebezium, Key: []string{"id"}, CommitInterval: 50 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("every event", func() bool { return p.Status().Records == int64(len(files)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := e.query("SELECT id, name, email FROM cdc.customers ORDER BY id"); !slices.Equal(got, want) {
		t.Errorf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The truncate event is refused, into the dead-letter table.
	if got := e.query("SELECT stage, error FROM cdc.customers__dlq"); len(got) != 1 || !strings.Contains(got[0], "truncate") {
		t.Errorf("dead letters = %v, want the truncate event", got)
	}
}
