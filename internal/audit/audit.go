package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/edp-data/edp/internal/metadb"
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
	// Clock stamps entries and checkpoints; nil means time.Now. It is
	// called by the writer goroutine while a batch's transaction is open.
	Clock func() time.Time

	batchHook func(size int) // tests only, see export_test.go
}

// Log appends to and reads the audit tables of one database.
type Log struct {
	db        *metadb.DB
	signer    ed25519.PrivateKey
	every     int
	clock     func() time.Time
	batchHook func(size int) // tests only: called by the writer before each batch

	mu         sync.Mutex // serializes writers on conn
	conn       *sql.Conn  // pinned writer connection, nil until needed or after a failure
	prevSync   int        // SQLite: the pool's synchronous setting, restored on Close
	connClosed bool       // set by Close once the writer goroutine has stopped

	qmu     sync.Mutex // guards queue and closed
	queue   []*pending // accepted records not yet taken into a batch, in acceptance order
	closed  bool       // no more records are accepted
	wake    chan struct{}
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed by the writer goroutine when it returns
}

// maxBatch bounds how many records share one transaction, so that one
// commit (and the time its waiters spend behind it) stays short however deep
// the queue grows.
const maxBatch = 256

// pending is one Append waiting for its batch. The writer sets entry and err
// before closing done.
type pending struct {
	rec     Record
	details string
	entry   Entry
	err     error
	done    chan struct{}
}

// component names the audit tables in edp_schema_migrations.
const component = "audit"

// migrations create the audit tables. Version 1 is idempotent (IF NOT
// EXISTS) because SQLite databases made before migrations existed already
// hold these tables. seq is 64-bit on both engines (SQLite's INTEGER is).
var migrations = []metadb.Migration{{
	Version: 1, Name: "audit log and checkpoints",
	SQLite: []string{
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
	},
	Postgres: []string{
		`CREATE TABLE IF NOT EXISTS edp_audit_log (
			seq BIGINT PRIMARY KEY,
			ts TEXT NOT NULL,
			principal TEXT NOT NULL,
			action TEXT NOT NULL,
			resource TEXT NOT NULL,
			outcome TEXT NOT NULL,
			details TEXT NOT NULL,
			prev_hash BYTEA NOT NULL,
			hash BYTEA NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS edp_audit_log_principal ON edp_audit_log (principal, seq)`,
		`CREATE INDEX IF NOT EXISTS edp_audit_log_ts ON edp_audit_log (ts)`,
		`CREATE TABLE IF NOT EXISTS edp_audit_checkpoints (
			seq BIGINT PRIMARY KEY,
			head_hash BYTEA NOT NULL,
			signed_at TEXT NOT NULL,
			signature BYTEA NOT NULL)`,
	},
}}

