package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Errors callers match with errors.Is.
var (
	ErrInvalid  = errors.New("invalid audit argument")
	ErrNoSigner = errors.New("audit log has no signing key")
	ErrClosed   = errors.New("audit log is closed")
)

// Outcomes edp records. Outcome is free text, but these are the values the
// server, API and CLI use so that Search can find, say, every denial.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// DefaultCheckpointEvery is used when Options.CheckpointEvery is 0.
const DefaultCheckpointEvery = 100

// Record is what a caller appends: who did what to what, and how it went.
type Record struct {
	Principal string // empty for unauthenticated attempts (a failed login names the user in Details)
	Action    string // required, e.g. "login", "query", "create_table"
	Resource  string // e.g. "sales.orders"; empty when there is none
	Outcome   string // required: OutcomeSuccess, OutcomeDenied, OutcomeError
	// Details is stored as canonical JSON (sorted keys). When read back,
	// numbers are json.Number so they keep their exact text.
	Details map[string]any
}

// Entry is a stored Record with its place in the chain.
type Entry struct {
	Seq  int64
	Time time.Time // UTC, from Options.Clock, nanosecond precision
	Record
	PrevHash []byte // Hash of entry Seq-1; 32 zero bytes for entry 1
	Hash     []byte
}

// ComputeHash recomputes e's hash from its fields. Verify does not use it
// (it hashes the stored text); it exists so exported entries can be checked
// elsewhere.
func (e Entry) ComputeHash() ([]byte, error) {
	details, err := canonicalJSON(e.Details)
	if err != nil {
		return nil, err
	}
	return entryHash(e.Seq, formatTime(e.Time), e.Principal, e.Action, e.Resource, e.Outcome, details, e.PrevHash), nil
}

// Checkpoint is a signed statement that the chain had head Hash at Seq.
type Checkpoint struct {
	Seq       int64
	HeadHash  []byte
	SignedAt  time.Time
	Signature []byte
}

// Options configure Open.
type Options struct {
	// Signer signs checkpoints. Without one the log is still hash-chained,
	// but nothing is signed and truncation cannot be detected.
	Signer ed25519.PrivateKey
	// CheckpointEvery makes Append sign the head every so many entries;
	// 0 means DefaultCheckpointEvery, negative disables automatic ones.
	CheckpointEvery int
	// Clock stamps entries and checkpoints; nil means time.Now.
	Clock func() time.Time
}

// Log appends to and reads the audit tables of one database.
type Log struct {
	db     *sql.DB
	signer ed25519.PrivateKey
	every  int
	clock  func() time.Time

	mu       sync.Mutex // serializes writers on conn
	conn     *sql.Conn  // pinned writer connection, nil until needed or after a failure
	prevSync int        // the pool's synchronous setting, restored on Close
	closed   bool
}

