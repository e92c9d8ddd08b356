package stream_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// TestDroppedTableStopsPipeline is the regression test for a pipeline that,
// once its table was dropped, took every later batch for one committed by
// another consumer and discarded it, running on silently forever. It must
// stop, saying why.
func TestDroppedTableStopsPipeline(t *testing.T) {
	e := newEnv(t, map[string]int32{"ev": 1})
	e.produce("ev", 0, `{"id":1}`, `{"id":2}`)
	spec := stream.Spec{Name: "ev", Topics: []string{"ev"}, Table: lake.Ident{Namespace: "raw", Name: "ev"}, CommitInterval: 100 * time.Millisecond}
	p, stop := e.start(spec, e.deps())
	e.waitFor("2 rows", func() bool { return e.count("SELECT count(*) FROM raw.ev") == 2 })
	e.query("DROP TABLE raw.ev")
	e.query("CREATE TABLE raw.ev (id BIGINT)")
	e.produce("ev", 0, `{"id":3}`)
	e.waitFor("the pipeline to stop", func() bool { return p.Status().State == stream.StateFailed })
	if err := stop(); !errors.Is(err, stream.ErrStopped) || !strings.Contains(err.Error(), "no longer has the pipeline's offsets") {
		t.Errorf("Run = %v, want ErrStopped naming the lost offsets", err)
	}
}
