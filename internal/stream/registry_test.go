package stream_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestAvroThroughRegistry reads Avro values in the Confluent wire format,
// resolving schemas through a Confluent-compatible registry (franz-go's
// srfake on loopback). A second schema version adds a field, which
// evolves the table; a value with no registry header, and one naming a
// schema the registry lacks, are dead letters with their bytes.
func TestAvroThroughRegistry(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	v1 := `{"type":"record","name":"Customer","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`
	v2 := `{"type":"record","name":"Customer","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"email","type":["null","string"],"default":null}]}`
	id1, _, err := reg.RegisterSchema("customers-value", sr.Schema{Schema: v1})
	if err != nil {
		t.Fatal(err)
	}
	id2, _, err := reg.RegisterSchema("customers-value", sr.Schema{Schema: v2})
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
		b, err = s.AppendEncode(b, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := newEnv(t, map[string]int32{"customers": 1})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	deps := e.deps()
	deps.Registry = cl
	values := [][]byte{
		encode(id1, v1, map[string]any{"id": int64(1), "name": "Ada"}),
		encode(id1, v1, map[string]any{"id": int64(2), "name": "Grace"}),
		[]byte(`{"id":3}`), // JSON without the registry header
		encode(9999, v1, map[string]any{"id": int64(4), "name": "nobody"}),
	}
	for _, v := range values {
		e.produceKeyed("customers", 0, "k", v)
	}
	spec := stream.Spec{Name: "cust", Topics: []string{"customers"}, Table: lake.Ident{Namespace: "crm", Name: "customers"},
		Format: stream.FormatAvro, CommitInterval: 50 * time.Millisecond}
	p, stop := e.start(spec, deps)
	e.waitFor("the first records", func() bool { return p.Status().Records == 4 })
	// A producer moves to the second schema version, with a new field.
	e.produceKeyed("customers", 0, "k", encode(id2, v2, map[string]any{"id": int64(5), "name": "Edsger", "email": map[string]any{"string": "ewd@example.com"}}))
	e.waitFor("the evolved record", func() bool { return p.Status().Records == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := e.query("SELECT id, name, email FROM crm.customers ORDER BY id")
	want := []string{"1 | Ada | <nil>", "2 | Grace | <nil>", "5 | Edsger | ewd@example.com"}
	if !slices.Equal(got, want) {
		t.Errorf("table = %v, want %v", got, want)
	}
	dead := e.query(`SELECT "offset", stage, octet_length(value) FROM crm.customers__dlq ORDER BY "offset"`)
	wantDead := []string{"2 | decode | 8", fmt.Sprintf("3 | decode | %d", len(values[3]))}
	if !slices.Equal(dead, wantDead) {
		t.Errorf("dead letters = %v, want %v", dead, wantDead)
	}
}
