package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/stream"
)

// Ingester commits posted records; the server's stream.Ingester is one.
type Ingester interface {
	Ingest(ctx context.Context, id lake.Ident, key string, records [][]byte) (stream.IngestResult, error)
}

// maxIdempotencyKey bounds the Idempotency-Key header: keys are kept in
// snapshot summaries.
const maxIdempotencyKey = 200

// ingest commits a JSON array or JSON lines of records to a table and
// answers once they are committed. With an Idempotency-Key header a retry
// of a committed request is answered from the table and adds nothing.
func (a *API) ingest(c *call) error {
	id := c.tableIdent()
	if a.opts.Ingester == nil {
		return newError(errUnavailable, "HTTP ingest is not running in this server")
	}
	ct := c.r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson" && mt != "application/jsonl") {
		return newError(errUnsupportedMedia, "Content-Type must be application/json (an array or JSON lines) or application/x-ndjson, got %q", ct)
	}
	key := c.r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return invalidf("Idempotency-Key is longer than %d bytes", maxIdempotencyKey)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, a.opts.Limits.MaxUploadBytes))
	if err != nil {
		return err
	}
	records, err := splitRecords(body)
	if err != nil {
		return err
	}
	c.detail("records", len(records))
	if key != "" {
		c.detail("idempotency_key", key)
	}
	res, err := a.opts.Ingester.Ingest(c.ctx(), id, key, records)
	if err != nil {
		return err
	}
	c.detail("snapshot_id", res.SnapshotID)
	return c.json(http.StatusOK, res)
}

// splitRecords reads a JSON array of objects, or one object per line.
func splitRecords(body []byte) ([][]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, invalidf("request body is empty; want a JSON array or JSON lines of records")
	}
	if trimmed[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, invalidf("request body: malformed JSON array: %v", err)
		}
		out := make([][]byte, len(arr))
		for i, r := range arr {
			out[i] = r
		}
		return out, nil
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Buffer(make([]byte, 64<<10), len(trimmed)+1)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	return out, sc.Err()
}
