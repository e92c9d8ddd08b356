package stream_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

func jsonRecords(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`{"id":%d,"name":"n%d","amount":%d.5}`, i, i, i))
	}
	return out
}

func TestAppendJSON(t *testing.T) {
	e := newEnv(t, map[string]int32{"orders": 3})
	for p := int32(0); p < 3; p++ {
		e.produce("orders", p, jsonRecords(int(p)*100, int(p)*100+100)...)
	}
	spec := stream.Spec{Name: "orders", Topics: []string{"orders"}, Table: lake.Ident{Namespace: "raw", Name: "orders"}, CommitInterval: 200 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("300 rows", func() bool { return e.count("SELECT count(*) FROM raw.orders") == 300 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	got := e.query("SELECT count(DISTINCT id), sum(id), min(name), max(amount) FROM raw.orders")
	if want := "300 | 44850 | n0 | 299.5"; len(got) != 1 || got[0] != want {
		t.Errorf("table = %v, want %s", got, want)
	}
	tbl, err := e.lake.LoadTable(e.ctx, spec.Table)
	if err != nil {
		t.Fatal(err)
	}
	var offsets map[string]map[string]int64
	if err := json.Unmarshal([]byte(tbl.CurrentSnapshot().Summary.Properties[stream.OffsetsProperty("orders")]), &offsets); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"0", "1", "2"} {
		if offsets["orders"][part] != 100 {
			t.Errorf("snapshot offsets = %v, want 100 for every partition", offsets)
		}
	}
	st := p.Status()
	if st.Records != 300 || st.Rows != 300 || st.Commits == 0 || st.State != stream.StateStopped {
		t.Errorf("Status = %+v, want 300 records and rows, some commits, stopped", st)
	}

	// A restart resumes from the table's offsets: new records only.
	e.produce("orders", 1, jsonRecords(1000, 1010)...)
	_, stop = e.start(spec, e.deps())
	e.waitFor("310 rows", func() bool { return e.count("SELECT count(*) FROM raw.orders") == 310 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := e.query("SELECT count(*) - count(DISTINCT id) FROM raw.orders"); got[0] != "0" {
		t.Errorf("duplicates after restart: %v", got)
	}
}
