package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/api"
)

// TestMaintainTable runs a table's maintenance through the API: a job that
// compacts the small files and keeps every row.
func TestMaintainTable(t *testing.T) {
	e := newEnv(t)
	e.sql(e.admin, "CREATE SCHEMA m")
	e.sql(e.admin, "CREATE TABLE m.t (id BIGINT, v VARCHAR)")
	for i := range 8 {
		e.sql(e.admin, fmt.Sprintf("INSERT INTO m.t SELECT r, 'v' || r FROM range(%d, %d) t(r)", i*100, (i+1)*100))
	}
	e.sql(e.admin, "DELETE FROM m.t WHERE id % 10 = 0")
	before := e.count("SELECT sum(id) FROM m.t")

	e.post(e.reader, "/api/v1/namespaces/m/tables/t/maintain", nil).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	e.post(e.admin, "/api/v1/namespaces/m/tables/nope/maintain", nil).errorBody(t, http.StatusNotFound, api.CodeNotFound)

	r := e.post(e.admin, "/api/v1/namespaces/m/tables/t/maintain", nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("maintain = %d %s", r.status, r.body)
	}
	id := r.json(t)["job"].(map[string]any)["id"].(string)
	var job map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for {
		job = e.get(e.admin, "/api/v1/jobs/"+id).json(t)["job"].(map[string]any)
		if job["state"] != "running" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job["state"] != "succeeded" {
		t.Fatalf("maintenance job = %v", job)
	}
	if got := e.count("SELECT sum(id) FROM m.t"); got != before {
		t.Errorf("sum(id) after maintenance = %d, want %d", got, before)
	}
	snaps := e.get(e.admin, "/api/v1/namespaces/m/tables/t/snapshots").json(t)["snapshots"].([]any)
	last := snaps[len(snaps)-1].(map[string]any)
	if last["operation"] != "replace" {
		t.Errorf("last snapshot operation = %v, want replace (the compaction)", last["operation"])
	}
}
