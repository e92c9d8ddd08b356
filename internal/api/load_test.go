package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
)

// uploadsLeft lists what remains in the upload directory.
func (e *env) uploadsLeft() []string {
	e.t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.dir, "uploads"))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

func (e *env) tableExists(id string) bool {
	e.t.Helper()
	ns, name, _ := strings.Cut(id, ".")
	r := e.get(e.admin, "/api/v1/namespaces/"+ns+"/tables/"+name)
	return r.status == http.StatusOK
}

// TestLoadSync loads two files synchronously into a new table, then
// appends, and checks the result, the job, the audit entry and cleanup.
func TestLoadSync(t *testing.T) {
	e := newEnv(t)
	e.sql(e.admin, "CREATE SCHEMA raw")
	head := e.auditHead()
	r := e.load(e.admin, "raw.people", false,
		multipartFile{"a.csv", "id,name\n1,ann\n2,bob\n"},
		multipartFile{"b.csv", "id,name\n3,cy\n"})
	if r.status != http.StatusOK {
		t.Fatalf("load = %d %s", r.status, r.body)
	}
	m := r.json(t)
	res, _ := json.Marshal(m["result"])
	if string(res) != `{"created":true,"files":2,"rejected":0,"rows":3,"table":"raw.people"}` {
		t.Errorf("result = %s", res)
	}
	job := m["job"].(map[string]any)
	if job["state"] != "succeeded" || job["principal"] != "admin" || job["kind"] != "load" {
		t.Errorf("job = %v", job)
	}
	if p := job["progress"].(map[string]any); p["done"] != json.Number("3") || p["unit"] != "rows" {
		t.Errorf("final progress = %v, want 3 rows", p)
	}
	en := e.auditSince(head)
	if len(en) != 1 || en[0].Action != "load" || en[0].Resource != "raw.people" || en[0].Details["rows"] != json.Number("3") ||
		en[0].Details["job_id"] != job["id"] || fmt.Sprint(en[0].Details["files"]) != "[a.csv b.csv]" {
		t.Errorf("audit = %+v", en)
	}
	if n := e.count("SELECT count(*) FROM raw.people"); n != 3 {
		t.Errorf("rows = %d", n)
	}
	// The commit names the job.
	snaps := e.get(e.reader, "/api/v1/namespaces/raw/tables/people/snapshots").json(t)["snapshots"].([]any)
	if snaps[len(snaps)-1].(map[string]any)["job"] != job["id"] {
		t.Errorf("snapshot job = %v, want %v", snaps[len(snaps)-1].(map[string]any)["job"], job["id"])
	}
	// Append JSON with a new column (evolve) and a form of options.
	body, ct := loadForm(t, []multipartFile{{"c.data", `{"id": 4, "name": "di", "age": 40}` + "\n"}}, "format", "json", "evolve", "true")
	// Evolving the schema is an admin's change.
	req := request{method: "POST", path: "/api/v1/namespaces/raw/tables/people/load", token: e.writer, body: body, contentType: ct}
	e.do(req).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	req.token = e.admin
	if r = e.do(req); r.status != http.StatusOK {
		t.Fatalf("evolving load = %d %s", r.status, r.body)
	}
	// A plain append is a writer's.
	if r = e.load(e.writer, "raw.people", false, multipartFile{"e.csv", "id,name\n5,eve\n"}); r.status != http.StatusOK {
		t.Fatalf("writer's append = %d %s", r.status, r.body)
	}
	if got := e.sql(e.reader, "SELECT age FROM raw.people WHERE id = 4")["rows"]; fmt.Sprint(got) != "[[40]]" {
		t.Errorf("evolved column = %v", got)
	}
	if left := e.uploadsLeft(); len(left) != 0 {
		t.Errorf("upload directory keeps %v", left)
	}
	// Options reach ingest: a delimiter, a header flag, NULL strings, a
	// partitioning and a property for the new table.
	body, ct = loadForm(t, []multipartFile{{"d.txt", "1;2026-05-01;NA\n2;2026-05-02;7\n"}},
		"format", "csv", "delimiter", ";", "header", "false", "null", "NA", "partition_by", "month(column1)", "property", "owner=ops")
	r = e.do(request{method: "POST", path: "/api/v1/namespaces/raw/tables/semi/load", token: e.admin, body: body, contentType: ct})
	if r.status != http.StatusOK {
		t.Fatalf("load with options = %d %s", r.status, r.body)
	}
	d := e.get(e.admin, "/api/v1/namespaces/raw/tables/semi").json(t)
	if d["properties"].(map[string]any)["owner"] != "ops" || !strings.Contains(fmt.Sprint(d["partition_by"]), "month(column1)") {
		t.Errorf("table = %v", d)
	}
	if got := e.sql(e.reader, "SELECT count(*) FILTER (WHERE column2 IS NULL) FROM raw.semi")["rows"]; fmt.Sprint(got) != "[[1]]" {
		t.Errorf("NULL strings not applied: %v", got)
	}
	e.verifyAudit()
}

