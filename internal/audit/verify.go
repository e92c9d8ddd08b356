package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/edp-data/edp/internal/metadb"
)

// Kind classifies a Problem.
type Kind string

const (
	KindModified           Kind = "modified"            // an entry's contents no longer match its hash
	KindMissing            Kind = "missing"             // a gap in seq: entries were deleted
	KindForged             Kind = "forged"              // prev_hash matches no entry: inserted, or its predecessor was replaced
	KindReordered          Kind = "reordered"           // prev_hash is the hash of a different entry
	KindBadSignature       Kind = "bad-signature"       // a checkpoint's signature does not verify
	KindCheckpointMismatch Kind = "checkpoint-mismatch" // a signed head hash differs from the entry at its seq
	KindTruncated          Kind = "truncated"           // a checkpoint lies beyond the last entry
)

// Problem is the first inconsistency Verify found.
type Problem struct {
	Kind Kind
	Seq  int64 // the entry or checkpoint where it was detected
	Msg  string
}

func (p *Problem) Error() string { return p.Msg }

// Report is the outcome of Verify.
//
// Entries after LastCheckpoint are protected only by the hash chain, not by
// a signature: whoever can write the database could have rewritten them
// consistently. Call Checkpoint before Verify (or record LastCheckpoint
// elsewhere) when that matters.
type Report struct {
	Entries        int64 // entries whose hash and chain link verified
	Head           int64 // seq of the last verified entry
	Checkpoints    int   // checkpoints whose signature and head hash verified
	LastCheckpoint int64 // seq of the last verified checkpoint, 0 if none
	Problem        *Problem
}

// OK reports whether the log verified without a problem.
func (r *Report) OK() bool { return r.Problem == nil }

type storedCheckpoint struct {
	seq      int64
	head     []byte
	signedAt string
	sig      []byte
}

