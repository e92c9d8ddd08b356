package audit

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultSearchLimit caps Search when Filter.Limit is 0.
const DefaultSearchLimit = 1000

// Filter selects entries for Search. Empty fields match everything; set
// fields must all match.
type Filter struct {
	Principal string    // exact match
	Action    string    // exact match
	Resource  string    // exact match
	Since     time.Time // entries at or after Since
	Until     time.Time // entries before Until
	Limit     int       // at most this many, the most recent; 0 means DefaultSearchLimit
}

// Tail returns the last n entries, oldest first.
func (l *Log) Tail(ctx context.Context, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	return l.Search(ctx, Filter{Limit: n})
}

// Search returns the most recent entries matching f, oldest first. It does
// not verify them; run Verify for that.
func (l *Log) Search(ctx context.Context, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"principal", f.Principal}, {"action", f.Action}, {"resource", f.Resource},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	// ts is fixed-width UTC text, so string order is time order.
	if !f.Since.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "ts < ?")
		args = append(args, formatTime(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	q := `SELECT seq, ts, principal, action, resource, outcome, details, prev_hash, hash FROM edp_audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, limit)

	rows, err := l.db.QueryContext(ctx, l.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("audit search: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.entry())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit search: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// row is an entry exactly as stored. Text columns are scanned through
// []byte so a NULL planted by hand reads as empty (and then fails the hash
// check) instead of aborting Verify with a scan error.
type row struct {
	seq                                               int64
	ts, principal, action, resource, outcome, details string
	prev, hash                                        []byte
}

func scanRow(rows *sql.Rows) (row, error) {
	var r row
	var ts, principal, action, resource, outcome, details []byte
	if err := rows.Scan(&r.seq, &ts, &principal, &action, &resource, &outcome, &details, &r.prev, &r.hash); err != nil {
		return row{}, fmt.Errorf("audit: read entry: %w", err)
	}
	r.ts, r.principal, r.action = string(ts), string(principal), string(action)
	r.resource, r.outcome, r.details = string(resource), string(outcome), string(details)
	return r, nil
}

func (r row) entry() Entry {
	t, _ := time.Parse(tsLayout, r.ts)
	return Entry{
		Seq:  r.seq,
		Time: t,
		Record: Record{
			Principal: r.principal, Action: r.action, Resource: r.resource,
			Outcome: r.outcome, Details: decodeDetails(r.details),
		},
		PrevHash: r.prev,
		Hash:     r.hash,
	}
}
