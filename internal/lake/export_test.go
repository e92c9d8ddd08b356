package lake

import "database/sql"

// SetBeforeSwap makes fn run between a REST commit's staging and its
// catalog swap, where a concurrent writer may move a table.
func (l *Lake) SetBeforeSwap(fn func()) { l.beforeSwap = fn }

// SetCommitTx makes fn commit the lake's catalog transactions, so a test
// can report an error for a commit that landed (a lost connection).
func (l *Lake) SetCommitTx(fn func(*sql.Tx) error) { l.commitFn = fn }