// The schema is SQLite's. A PostgreSQL port changes BLOB to BYTEA and
// INTEGER to BIGINT, rebinds the ? placeholders to $n, and replaces the
// PRAGMAs and BEGIN IMMEDIATE in this file with a transaction that starts
// with LOCK TABLE edp_audit_log IN EXCLUSIVE MODE.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS edp_audit_log (
		seq INTEGER PRIMARY KEY,
		ts TEXT NOT NULL,
		principal TEXT NOT NULL,
		action TEXT NOT NULL,
		resource TEXT NOT NULL,
		outcome TEXT NOT NULL,
		details TEXT NOT NULL,
		prev_hash BLOB NOT NULL,
		hash BLOB NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS edp_audit_log_principal ON edp_audit_log (principal, seq)`,
	`CREATE INDEX IF NOT EXISTS edp_audit_log_ts ON edp_audit_log (ts)`,
	`CREATE TABLE IF NOT EXISTS edp_audit_checkpoints (
		seq INTEGER PRIMARY KEY,
		head_hash BLOB NOT NULL,
		signed_at TEXT NOT NULL,
		signature BLOB NOT NULL)`,
}

// Open creates the audit tables in db if missing and returns a Log over
// them. db is edp's metadata database (lake.DB()) and stays owned by the
// caller. The Log pins one connection of db's pool for its writes, so the
// pool must allow at least two open connections.
func Open(ctx context.Context, db *sql.DB, opts Options) (*Log, error) {
	if opts.Signer != nil && len(opts.Signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: signing key has %d bytes, want %d", ErrInvalid, len(opts.Signer), ed25519.PrivateKeySize)
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("create audit tables: %w", err)
		}
	}
	l := &Log{db: db, signer: opts.Signer, every: opts.CheckpointEvery, clock: opts.Clock}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Acquire the writer now so a misconfigured database fails at startup
	// rather than on the first audited action.
	if _, err := l.writer(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// writer returns the pinned write connection, opening it if needed.
//
// Durability is set here rather than left to the caller: the lake opens the
// shared database with synchronous=NORMAL, under which a WAL commit can be
// lost on power failure. An audit entry must survive once Append returns, so
// this one connection runs with synchronous=FULL (fsync on every commit)
// while the lake's other connections keep their faster setting.
// Must be called with l.mu held.
func (l *Log) writer(ctx context.Context) (*sql.Conn, error) {
	if l.closed {
		return nil, ErrClosed
	}
	if l.conn != nil {
		return l.conn, nil
	}
	c, err := l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit connection: %w", err)
	}
	var prevSync, busy int
	err = c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&prevSync)
	if err == nil {
		_, err = c.ExecContext(ctx, "PRAGMA synchronous=FULL")
	}
	if err == nil {
		err = c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
	}
	// Another process (a CLI next to the server) may hold the write lock;
	// wait for it rather than dropping an audit entry with SQLITE_BUSY.
	if err == nil && busy == 0 {
		_, err = c.ExecContext(ctx, "PRAGMA busy_timeout=10000")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("audit connection: %w", err)
	}
	l.conn, l.prevSync = c, prevSync
	return c, nil
}

// Close releases the writer connection, restoring its synchronous setting.
// It does not close the database.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA synchronous=%d", l.prevSync))
	err = errors.Join(err, l.conn.Close())
	l.conn = nil
	return err
}

// inTx runs fn in a write transaction on the writer connection.
// BEGIN IMMEDIATE takes SQLite's write lock before fn reads the head, so a
// writer in another process cannot append between our read and our insert;
// the mutex does the same for goroutines, and seq's primary key is the last
// guard against a fork. Must be called with l.mu held.
func (l *Log) inTx(ctx context.Context, fn func(*sql.Conn) error) error {
	c, err := l.writer(ctx)
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	if err := fn(c); err != nil {
		l.rollback(ctx, c)
		return err
	}
	// Once the work is done, a cancelled caller must not interrupt the
	// commit halfway: finish it or report that it failed.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		l.rollback(ctx, c)
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

// rollback ends a failed transaction. If even that fails the connection's
// state is unknown, so it is discarded (returning driver.ErrBadConn from Raw
// makes database/sql close it) and the next write opens a fresh one.
func (l *Log) rollback(ctx context.Context, c *sql.Conn) {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err == nil {
		return
	}
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	c.Close()
	l.conn = nil
}

// Append adds rec as the next entry and returns it once it is committed to
// disk. Every CheckpointEvery entries it also signs the new head, in the
// same transaction.
func (l *Log) Append(ctx context.Context, rec Record) (Entry, error) {
	rec.Principal, rec.Action = clean(rec.Principal), clean(rec.Action)
	rec.Resource, rec.Outcome = clean(rec.Resource), clean(rec.Outcome)
	if rec.Action == "" || rec.Outcome == "" {
		return Entry{}, fmt.Errorf("%w: an audit record needs an action and an outcome", ErrInvalid)
	}
	details, err := canonicalJSON(rec.Details)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var e Entry
	err = l.inTx(ctx, func(c *sql.Conn) error {
		seq, prev, err := head(ctx, c)
		if err != nil {
			return err
		}
		seq++
		// The clock is read under the lock so timestamps follow seq
		// order, unless the system clock itself steps back.
		ts := formatTime(l.clock())
		h := entryHash(seq, ts, rec.Principal, rec.Action, rec.Resource, rec.Outcome, details, prev)
		_, err = c.ExecContext(ctx, `INSERT INTO edp_audit_log
			(seq, ts, principal, action, resource, outcome, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			seq, ts, rec.Principal, rec.Action, rec.Resource, rec.Outcome, details, prev, h)
		if err != nil {
			return fmt.Errorf("audit: append entry %d: %w", seq, err)
		}
		if l.signer != nil && l.every > 0 && seq%int64(l.every) == 0 {
			if _, err := l.sign(ctx, c, seq, h); err != nil {
				return err
			}
		}
		t, _ := time.Parse(tsLayout, ts)
		rec.Details = decodeDetails(details)
		e = Entry{Seq: seq, Time: t, Record: rec, PrevHash: prev, Hash: h}
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Checkpoint signs the current head now (for example at shutdown, so the
// tail since the last automatic checkpoint is covered too). If the head is
// already checkpointed it returns that checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, ErrNoSigner
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var cp Checkpoint
	err := l.inTx(ctx, func(c *sql.Conn) error {
		seq, h, err := head(ctx, c)
		if err != nil {
			return err
		}
		if seq == 0 {
			return fmt.Errorf("%w: nothing to checkpoint, the audit log is empty", ErrInvalid)
		}
		var signedAt string
		err = c.QueryRowContext(ctx, `SELECT head_hash, signed_at, signature FROM edp_audit_checkpoints WHERE seq = ?`, seq).
			Scan(&cp.HeadHash, &signedAt, &cp.Signature)
		switch {
		case err == nil:
			cp.Seq = seq
			cp.SignedAt, _ = time.Parse(tsLayout, signedAt)
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("audit: read checkpoint %d: %w", seq, err)
		}
		cp, err = l.sign(ctx, c, seq, h)
		return err
	})
	return cp, err
}

// sign stores a checkpoint of (seq, head) inside the caller's transaction.
func (l *Log) sign(ctx context.Context, c *sql.Conn, seq int64, head []byte) (Checkpoint, error) {
	signedAt := formatTime(l.clock())
	sig := ed25519.Sign(l.signer, checkpointMessage(seq, signedAt, head))
	_, err := c.ExecContext(ctx, `INSERT INTO edp_audit_checkpoints (seq, head_hash, signed_at, signature) VALUES (?, ?, ?, ?)`,
		seq, head, signedAt, sig)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint %d: %w", seq, err)
	}
	t, _ := time.Parse(tsLayout, signedAt)
	return Checkpoint{Seq: seq, HeadHash: bytes.Clone(head), SignedAt: t, Signature: sig}, nil
}

// head returns the last seq and its hash, or 0 and the genesis hash.
func head(ctx context.Context, c *sql.Conn) (int64, []byte, error) {
	var seq int64
	var h []byte
	err := c.QueryRowContext(ctx, `SELECT seq, hash FROM edp_audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, genesis, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("audit: read head: %w", err)
	}
	return seq, h, nil
}

// clean makes a field storable everywhere: PostgreSQL's TEXT rejects NUL and
// invalid UTF-8. An audit record is replaced, never refused, for odd bytes
// in a user-supplied name.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