// Open brings the audit tables in db up to date (see metadb.DB.Migrate)
// and returns a Log over them. db is edp's metadata database
// (lake.MetaDB()), SQLite or PostgreSQL, and stays owned by the caller. The
// Log pins one connection of db's pool for its writes, so the pool must
// allow at least two open connections, and runs one writer goroutine until
// Close.
func Open(ctx context.Context, db *metadb.DB, opts Options) (*Log, error) {
	if opts.Signer != nil && len(opts.Signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: signing key has %d bytes, want %d", ErrInvalid, len(opts.Signer), ed25519.PrivateKeySize)
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if err := db.Migrate(ctx, component, migrations); err != nil {
		return nil, fmt.Errorf("audit tables: %w", err)
	}
	l := &Log{
		db: db, signer: opts.Signer, every: opts.CheckpointEvery, clock: opts.Clock, batchHook: opts.batchHook,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	// Acquire the writer now so a misconfigured database fails at startup
	// rather than on the first audited action.
	l.mu.Lock()
	_, err := l.writer(ctx)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// writer returns the pinned write connection, opening it if needed.
//
// Durability is set here rather than left to the caller. On SQLite the lake
// opens the shared database with synchronous=NORMAL, under which a WAL
// commit can be lost on power failure; an audit entry must survive once
// Append returns, so this one connection runs with synchronous=FULL (fsync
// on every commit) while the lake's other connections keep their faster
// setting. On PostgreSQL a commit is durable (flushed to the WAL) under
// synchronous_commit, which is on by default; should the server or role
// have turned it off, this connection turns it back on for itself.
// Must be called with l.mu held.
func (l *Log) writer(ctx context.Context) (*sql.Conn, error) {
	if l.connClosed {
		return nil, ErrClosed
	}
	if l.conn != nil {
		return l.conn, nil
	}
	c, err := l.freshConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit connection: %w", err)
	}
	if l.db.Dialect == metadb.Postgres {
		err = raisePostgresDurability(ctx, c)
	} else {
		l.prevSync, err = raiseSQLiteDurability(ctx, c)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("audit connection: %w", err)
	}
	l.conn = c
	return c, nil
}

// freshConn takes a connection from the pool that answers a ping. After a
// PostgreSQL restart the pool still holds connections the server has
// closed, and database/sql hands one out without checking it if it was
// used in the last second; each failed ping discards one, so a few tries
// reach a live (or newly opened) connection.
func (l *Log) freshConn(ctx context.Context) (*sql.Conn, error) {
	const tries = 8
	for i := 1; ; i++ {
		c, err := l.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		err = c.PingContext(ctx)
		if err == nil {
			return c, nil
		}
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
		if i == tries || ctx.Err() != nil {
			return nil, err
		}
	}
}

func raiseSQLiteDurability(ctx context.Context, c *sql.Conn) (prevSync int, err error) {
	var busy int
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
	return prevSync, err
}

func raisePostgresDurability(ctx context.Context, c *sql.Conn) error {
	// As busy_timeout on SQLite: wait for another process's batch to
	// commit, but not forever behind a stuck one.
	if _, err := c.ExecContext(ctx, "SET lock_timeout = '10s'"); err != nil {
		return err
	}
	var sc string
	if err := c.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
		return err
	}
	// local, remote_write, on and remote_apply all wait for the local WAL
	// flush; only off does not.
	if sc == "off" {
		_, err := c.ExecContext(ctx, "SET synchronous_commit = on")
		return err
	}
	return nil
}

// Close stops accepting appends: an Append that starts after Close has
// begun returns ErrClosed. Records already accepted are not dropped: Close
// waits until the writer has written them (their Appends return their entries,
// or their batch's error, as usual), then stops the writer goroutine and
// releases the writer connection, restoring its synchronous setting. It does
// not close the database. Calling Close again returns nil once the first
// call has finished.
func (l *Log) Close() error {
	l.qmu.Lock()
	already := l.closed
	l.closed = true
	l.qmu.Unlock()
	if !already {
		close(l.stop)
	}
	<-l.stopped

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.connClosed {
		return nil
	}
	l.connClosed = true
	if l.conn == nil {
		return nil
	}
	var err error
	if l.db.Dialect == metadb.Postgres {
		_, err = l.conn.ExecContext(context.Background(), "RESET synchronous_commit")
		if err == nil {
			_, err = l.conn.ExecContext(context.Background(), "RESET lock_timeout")
		}
	} else {
		_, err = l.conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA synchronous=%d", l.prevSync))
	}
	err = errors.Join(err, l.conn.Close())
	l.conn = nil
	return err
}

// inTx runs fn in a write transaction on the writer connection, holding a
// lock that keeps writers in other processes out until it commits, so none
// can append between our read of the head and our insert: on SQLite BEGIN
// IMMEDIATE takes the database's write lock; on PostgreSQL the transaction
// starts with LOCK TABLE edp_audit_log IN EXCLUSIVE MODE, which leaves
// readers (Verify, Search) free. The mutex does the same for goroutines,
// and seq's primary key is the last guard against a fork. Must be called
// with l.mu held.
//
// A connection that cannot even begin (the server restarted, or closed an
// idle connection) is replaced and the begin tried once more: nothing has
// been written yet, so the retry cannot duplicate an entry.
func (l *Log) inTx(ctx context.Context, fn func(*sql.Conn) error) error {
	var c *sql.Conn
	var err error
	for attempt := 1; ; attempt++ {
		if c, err = l.writer(ctx); err != nil {
			return err
		}
		if err = l.begin(ctx, c); err == nil {
			break
		}
		l.discard(c)
		if attempt == 2 || ctx.Err() != nil {
			return fmt.Errorf("audit: begin: %w", err)
		}
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

func (l *Log) begin(ctx context.Context, c *sql.Conn) error {
	if l.db.Dialect != metadb.Postgres {
		_, err := c.ExecContext(ctx, "BEGIN IMMEDIATE")
		return err
	}
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "LOCK TABLE edp_audit_log IN EXCLUSIVE MODE"); err != nil {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return nil
}

// rollback ends a failed transaction. If even that fails the connection's
// state is unknown, so it is discarded and the next write opens a fresh one.
func (l *Log) rollback(ctx context.Context, c *sql.Conn) {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err == nil {
		return
	}
	l.discard(c)
}

// discard closes the writer connection for good (returning
// driver.ErrBadConn from Raw makes database/sql close it rather than pool
// it), so the next write opens a fresh one.
func (l *Log) discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	c.Close()
	l.conn = nil
}

// Append adds rec as the next entry and returns it once it is durable: the
// transaction holding it has committed on the writer connection, which runs
// with synchronous=FULL on SQLite (fsynced, to the WAL in WAL mode) and
// synchronous_commit on PostgreSQL (its WAL flushed), so the entry survives
// a crash of the process or of the machine, as far as the disk honours
// fsync. Every CheckpointEvery-th entry is also signed in the same
// transaction.
//
// Concurrent Appends share transactions (group commit): one writer goroutine
// takes up to 256 queued records at a time and writes them, in the order
// Append accepted them, in one transaction with one fsync. So the chain
// follows acceptance order, and an entry whose Append returned before another
// Append began has the lower seq.
//
// An error means the entry is not in the log. If the transaction fails,
// every Append in it returns the error and none of its records is written.
// If ctx ends while rec is still queued, Append withdraws it and returns
// ctx.Err(); once rec is in a transaction, Append waits for that
// transaction's outcome whatever ctx does, so a returned entry is always
// durable and a context error never hides a written one. (As with any
// database, an fsync that itself fails during COMMIT, or a connection lost
// during it, leaves the caller unable to say what reached the disk; Verify
// remains the judge.) After Close, Append
// returns ErrClosed.
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

	p := &pending{rec: rec, details: details, done: make(chan struct{})}
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return Entry{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		l.qmu.Unlock()
		return Entry{}, err
	}
	l.queue = append(l.queue, p)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer already has a wake-up pending and will see p
	}

	select {
	case <-p.done:
		return p.entry, p.err
	case <-ctx.Done():
	}
	l.qmu.Lock()
	if i := slices.Index(l.queue, p); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
		l.qmu.Unlock()
		return Entry{}, ctx.Err()
	}
	l.qmu.Unlock()
	// The writer has taken p: it may already be committed, so the caller
	// must learn the outcome.
	<-p.done
	return p.entry, p.err
}