// TestLoadAsync starts a load in the background and polls its job.
func TestLoadAsync(t *testing.T) {
	e := newEnv(t)
	e.sql(e.admin, "CREATE SCHEMA raw")
	e.sql(e.admin, "CREATE TABLE raw.async (x BIGINT)")
	// A writer may append but not create a table.
	e.load(e.writer, "raw.nope", true, multipartFile{"a.ndjson", `{"x": 1}` + "\n"}).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	r := e.load(e.writer, "raw.async", true, multipartFile{"a.ndjson", `{"x": 1}` + "\n" + `{"x": 2}` + "\n"})
	if r.status != http.StatusAccepted {
		t.Fatalf("async load = %d %s", r.status, r.body)
	}
	id := r.json(t)["job"].(map[string]any)["id"].(string)
	if loc := r.header.Get("Location"); loc != "/api/v1/jobs/"+id {
		t.Errorf("Location = %q", loc)
	}
	var job map[string]any
	waitFor(t, func() bool {
		job = e.get(e.writer, "/api/v1/jobs/"+id).json(t)["job"].(map[string]any)
		return job["state"] != "running"
	})
	if job["state"] != "succeeded" || job["result"].(map[string]any)["rows"] != json.Number("2") || job["finished"] == nil {
		t.Fatalf("job = %v", job)
	}
	if n := e.count("SELECT count(*) FROM raw.async"); n != 2 {
		t.Errorf("rows = %d", n)
	}
	// Jobs are their owner's: the reader does not see it, the admin does.
	if jobs := e.get(e.reader, "/api/v1/jobs").json(t)["jobs"].([]any); len(jobs) != 0 {
		t.Errorf("reader sees jobs %v", jobs)
	}
	if jobs := e.get(e.admin, "/api/v1/jobs").json(t)["jobs"].([]any); len(jobs) != 1 {
		t.Errorf("admin sees %d jobs, want 1", len(jobs))
	}
	e.get(e.reader, "/api/v1/jobs/"+id).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	e.get(e.reader, "/api/v1/jobs/job_nope").errorBody(t, http.StatusNotFound, api.CodeNotFound)
	waitFor(t, func() bool { return len(e.uploadsLeft()) == 0 })
}