// Verify walks every entry and checkpoint in seq order and stops at the
// first problem, which it returns in Report.Problem; the error is only for
// failures to read. pub is the checkpoint key's public half; nil is allowed
// for logs written without a Signer, but then any checkpoint is a problem.
//
// It reads one consistent snapshot, so concurrent Appends are not seen
// half-done. Memory use does not grow with the log, only with the number of
// checkpoints.
func (l *Log) Verify(ctx context.Context, pub ed25519.PublicKey) (*Report, error) {
	if pub != nil && len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key has %d bytes, want %d", ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	// SQLite's transaction reads one snapshot as it is; PostgreSQL's
	// default (read committed) takes a new one per statement, so it is
	// asked for repeatable read.
	var txOpts *sql.TxOptions
	if l.db.Dialect == metadb.Postgres {
		txOpts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := l.db.BeginTx(ctx, txOpts)
	if err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	defer tx.Rollback()

	cps, err := loadCheckpoints(ctx, tx)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	checkCP := func(cp storedCheckpoint) *Problem {
		if pub == nil {
			return &Problem{KindBadSignature, cp.seq, fmt.Sprintf("checkpoint at seq %d cannot be verified: no public key given", cp.seq)}
		}
		if !ed25519.Verify(pub, checkpointMessage(cp.seq, cp.signedAt, cp.head), cp.sig) {
			return &Problem{KindBadSignature, cp.seq, fmt.Sprintf("checkpoint at seq %d: signature does not verify (checkpoint altered or forged, or wrong public key)", cp.seq)}
		}
		return nil
	}

	rows, err := tx.QueryContext(ctx, `SELECT seq, ts, principal, action, resource, outcome, details, prev_hash, hash
		FROM edp_audit_log ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()

	var (
		prevSeq  int64
		prevHash = genesis
		next     int // index into cps of the next checkpoint to match
		broken   *row
	)
walk:
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		// A checkpoint below this seq matched no entry. A gap normally
		// explains it and is reported first, below; this catches the rest
		// (a checkpoint at seq 0 or less).
		if next < len(cps) && cps[next].seq < r.seq && cps[next].seq <= prevSeq {
			cp := cps[next]
			rep.Problem = &Problem{KindCheckpointMismatch, cp.seq, fmt.Sprintf("checkpoint at seq %d names no entry", cp.seq)}
			break
		}
		switch {
		case r.seq != prevSeq+1:
			msg := fmt.Sprintf("entry seq %d is missing: seq jumps from %d to %d (entry deleted)", prevSeq+1, prevSeq, r.seq)
			if r.seq > prevSeq+2 {
				msg = fmt.Sprintf("entries seq %d to %d are missing: seq jumps from %d to %d (entries deleted)", prevSeq+1, r.seq-1, prevSeq, r.seq)
			}
			rep.Problem = &Problem{KindMissing, prevSeq + 1, msg}
			break walk
		case !bytes.Equal(r.prev, prevHash):
			// Classified after the scan is closed: it needs another query.
			broken = &r
			break walk
		case !bytes.Equal(r.hash, entryHash(r.seq, r.ts, r.principal, r.action, r.resource, r.outcome, r.details, r.prev)):
			rep.Problem = &Problem{KindModified, r.seq, fmt.Sprintf("entry seq %d was modified: its contents do not match its hash", r.seq)}
			break walk
		}
		if next < len(cps) && cps[next].seq == r.seq {
			cp := cps[next]
			if p := checkCP(cp); p != nil {
				rep.Problem = p
				break
			}
			if !bytes.Equal(cp.head, r.hash) {
				rep.Problem = &Problem{KindCheckpointMismatch, cp.seq, fmt.Sprintf(
					"checkpoint at seq %d signs a head hash that is not entry seq %d's hash: entries up to seq %d were rewritten", cp.seq, r.seq, r.seq)}
				break
			}
			rep.Checkpoints++
			rep.LastCheckpoint = cp.seq
			next++
		}
		rep.Entries++
		rep.Head = r.seq
		prevSeq, prevHash = r.seq, r.hash
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	rows.Close()

	if broken != nil {
		rep.Problem, err = classifyBreak(ctx, l.db, tx, *broken, prevSeq)
		if err != nil {
			return nil, err
		}
	}
	if rep.Problem == nil && next < len(cps) {
		cp := cps[next]
		if p := checkCP(cp); p != nil {
			rep.Problem = p
		} else {
			rep.Problem = &Problem{KindTruncated, cp.seq, fmt.Sprintf(
				"checkpoint at seq %d is beyond the last entry (seq %d): entries after seq %d were deleted (tail truncated)", cp.seq, prevSeq, prevSeq)}
		}
	}
	return rep, nil
}

// classifyBreak explains an entry whose prev_hash is not its predecessor's
// hash. If another entry has that hash, entries were moved; if none does,
// this entry was inserted, or its predecessor was replaced by one whose own
// hash was recomputed. The two are indistinguishable from the table alone,
// so the message names both.
func classifyBreak(ctx context.Context, db *metadb.DB, tx *sql.Tx, r row, prevSeq int64) (*Problem, error) {
	if prevSeq == 0 {
		return &Problem{KindForged, r.seq, fmt.Sprintf("entry seq %d does not start the chain: its prev_hash is not 32 zero bytes (entry inserted or forged)", r.seq)}, nil
	}
	var other int64
	err := tx.QueryRowContext(ctx, db.Rebind(`SELECT seq FROM edp_audit_log WHERE hash = ? AND seq <> ? ORDER BY seq LIMIT 1`), r.prev, r.seq).Scan(&other)
	switch {
	case err == nil:
		return &Problem{KindReordered, r.seq, fmt.Sprintf(
			"entries reordered at seq %d: its prev_hash is the hash of the entry now at seq %d, not of seq %d", r.seq, other, prevSeq)}, nil
	case errors.Is(err, sql.ErrNoRows):
		return &Problem{KindForged, r.seq, fmt.Sprintf(
			"chain broken at seq %d: its prev_hash matches no entry's hash, so entry seq %d was inserted or forged, or entry seq %d was replaced", r.seq, r.seq, prevSeq)}, nil
	default:
		return nil, fmt.Errorf("audit verify: %w", err)
	}
}

func loadCheckpoints(ctx context.Context, tx *sql.Tx) ([]storedCheckpoint, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, head_hash, signed_at, signature FROM edp_audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("audit verify: checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []storedCheckpoint
	for rows.Next() {
		var cp storedCheckpoint
		var signedAt []byte
		if err := rows.Scan(&cp.seq, &cp.head, &signedAt, &cp.sig); err != nil {
			return nil, fmt.Errorf("audit verify: checkpoints: %w", err)
		}
		cp.signedAt = string(signedAt)
		cps = append(cps, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit verify: checkpoints: %w", err)
	}
	return cps, nil
}