// run is the writer goroutine. It writes batches while there are queued
// records and, once Close stops it, drains what was accepted before
// returning.
func (l *Log) run() {
	defer close(l.stopped)
	for {
		select {
		case <-l.wake:
			for l.flush() {
			}
		case <-l.stop:
			for l.flush() {
			}
			return
		}
	}
}

// flush writes the oldest queued records (at most maxBatch) in one
// transaction and wakes their Appends. It reports false if the queue was
// empty.
func (l *Log) flush() bool {
	l.qmu.Lock()
	n := min(len(l.queue), maxBatch)
	batch := slices.Clone(l.queue[:n])
	l.queue = slices.Delete(l.queue, 0, n)
	l.qmu.Unlock()
	if n == 0 {
		return false
	}
	if l.batchHook != nil {
		l.batchHook(n)
	}
	entries, err := l.writeBatch(batch)
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.entry = entries[i]
		}
		close(p.done)
	}
	return true
}

// writeBatch appends batch's records in order in one transaction, signing a
// checkpoint at every multiple of CheckpointEvery it crosses. It returns all
// the entries or, if anything failed, none: the transaction is rolled back
// whole, so the next batch starts from the same head.
//
// No caller's ctx governs it: the batch belongs to all of its waiters, and
// one of them giving up must not fail the others. busy_timeout (SQLite) or
// lock_timeout (PostgreSQL) bounds the wait for another process's lock.
func (l *Log) writeBatch(batch []*pending) ([]Entry, error) {
	ctx := context.Background()
	l.mu.Lock()
	defer l.mu.Unlock()
	entries := make([]Entry, 0, len(batch))
	err := l.inTx(ctx, func(c *sql.Conn) error {
		seq, prev, err := head(ctx, c)
		if err != nil {
			return err
		}
		ins, err := c.PrepareContext(ctx, l.db.Rebind(`INSERT INTO edp_audit_log
			(seq, ts, principal, action, resource, outcome, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("audit: prepare append: %w", err)
		}
		defer ins.Close()
		for _, p := range batch {
			rec := p.rec
			seq++
			// The clock is read by the one writer, in seq order, so
			// timestamps follow seq unless the system clock steps back.
			ts := formatTime(l.clock())
			h := entryHash(seq, ts, rec.Principal, rec.Action, rec.Resource, rec.Outcome, p.details, prev)
			_, err := ins.ExecContext(ctx, seq, ts, rec.Principal, rec.Action, rec.Resource, rec.Outcome, p.details, prev, h)
			if err != nil {
				return fmt.Errorf("audit: append entry %d: %w", seq, err)
			}
			if l.signer != nil && l.every > 0 && seq%int64(l.every) == 0 {
				if _, err := l.sign(ctx, c, seq, h); err != nil {
					return err
				}
			}
			t, _ := time.Parse(tsLayout, ts)
			rec.Details = decodeDetails(p.details)
			// Each caller gets its own PrevHash: otherwise it would alias the
			// previous caller's Hash, or for entry 1 the package's genesis.
			entries = append(entries, Entry{Seq: seq, Time: t, Record: rec, PrevHash: bytes.Clone(prev), Hash: h})
			prev = h
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
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
		err = c.QueryRowContext(ctx, l.db.Rebind(`SELECT head_hash, signed_at, signature FROM edp_audit_checkpoints WHERE seq = ?`), seq).
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
	_, err := c.ExecContext(ctx, l.db.Rebind(`INSERT INTO edp_audit_checkpoints (seq, head_hash, signed_at, signature) VALUES (?, ?, ?, ?)`),
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
