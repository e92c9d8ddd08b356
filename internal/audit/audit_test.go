package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

// tsLayout mirrors the stored timestamp format, for forging rows by hand.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock ticks one second per call so entries have distinct, known times:
// entry k (1-based) is stamped base+k seconds when no checkpoint reads it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	db   *metadb.DB
	log  *audit.Log
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

// openDB opens a fresh metadata database on eng the way lake.Open does,
// on SQLite including its synchronous=NORMAL: the package must raise
// durability itself.
func openDB(t *testing.T, eng metadbtest.Engine) *metadb.DB {
	t.Helper()
	return metadbtest.Open(t, eng.URI(t))
}

// eachEngine runs test once per metadata database engine.
func eachEngine(t *testing.T, test func(*testing.T, metadbtest.Engine)) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { test(t, eng) })
	}
}

func newFixture(t *testing.T, eng metadbtest.Engine, every int) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, eng)
	c := &clock{t: base}
	l, err := audit.Open(context.Background(), db, audit.Options{Signer: priv, CheckpointEvery: every, Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &fixture{db: db, log: l, pub: pub, priv: priv}
}

func record(i int) audit.Record {
	principals := []string{"alice", "bob"}
	actions := []string{"query", "login", "create_table"}
	return audit.Record{
		Principal: principals[i%2],
		Action:    actions[i%3],
		Resource:  fmt.Sprintf("sales.t%d", i%4),
		Outcome:   audit.OutcomeSuccess,
		Details:   map[string]any{"i": i, "tables": []string{"sales.orders"}},
	}
}

func (f *fixture) appendN(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := f.log.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(f.db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) verify(t *testing.T) *audit.Report {
	t.Helper()
	rep, err := f.log.Verify(context.Background(), f.pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAppendAndVerifyClean(t *testing.T) { eachEngine(t, testAppendAndVerifyClean) }

func testAppendAndVerifyClean(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	f := newFixture(t, eng, 100)
	big := int64(1<<62 + 1) // loses precision if it ever passes through float64
	e, err := f.log.Append(ctx, audit.Record{
		Principal: "alice", Action: "query", Resource: "sales.orders", Outcome: audit.OutcomeSuccess,
		Details: map[string]any{"rows": big, "b": map[string]any{"z": 1, "a": "<x>"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 1 || !bytes.Equal(e.PrevHash, make([]byte, 32)) || len(e.Hash) != 32 {
		t.Fatalf("first entry: seq %d prev %x hash %x", e.Seq, e.PrevHash, e.Hash)
	}
	f.appendN(t, 249)

	rep := f.verify(t)
	if !rep.OK() {
		t.Fatalf("clean log: %v", rep.Problem)
	}
	if rep.Entries != 250 || rep.Head != 250 || rep.Checkpoints != 2 || rep.LastCheckpoint != 200 {
		t.Fatalf("report = %+v, want 250 entries, 2 checkpoints, last at 200", rep)
	}

	// Details are canonical: sorted keys at every level, numbers exact,
	// no HTML escaping.
	var stored string
	if err := f.db.QueryRow(`SELECT details FROM edp_audit_log WHERE seq = 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := `{"b":{"a":"<x>","z":1},"rows":4611686018427387905}`; stored != want {
		t.Fatalf("details = %s, want %s", stored, want)
	}

	// Entries read back recompute to their stored hash and link up.
	entries, err := f.log.Tail(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 250 {
		t.Fatalf("Tail returned %d entries, want 250", len(entries))
	}
	for i, e := range entries {
		h, err := e.ComputeHash()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(h, e.Hash) {
			t.Fatalf("entry %d: ComputeHash differs from stored hash", e.Seq)
		}
		if i > 0 && !bytes.Equal(e.PrevHash, entries[i-1].Hash) {
			t.Fatalf("entry %d does not link to %d", e.Seq, entries[i-1].Seq)
		}
	}
	if n := entries[0].Details["rows"].(json.Number).String(); n != "4611686018427387905" {
		t.Fatalf("rows read back as %s", n)
	}
}

func TestAppendRejectsIncompleteRecord(t *testing.T) {
	eachEngine(t, testAppendRejectsIncompleteRecord)
}

func testAppendRejectsIncompleteRecord(t *testing.T, eng metadbtest.Engine) {
	f := newFixture(t, eng, 0)
	if _, err := f.log.Append(context.Background(), audit.Record{Principal: "alice", Outcome: audit.OutcomeSuccess}); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("no action: err = %v, want ErrInvalid", err)
	}
	// Odd bytes are replaced rather than refused: the record must not be lost.
	e, err := f.log.Append(context.Background(), audit.Record{Principal: "al\x00ice\xff", Action: "login", Outcome: audit.OutcomeDenied})
	if err != nil {
		t.Fatal(err)
	}
	if e.Principal != "al\uFFFDice\uFFFD" {
		t.Fatalf("principal = %q", e.Principal)
	}
	if rep := f.verify(t); !rep.OK() {
		t.Fatal(rep.Problem)
	}
}

// tamperFixture has 20 entries with checkpoints at 10 and 20.
func tamperFixture(t *testing.T, eng metadbtest.Engine) *fixture {
	f := newFixture(t, eng, 10)
	f.appendN(t, 20)
	if rep := f.verify(t); !rep.OK() || rep.Checkpoints != 2 {
		t.Fatalf("before tampering: %+v", rep)
	}
	return f
}

func randomHash(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyDetectsTampering(t *testing.T) { eachEngine(t, testVerifyDetectsTampering) }

func testVerifyDetectsTampering(t *testing.T, eng metadbtest.Engine) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		kind   audit.Kind
		seq    int64
	}{
		{
			name: "edited field",
			tamper: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE edp_audit_log SET principal = 'mallory' WHERE seq = 5`)
			},
			kind: audit.KindModified, seq: 5,
		},
		{
			name: "edited details",
			tamper: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE edp_audit_log SET details = '{"i":99}' WHERE seq = 5`)
			},
			kind: audit.KindModified, seq: 5,
		},
		{
			name:   "deleted entry",
			tamper: func(t *testing.T, f *fixture) { f.exec(t, `DELETE FROM edp_audit_log WHERE seq = 5`) },
			kind:   audit.KindMissing, seq: 5,
		},
		{
			name: "forged entry with self-consistent hash",
			tamper: func(t *testing.T, f *fixture) {
				// The forger cannot know what prev_hash makes the chain
				// link (it would have to be entry 4's hash and entry 6's
				// prev_hash at once), so only the chain catches it.
				f.exec(t, `DELETE FROM edp_audit_log WHERE seq = 5`)
				forgeEntry(t, f, 5, randomHash(t))
			},
			kind: audit.KindForged, seq: 5,
		},
		{
			name: "entry replaced with a correct prev_hash",
			tamper: func(t *testing.T, f *fixture) {
				var prev []byte
				if err := f.db.QueryRow(`SELECT hash FROM edp_audit_log WHERE seq = 4`).Scan(&prev); err != nil {
					t.Fatal(err)
				}
				f.exec(t, `DELETE FROM edp_audit_log WHERE seq = 5`)
				forgeEntry(t, f, 5, prev)
			},
			kind: audit.KindForged, seq: 6, // entry 6 no longer links to the replaced 5
		},
		{
			name: "swapped entries",
			tamper: func(t *testing.T, f *fixture) {
				tx, err := f.db.Begin() // one connection, so the temp table is visible
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				for _, q := range []string{
					`CREATE TEMP TABLE swap AS SELECT * FROM edp_audit_log WHERE seq IN (5, 6)`,
					`UPDATE edp_audit_log SET (ts, principal, action, resource, outcome, details, prev_hash, hash) =
						(SELECT ts, principal, action, resource, outcome, details, prev_hash, hash
						 FROM swap WHERE swap.seq = 11 - edp_audit_log.seq)
					 WHERE seq IN (5, 6)`,
					`DROP TABLE swap`,
				} {
					if _, err := tx.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			},
			kind: audit.KindReordered, seq: 5,
		},
		{
			name:   "truncated tail",
			tamper: func(t *testing.T, f *fixture) { f.exec(t, `DELETE FROM edp_audit_log WHERE seq > 15`) },
			kind:   audit.KindTruncated, seq: 20,
		},
		{
			name: "corrupted signature",
			tamper: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE edp_audit_checkpoints SET signature = ? WHERE seq = 10`, make([]byte, ed25519.SignatureSize))
			},
			kind: audit.KindBadSignature, seq: 10,
		},
		{
			name: "checkpoint head replaced",
			tamper: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE edp_audit_checkpoints SET head_hash = ? WHERE seq = 10`, randomHash(t))
			},
			kind: audit.KindBadSignature, seq: 10, // the signature covers the head hash
		},
		{
			name:   "whole chain rewritten",
			tamper: rewriteChain,
			kind:   audit.KindCheckpointMismatch, seq: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tamperFixture(t, eng)
			tt.tamper(t, f)
			rep := f.verify(t)
			if rep.OK() {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			p := rep.Problem
			if p.Kind != tt.kind || p.Seq != tt.seq {
				t.Fatalf("problem = %s at seq %d (%q), want %s at seq %d", p.Kind, p.Seq, p.Msg, tt.kind, tt.seq)
			}
			if want := fmt.Sprintf("seq %d", tt.seq); !strings.Contains(p.Error(), want) {
				t.Fatalf("message %q does not name %q", p.Error(), want)
			}
			t.Log(p)
		})
	}
}

// forgeEntry inserts an entry at seq whose own hash is correct for its
// contents, as someone with the table but not the key could.
func forgeEntry(t *testing.T, f *fixture, seq int64, prev []byte) {
	t.Helper()
	e := audit.Entry{
		Seq:      seq,
		Time:     base.Add(5 * time.Second),
		Record:   audit.Record{Principal: "mallory", Action: "login", Outcome: audit.OutcomeSuccess},
		PrevHash: prev,
	}
	h, err := e.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	f.exec(t, `INSERT INTO edp_audit_log (seq, ts, principal, action, resource, outcome, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, '', ?, '{}', ?, ?)`, seq, e.Time.Format(tsLayout), e.Principal, e.Action, e.Outcome, prev, h)
}

// rewriteChain edits entry 3 and recomputes every hash after it, so the
// chain itself is consistent again: only the signed checkpoint at 10 can
// tell.
func rewriteChain(t *testing.T, f *fixture) {
	entries, err := f.log.Tail(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	entries[2].Principal = "mallory"
	for i := 2; i < len(entries); i++ {
		e := &entries[i]
		e.PrevHash = entries[i-1].Hash
		if e.Hash, err = e.ComputeHash(); err != nil {
			t.Fatal(err)
		}
		f.exec(t, `UPDATE edp_audit_log SET principal = ?, prev_hash = ?, hash = ? WHERE seq = ?`, e.Principal, e.PrevHash, e.Hash, e.Seq)
	}
}

func TestVerifyWrongKey(t *testing.T) { eachEngine(t, testVerifyWrongKey) }

func testVerifyWrongKey(t *testing.T, eng metadbtest.Engine) {
	f := tamperFixture(t, eng)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	rep, err := f.log.Verify(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Problem.Kind != audit.KindBadSignature || rep.Problem.Seq != 10 {
		t.Fatalf("wrong key: %+v", rep.Problem)
	}
	if _, err := f.log.Verify(context.Background(), ed25519.PublicKey{1, 2}); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("short key: err = %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) { eachEngine(t, testConcurrentAppends) }

func testConcurrentAppends(t *testing.T, eng metadbtest.Engine) {
	f := newFixture(t, eng, 10)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := f.log.Append(context.Background(), record(w*each+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep := f.verify(t)
	if !rep.OK() || rep.Entries != workers*each || rep.Checkpoints != workers*each/10 || rep.LastCheckpoint != workers*each {
		t.Fatalf("report = %+v (%v)", rep, rep.Problem)
	}
	entries, err := f.log.Tail(context.Background(), workers*each)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
}

// TestTwoWriters models two processes (server and CLI) appending to the same
// database through separate pools: the batch lock (BEGIN IMMEDIATE,
// LOCK TABLE) must keep them from reading the same head and forking the
// chain.
func TestTwoWriters(t *testing.T) { eachEngine(t, testTwoWriters) }

func testTwoWriters(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	uri := eng.URI(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var logs [2]*audit.Log
	for i := range logs {
		l, err := audit.Open(ctx, metadbtest.Open(t, uri), audit.Options{Signer: priv, CheckpointEvery: 7})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		logs[i] = l
	}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				if _, err := logs[w%2].Append(ctx, record(i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := logs[0].Verify(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries != 80 || rep.LastCheckpoint != 77 {
		t.Fatalf("report = %+v (%v)", rep, rep.Problem)
	}
}

func TestCheckpointAndReopen(t *testing.T) { eachEngine(t, testCheckpointAndReopen) }

func testCheckpointAndReopen(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	f := newFixture(t, eng, 100)
	f.appendN(t, 5)
	if rep := f.verify(t); rep.LastCheckpoint != 0 || rep.Entries != 5 {
		t.Fatalf("before checkpoint: %+v", rep)
	}
	cp, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 5 || again.Seq != 5 || !bytes.Equal(cp.Signature, again.Signature) {
		t.Fatalf("checkpoints %+v, %+v", cp, again)
	}

	// A second Log on the same database continues the chain.
	if err := f.log.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Append(ctx, record(0)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	l2, err := audit.Open(ctx, f.db, audit.Options{Signer: f.priv})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	e, err := l2.Append(ctx, record(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 {
		t.Fatalf("seq after reopen = %d, want 6", e.Seq)
	}
	rep, err := l2.Verify(ctx, f.pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries != 6 || rep.LastCheckpoint != 5 {
		t.Fatalf("after reopen: %+v (%v)", rep, rep.Problem)
	}

	// Without a key the log still chains but cannot sign.
	l3, err := audit.Open(ctx, f.db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if _, err := l3.Checkpoint(ctx); !errors.Is(err, audit.ErrNoSigner) {
		t.Fatalf("checkpoint without signer: %v", err)
	}
}

func TestTailAndSearch(t *testing.T) { eachEngine(t, testTailAndSearch) }

func testTailAndSearch(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	f := newFixture(t, eng, -1) // no checkpoints, so entry k is stamped base+k s
	f.appendN(t, 24)

	tail, err := f.log.Tail(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(tail); fmt.Sprint(got) != "[22 23 24]" {
		t.Fatalf("Tail(3) = %v", got)
	}
	if tail, _ := f.log.Tail(ctx, 0); len(tail) != 0 {
		t.Fatalf("Tail(0) = %v", seqs(tail))
	}

	at := func(k int) time.Time { return base.Add(time.Duration(k) * time.Second) }
	tests := []struct {
		name string
		f    audit.Filter
		want string
	}{
		// record(i) is entry i+1: principal alice for even i, action
		// query/login/create_table by i%3, resource sales.t(i%4).
		{"principal", audit.Filter{Principal: "bob", Limit: 4}, "[18 20 22 24]"},
		{"action", audit.Filter{Action: "login"}, "[2 5 8 11 14 17 20 23]"},
		{"resource and principal", audit.Filter{Resource: "sales.t0", Principal: "alice"}, "[1 5 9 13 17 21]"},
		{"time window", audit.Filter{Since: at(10), Until: at(13)}, "[10 11 12]"},
		{"window and action", audit.Filter{Since: at(10), Until: at(20), Action: "query"}, "[10 13 16 19]"},
		{"window in another zone", audit.Filter{Since: at(23).In(time.FixedZone("x", 3600))}, "[23 24]"},
		{"limit keeps most recent", audit.Filter{Limit: 2}, "[23 24]"},
		{"no match", audit.Filter{Principal: "carol"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.log.Search(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(seqs(got)); s != tt.want {
				t.Fatalf("Search(%+v) = %s, want %s", tt.f, s, tt.want)
			}
		})
	}

	got, err := f.log.Search(ctx, audit.Filter{Principal: "alice", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := got[0]
	if e.Seq != 23 || !e.Time.Equal(at(23)) || e.Action != "login" || e.Resource != "sales.t2" || e.Outcome != audit.OutcomeSuccess {
		t.Fatalf("entry = %+v", e)
	}
	if e.Details["i"].(json.Number).String() != "22" {
		t.Fatalf("details = %v", e.Details)
	}
}

func seqs(es []audit.Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}
