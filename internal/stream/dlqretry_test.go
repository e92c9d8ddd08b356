package stream_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestDLQRetryKeepsNewlyBadRecord is the regression test for a record that
// ended up in neither the table nor the dead-letter table: the dead-letter
// commit marked the batch's whole offset range done; the data commit then
// lost a race with a schema change, and on the retry a record that had
// only now become bad was taken for one dead-lettered before.
func TestDLQRetryKeepsNewlyBadRecord(t *testing.T) {
	e := newEnv(t, map[string]int32{"ev": 1})
	e.query("CREATE SCHEMA raw")
	e.query("CREATE TABLE raw.t (id BIGINT)")
	// Offset 0 is bad from the start; offset 1 adds a string column y on
	// the first attempt, and is bad once y has become a BIGINT.
	e.produce("ev", 0, `not json`, `{"id":2,"y":"text"}`)
	var once sync.Once
	deps := stream.WithHook(e.deps(), func(point string) error {
		if point == stream.PointDLQCommitted {
			once.Do(func() { e.query("ALTER TABLE raw.t ADD COLUMN y BIGINT") })
		}
		return nil
	})
	spec := stream.Spec{Name: "ev", Topics: []string{"ev"}, Table: lake.Ident{Namespace: "raw", Name: "t"}, CommitInterval: 200 * time.Millisecond}
	p, stop := e.start(spec, deps)
	e.waitFor("both records dead-lettered", func() bool { return e.count("SELECT count(*) FROM raw.t__dlq") == 2 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got, want := strings.Join(e.query(`SELECT "offset", stage FROM raw.t__dlq ORDER BY 1`), "; "), "0 | decode; 1 | type"; got != want {
		t.Errorf("dead letters = %q, want %q", got, want)
	}
	if n := e.count("SELECT count(*) FROM raw.t"); n != 0 {
		t.Errorf("table has %d rows, want 0", n)
	}
	if st := p.Status(); st.DeadLetters != 2 || st.Skipped != 0 {
		t.Errorf("status dead=%d skipped=%d, want dead=2 skipped=0", st.DeadLetters, st.Skipped)
	}
}
