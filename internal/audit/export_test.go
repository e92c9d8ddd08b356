package audit

// WithBatchHook returns opts with a hook the writer goroutine calls with the
// size of each batch it has taken, before it begins the batch's transaction.
// Blocking in the hook holds the writer there, with no lock taken.
func WithBatchHook(opts Options, hook func(size int)) Options {
	opts.batchHook = hook
	return opts
}

// QueueLen is the number of accepted records not yet taken into a batch.
func QueueLen(l *Log) int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

// Accepting reports whether Append still accepts records (Close has not begun).
func Accepting(l *Log) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return !l.closed
}
