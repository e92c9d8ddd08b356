package stream_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// createTable makes raw.t with id long, name string, code string, so the
// records below meet a typed table.
func (e *env) createTable(name string) lake.Ident {
	e.t.Helper()
	id := lake.Ident{Namespace: "raw", Name: name}
	if err := e.lake.CreateNamespace(e.ctx, "raw", nil, true); err != nil {
		e.t.Fatal(err)
	}
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "code", Type: iceberg.PrimitiveTypes.String})
	if _, err := e.lake.CreateTable(e.ctx, id, schema, nil, nil); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// badBatch is one record of every kind a pipeline must refuse, among
// good ones, with the stage each fails in (its dead letter's stage)
// without and with a transform. The transform reads untyped input, so a
// wrong type shows only when its output meets the table.
var badBatch = []struct {
	value              string // "<nil>" for a tombstone
	plain, transformed string // "" for a good record
}{
	{`{"id":1,"name":"a","code":"10"}`, "", ""},
	{`{"id":2,"name":"b"`, "decode", "decode"},
	{`{"id":"three","name":"c"}`, "type", "transform"},
	{`[4]`, "decode", "decode"},
	{`<nil>`, "decode", "decode"},
	{`{"id":5,"name":"e","code":"x5"}`, "", "transform"},
	{`{"id":6,"name":"f","code":"60"}`, "", ""},
}

func TestBadRecords(t *testing.T) {
	// The transform casts code to an integer: "x5" fails there, in
	// DuckDB, not in decoding.
	const transform = "SELECT id, name, CAST(CAST(code AS INTEGER) AS VARCHAR) AS code FROM batch"
	for _, tc := range []struct {
		policy    string
		transform bool
	}{
		{stream.BadDLQ, false}, {stream.BadDLQ, true}, {stream.BadSkip, false}, {stream.BadSkip, true}, {stream.BadStop, false}, {stream.BadStop, true},
	} {
		t.Run(fmt.Sprintf("%s/transform=%v", tc.policy, tc.transform), func(t *testing.T) {
			e := newEnv(t, map[string]int32{"in": 1})
			id := e.createTable("t")
			var good, bad int
			var wantRows, wantDead []string
			for i, r := range badBatch {
				var v []byte
				if r.value != "<nil>" {
					v = []byte(r.value)
				}
				e.produceKeyed("in", 0, "k", v)
				stage := r.plain
				if tc.transform {
					stage = r.transformed
				}
				if stage == "" {
					good++
					wantRows = append(wantRows, r.value)
				} else {
					bad++
					wantDead = append(wantDead, fmt.Sprintf("%d | %s | 0 | in | p | k | %s | true", i, stage, r.value))
				}
			}
			spec := stream.Spec{Name: "p", Topics: []string{"in"}, Table: id, OnBadRecord: tc.policy, CommitInterval: 50 * time.Millisecond}
			if tc.transform {
				spec.Transform = transform
			}
			p, stop := e.start(spec, e.deps())
			switch tc.policy {
			case stream.BadDLQ:
				e.waitFor("rows and dead letters", func() bool {
					return e.count("SELECT count(*) FROM raw.t") == good && e.count("SELECT count(*) FROM raw.t__dlq") == bad
				})
				got := e.query(`SELECT "offset", stage, "partition", topic, pipeline, decode(key), coalesce(decode(value), '<nil>'), length(error) > 0 FROM raw.t__dlq ORDER BY "offset"`)
				if !slices.Equal(got, wantDead) {
					t.Errorf("dead letters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantDead, "\n"))
				}
			case stream.BadSkip:
				e.waitFor("rows", func() bool { return e.count("SELECT count(*) FROM raw.t") == good })
				e.waitFor("status", func() bool { return p.Status().Skipped == int64(bad) })
				if n := e.count("SELECT count(*) FROM raw.t__dlq"); n != -1 {
					t.Errorf("skip made a dead-letter table with %d rows", n)
				}
			case stream.BadStop:
				e.waitFor("the pipeline to stop", func() bool { return p.Status().State == stream.StateFailed })
				err := stop()
				if !errors.Is(err, stream.ErrStopped) || !strings.Contains(err.Error(), "offset 1") {
					t.Errorf("Run = %v, want ErrStopped naming offset 1", err)
				}
				if n := e.count("SELECT count(*) FROM raw.t"); n != 0 {
					t.Errorf("table has %d rows after a stop, want 0 (nothing of the batch)", n)
				}
				return
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			got := e.query(`SELECT '{"id":' || id || ',"name":"' || name || '","code":"' || code || '"}' FROM raw.t ORDER BY id`)
			if !slices.Equal(got, wantRows) {
				t.Errorf("table = %v, want %v", got, wantRows)
			}
		})
	}
}

func TestSchemaChange(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		want    []string // rows after the second record, "" columns joined
		stopped bool
	}{
		{stream.SchemaEvolve, []string{"1 | x | <nil>", "2 | y | 5"}, false},
		{stream.SchemaIgnore, []string{"1 | x", "2 | y"}, false},
		{stream.SchemaFail, []string{"1 | x"}, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e := newEnv(t, map[string]int32{"in": 1})
			spec := stream.Spec{Name: "p", Topics: []string{"in"}, Table: lake.Ident{Namespace: "raw", Name: "t"},
				OnSchemaChange: tc.policy, CommitInterval: 50 * time.Millisecond}
			p, stop := e.start(spec, e.deps())
			e.produce("in", 0, `{"id":1,"a":"x"}`)
			e.waitFor("the first row", func() bool { return e.count("SELECT count(*) FROM raw.t") == 1 })
			e.produce("in", 0, `{"id":2,"a":"y","b":5}`)
			if tc.stopped {
				e.waitFor("the pipeline to stop", func() bool { return p.Status().State == stream.StateFailed })
				if err := stop(); !errors.Is(err, stream.ErrStopped) || !strings.Contains(err.Error(), `"b"`) {
					t.Errorf("Run = %v, want ErrStopped naming field b", err)
				}
			} else {
				e.waitFor("the second row", func() bool { return e.count("SELECT count(*) FROM raw.t") == 2 })
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.query("SELECT * FROM raw.t ORDER BY id"); !slices.Equal(got, tc.want) {
				t.Errorf("table = %v, want %v", got, tc.want)
			}
			if tc.policy == stream.SchemaEvolve {
				// The column and the row that brought it are one snapshot.
				tbl, err := e.lake.LoadTable(e.ctx, spec.Table)
				if err != nil {
					t.Fatal(err)
				}
				snap := tbl.CurrentSnapshot()
				if snap.SchemaID == nil || *snap.SchemaID != tbl.Schema().ID {
					t.Errorf("snapshot schema = %v, want the evolved schema %d", snap.SchemaID, tbl.Schema().ID)
				}
			}
		})
	}
}
