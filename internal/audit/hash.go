package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Domain tags keep an entry hash from ever being mistaken for a checkpoint
// message (or for a future format version) even if the bytes line up.
const (
	entryDomain      = "edp-audit-entry-v1"
	checkpointDomain = "edp-audit-checkpoint-v1"
)

// tsLayout is RFC 3339 with exactly nine fractional digits in UTC.
// time.RFC3339Nano trims trailing zeros, which makes the text vary in width
// and sort wrongly ("…05Z" > "…05.1Z"); the fixed width lets Search compare
// timestamps as strings in SQL, and every RFC 3339 parser still accepts it.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

// genesis is the prev_hash of entry 1.
var genesis = make([]byte, sha256.Size)

func formatTime(t time.Time) string { return t.UTC().Format(tsLayout) }

// entryHash is SHA-256 over the domain tag, the seq as 8 big-endian bytes and
// every other field prefixed with its length, so no two different entries
// encode to the same bytes (a field cannot absorb its neighbour's text).
// It hashes the stored text exactly as stored; Verify never re-encodes.
func entryHash(seq int64, ts, principal, action, resource, outcome, details string, prev []byte) []byte {
	h := sha256.New()
	writeField(h, []byte(entryDomain))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	h.Write(b[:])
	for _, f := range [...]string{ts, principal, action, resource, outcome, details} {
		writeField(h, []byte(f))
	}
	writeField(h, prev)
	return h.Sum(nil)
}

// checkpointMessage is what a checkpoint's signature covers. signed_at is
// included so it cannot be altered to misdate the checkpoint.
func checkpointMessage(seq int64, signedAt string, head []byte) []byte {
	var buf bytes.Buffer
	writeField(&buf, []byte(checkpointDomain))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	buf.Write(b[:])
	writeField(&buf, []byte(signedAt))
	writeField(&buf, head)
	return buf.Bytes()
}

// writeField writes p prefixed with its length. Both sha256 hashes and
// bytes.Buffers never fail to write, so the errors are not checked.
func writeField(w io.Writer, p []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	w.Write(n[:])
	w.Write(p)
}

// canonicalJSON encodes details compactly with object keys sorted at every
// level. It round-trips through a generic value decoded with UseNumber: that
// sorts the keys of structs' nested maps too and keeps numbers' text exactly
// (no int64 → float64 rounding). HTML escaping is off because the text is
// read by people and tools, not embedded in web pages.
func canonicalJSON(details map[string]any) (string, error) {
	if len(details) == 0 {
		return "{}", nil
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return "", fmt.Errorf("audit details: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", fmt.Errorf("audit details: %w", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return "", fmt.Errorf("audit details: %w", err)
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

// decodeDetails is the read side: numbers come back as json.Number so that
// re-encoding them reproduces the stored text.
func decodeDetails(s string) map[string]any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}
