package stream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestRegistryTombstoneKeys is the regression test for tombstones of avro
// pipelines whose keys stayed in the Confluent wire format: the key
// matched no row and the delete silently did nothing. Keys of tombstones
// are decoded through the registry like values.
func TestRegistryTombstoneKeys(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	valueSchema := `{"type":"record","name":"KV","fields":[{"name":"k","type":"long"},{"name":"v","type":"string"}]}`
	keySchema := `"long"`
	vid, _, err := reg.RegisterSchema("kv-value", sr.Schema{Schema: valueSchema})
	if err != nil {
		t.Fatal(err)
	}
	kid, _, err := reg.RegisterSchema("kv-key", sr.Schema{Schema: keySchema})
	if err != nil {
		t.Fatal(err)
	}
	encode := func(id int, schema string, v any) []byte {
		s, err := avro.Parse(schema)
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		b, _ := h.AppendEncode(nil, id, nil)
		if b, err = s.AppendEncode(b, v); err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := newEnv(t, map[string]int32{"kv": 1})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	deps := e.deps()
	deps.Registry = cl
	put := func(k int64, v string) *kgo.Record {
		return &kgo.Record{Topic: "kv", Key: encode(kid, keySchema, k), Value: encode(vid, valueSchema, map[string]any{"k": k, "v": v})}
	}
	spec := stream.Spec{Name: "kv", Topics: []string{"kv"}, Table: lake.Ident{Namespace: "cur", Name: "kv"},
		Format: stream.FormatAvro, Mode: stream.ModeUpsert, Key: []string{"k"}, CommitInterval: 100 * time.Millisecond}
	if err := e.prod.ProduceSync(e.ctx, put(1, "a"), put(2, "b")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p, stop := e.start(spec, deps)
	e.waitFor("two rows", func() bool { return e.count("SELECT count(*) FROM cur.kv") == 2 })
	// The tombstone comes in a later batch, so it must find key 1's row
	// in the table through the key index.
	if err := e.prod.ProduceSync(e.ctx, &kgo.Record{Topic: "kv", Key: encode(kid, keySchema, int64(1))}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the tombstone", func() bool { return p.Status().Records == 3 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got, want := e.query("SELECT k, v FROM cur.kv ORDER BY k"), []string{"2 | b"}; !slices.Equal(got, want) {
		t.Errorf("table = %v, want %v", got, want)
	}
}

// TestDebeziumTombstoneIsNoOp pins that the tombstone Debezium sends after
// a delete is skipped, whatever its key's encoding: it used to be read as
// a delete by the record key, so a key in another encoding (Avro through
// a registry) made it a dead letter, or stopped the pipeline.
func TestDebeziumTombstoneIsNoOp(t *testing.T) {
	e := newEnv(t, map[string]int32{"cdc": 1})
	recs := []*kgo.Record{
		{Topic: "cdc", Key: []byte(`{"id":1}`), Value: []byte(`{"op":"c","after":{"id":1,"name":"Ada"}}`)},
		{Topic: "cdc", Key: []byte{0, 0, 0, 0, 7, 2}}, // a wire-format key
	}
	if err := e.prod.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	spec := stream.Spec{Name: "cdc", Topics: []string{"cdc"}, Table: lake.Ident{Namespace: "cdc", Name: "c"},
		Mode: stream.ModeUpsert, Envelope: stream.EnvelopeDebezium, Key: []string{"id"}, OnBadRecord: stream.BadStop,
		CommitInterval: 100 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("both records or a stop", func() bool {
		st := p.Status()
		return st.Records == 2 || st.State == stream.StateFailed
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got, want := e.query("SELECT id, name FROM cdc.c"), []string{"1 | Ada"}; !slices.Equal(got, want) {
		t.Errorf("table = %v, want %v", got, want)
	}
}