// TestLoadCancel cancels a large asynchronous load: the job ends
// cancelled, nothing is committed, and the upload is removed.
func TestLoadCancel(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("id,name,score\n")
	for i := range 2_000_000 {
		fmt.Fprintf(&b, "%d,name%d,%d.5\n", i, i, i%1000)
	}
	r := e.load(e.admin, "raw.big", true, multipartFile{"big.csv", b.String()})
	if r.status != http.StatusAccepted {
		t.Fatalf("async load = %d %s", r.status, r.body)
	}
	id := r.json(t)["job"].(map[string]any)["id"].(string)
	head := e.auditHead()
	e.post(e.writer, "/api/v1/jobs/"+id+"/cancel", nil).errorBody(t, http.StatusForbidden, api.CodePermissionDenied)
	r = e.post(e.admin, "/api/v1/jobs/"+id+"/cancel", nil)
	if r.status != http.StatusOK {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	if en := e.auditSince(head); len(en) != 2 || en[1].Action != "cancel_job" || en[1].Resource != "job:"+id || en[0].Outcome != audit.OutcomeDenied {
		t.Errorf("audit = %+v", en)
	}
	var job map[string]any
	waitFor(t, func() bool {
		job = e.get(e.admin, "/api/v1/jobs/"+id).json(t)["job"].(map[string]any)
		return job["state"] != "running"
	})
	if job["state"] != "cancelled" {
		t.Fatalf("job ended %v (%v); the load finished before the cancel arrived", job["state"], job["error"])
	}
	if e.tableExists("raw.big") {
		t.Errorf("a cancelled load created its table")
	}
	waitFor(t, func() bool { return len(e.uploadsLeft()) == 0 })
}

// TestLoadAtomic checks that a bad row in the second file fails the whole
// load, into a new table and into an existing one, and that an upload
// over the limit is refused before anything is loaded.
func TestLoadAtomic(t *testing.T) {
	e := newEnv(t, withLimits(api.Limits{MaxUploadBytes: 4096}))
	good := multipartFile{"a.csv", "id,n\n1,1\n2,2\n"}
	bad := multipartFile{"b.csv", "id,n\n3,3\n4,4,4\n"}
	for _, target := range []string{"raw.fresh", "raw.existing"} {
		t.Run(target, func(t *testing.T) {
			if target == "raw.existing" {
				if r := e.load(e.admin, target, false, good); r.status != http.StatusOK {
					t.Fatalf("first load = %d %s", r.status, r.body)
				}
			}
			before := dataState(e)
			head := e.auditHead()
			r := e.load(e.admin, target, false, good, bad)
			b := r.errorBody(t, http.StatusBadRequest, api.CodeInvalidArgument)
			if !strings.Contains(b.Message, "b.csv") || strings.Contains(b.Message, e.dir) {
				t.Errorf("message %q should name b.csv and not the spool path", b.Message)
			}
			if b.Details["job_id"] == nil {
				t.Errorf("details = %v, want the job id", b.Details)
			}
			if after := dataState(e); after != before {
				t.Errorf("failed load changed state:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if en := e.auditSince(head); len(en) != 1 || en[0].Outcome != audit.OutcomeError {
				t.Errorf("audit = %+v", en)
			}
			if left := e.uploadsLeft(); len(left) != 0 {
				t.Errorf("upload directory keeps %v", left)
			}
		})
	}
	before := dataState(e)
	huge := multipartFile{"h.csv", "id\n" + strings.Repeat("1\n", 3000)}
	e.load(e.writer, "raw.existing", false, huge).errorBody(t, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge)
	e.load(e.admin, "raw.other", false, good, huge).errorBody(t, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge)
	for name, req := range map[string]request{
		"json body":     {method: "POST", path: "/api/v1/namespaces/raw/tables/x/load", body: map[string]any{"file": "a"}},
		"no file":       formRequest(t, nil, "format", "csv"),
		"unknown field": formRequest(t, []multipartFile{good}, "colour", "red"),
		"bad format":    formRequest(t, []multipartFile{good}, "format", "xml"),
		"bad bad_rows":  formRequest(t, []multipartFile{good}, "bad_rows", "ignore"),
		"bad property":  formRequest(t, []multipartFile{good}, "property", "novalue"),
		"bad async":     formRequest(t, []multipartFile{good}, "async", "soon"),
		"unknown ext":   formRequest(t, []multipartFile{{"a.xlsx", "x"}}),
	} {
		req.token = e.admin
		r := e.do(req)
		want := http.StatusBadRequest
		if name == "json body" {
			want = http.StatusUnsupportedMediaType
		}
		if r.status != want {
			t.Errorf("%s: status %d, want %d: %s", name, r.status, want, r.body)
		}
	}
	if after := dataState(e); after != before {
		t.Errorf("refused loads changed state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if left := e.uploadsLeft(); len(left) != 0 {
		t.Errorf("upload directory keeps %v", left)
	}
}

func formRequest(t *testing.T, files []multipartFile, fields ...string) request {
	body, ct := loadForm(t, files, fields...)
	return request{method: "POST", path: "/api/v1/namespaces/raw/tables/x/load", body: body, contentType: ct}
}

// dataState is state without the job list: a failed load leaves a failed
// job behind, which is its record, not a change to data.
func dataState(e *env) string {
	var keep []string
	for _, l := range strings.Split(state(e), "\n") {
		if !strings.HasPrefix(l, "job ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
