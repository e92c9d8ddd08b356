package filecache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned (wrapped) by Acquire.
var (
	// ErrTooLarge: the object is larger than Options.MaxBytes and could
	// never be cached.
	ErrTooLarge = errors.New("file larger than the cache")
	// ErrFull: making room would mean evicting files that are leased.
	ErrFull = errors.New("file cache full of leased files")
	// ErrSizeMismatch: the object's size differs from Expect.Size.
	ErrSizeMismatch = errors.New("file size mismatch")
	// ErrClosed: the Cache was closed.
	ErrClosed = errors.New("file cache closed")
)

// Source reads whole objects; objstore.Store is the production one.
type Source interface {
	// Open starts reading the object at uri and returns its size, or -1
	// when unknown. Cancelling ctx must abort the read.
	Open(ctx context.Context, uri string) (io.ReadCloser, int64, error)
}

// Clock tells the time used for the LRU order that survives restarts.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Expect is what the caller knows about an object before it is read.
type Expect struct {
	// Size in bytes, as an Iceberg manifest records it
	// (file_size_in_bytes); zero or less means unknown. A fill or cached
	// copy of another size is refused with ErrSizeMismatch.
	Size int64
}

// Options configures a Cache.
type Options struct {
	// Dir holds the cached files. It must be empty or a directory a Cache
	// created (marked by a CACHEDIR.TAG file), because New deletes files it
	// does not recognise there.
	Dir string
	// MaxBytes bounds the bytes of cached files, including fills in flight
	// whose size is known.
	MaxBytes int64
	// Source is where misses are read from.
	Source Source
	// Registerer receives the edp_file_cache_* metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives fills, corrupt files and the startup summary; nil
	// discards.
	Logger *slog.Logger
	// Clock defaults to the wall clock.
	Clock Clock
}

const (
	tmpDirName = "tmp"
	tagName    = "CACHEDIR.TAG"
	// The signature from https://bford.info/cachedir/, so backup tools skip
	// the directory.
	tagSignature = "Signature: 8a477f597d28d172789f06886806bc55"
	// touchEvery limits how often a hit refreshes its file's modification
	// time. Within a process the LRU order is the in-memory list; the mtime
	// only orders entries after a restart, so minute precision is enough
	// and saves a syscall per hit.
	touchEvery = time.Minute
	copyBuffer = 256 << 10
)

// Cache is a bounded read-through cache of immutable objects in local
// files. It is safe for concurrent use.
type Cache struct {
	dir, tmpDir string
	max         int64
	src         Source
	log         *slog.Logger
	clock       Clock
	m           *metrics

	// closing cancels every fill in flight when the Cache is closed.
	closing context.Context
	closeFn context.CancelFunc
	wg      sync.WaitGroup

	mu       sync.Mutex
	entries  map[string]*entry // by key
	lru      *list.List        // of *entry, most recently used first
	fills    map[string]*fill  // the current fill of each key
	size     int64             // bytes of the entries
	reserved int64             // bytes set aside for fills in flight
	closed   bool
}

// entry is one cached file. Fields other than key, path, size and sum are
// guarded by Cache.mu.
type entry struct {
	key, path string
	size      int64
	sum       uint64 // XXH64 of the content
	refs      int    // leases, plus a fill verifying the file
	// verified is false for an entry rebuilt from disk until its content
	// has been hashed; such an entry is never leased.
	verified bool
	touched  time.Time
	elem     *list.Element
}

// fill is one download (or check of a rebuilt entry) shared by every
// Acquire of its key that arrives while it runs. Fields other than done and
// cancel are guarded by Cache.mu.
type fill struct {
	done   chan struct{}
	cancel context.CancelFunc

	waiters  int  // Acquires waiting; the fill is cancelled when none are left
	finished bool // done is closed and entry or err is set
	entry    *entry
	fromDisk bool // entry is a rebuilt entry that verified: a hit, not a download
	err      error
	reserved int64
}

// New opens the cache in opts.Dir, rebuilding its index from the files
// there.
func New(opts Options) (*Cache, error) {
	if opts.Dir == "" {
		return nil, errors.New("new file cache: no directory")
	}
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("new file cache: max bytes %d, want > 0", opts.MaxBytes)
	}
	if opts.Source == nil {
		return nil, errors.New("new file cache: no source")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if r, ok := opts.Registerer.(*prometheus.Registry); ok && r == nil {
		opts.Registerer = nil
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("new file cache: %w", err)
	}
	if err := claimDir(dir); err != nil {
		return nil, fmt.Errorf("new file cache: %w", err)
	}
	closing, closeFn := context.WithCancel(context.Background())
	c := &Cache{
		dir:     dir,
		tmpDir:  filepath.Join(dir, tmpDirName),
		max:     opts.MaxBytes,
		src:     opts.Source,
		log:     opts.Logger,
		clock:   opts.Clock,
		m:       newMetrics(opts.Registerer, opts.Logger),
		closing: closing,
		closeFn: closeFn,
		entries: map[string]*entry{},
		lru:     list.New(),
		fills:   map[string]*fill{},
	}
	if err := c.load(); err != nil {
		closeFn()
		return nil, fmt.Errorf("new file cache: %w", err)
	}
	return c, nil
}

// claimDir creates dir or checks that it is a cache directory, so that a
// mistyped Dir cannot make load delete someone's files.
func claimDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tag := filepath.Join(dir, tagName)
	b, err := os.ReadFile(tag)
	if err == nil {
		if !strings.HasPrefix(string(b), tagSignature) {
			return fmt.Errorf("%s: not a cache directory tag", tag)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not empty and has no %s: refusing to manage its files", dir, tagName)
	}
	return os.WriteFile(tag, []byte(tagSignature+"\n# edp file cache: files here are deleted and replaced at will.\n"), 0o640)
}

// load rebuilds the index from dir: temporary files are removed, as is
// every file whose name does not parse or whose size differs from the one
// in its name.
func (c *Cache) load() error {
	if err := os.RemoveAll(c.tmpDir); err != nil {
		return err
	}
	if err := os.MkdirAll(c.tmpDir, 0o750); err != nil {
		return err
	}
	top, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type found struct {
		e     *entry
		mtime time.Time
	}
	byKey := map[string]found{}
	dropped := 0
	drop := func(p string) {
		dropped++
		if err := os.RemoveAll(p); err != nil {
			c.log.Warn("file cache: cannot remove stray file", "path", p, "err", err)
		}
	}
	for _, d := range top {
		if !d.IsDir() || !isFanout(d.Name()) {
			continue
		}
		sub := filepath.Join(c.dir, d.Name())
		files, err := os.ReadDir(sub)
		if err != nil {
			return err
		}
		for _, f := range files {
			p := filepath.Join(sub, f.Name())
			key, size, sum, ok := parseName(f.Name())
			info, err := f.Info()
			if !ok || err != nil || key[:2] != d.Name() || !info.Mode().IsRegular() || info.Size() != size {
				drop(p)
				continue
			}
			e := &entry{key: key, path: p, size: size, sum: sum, touched: info.ModTime()}
			if prev, dup := byKey[key]; dup {
				// Two copies of one object can only come from a changed
				// object; keep the newer.
				if prev.mtime.After(info.ModTime()) {
					drop(p)
					continue
				}
				drop(prev.e.path)
			}
			byKey[key] = found{e, info.ModTime()}
		}
	}
	all := make([]found, 0, len(byKey))
	for _, f := range byKey {
		all = append(all, f)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mtime.After(all[j].mtime) })

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range all {
		c.insertLocked(f.e, false)
	}
	// MaxBytes may have shrunk since the files were written.
	if c.size > c.max {
		if err := c.evictLocked(c.size - c.max); err != nil {
			return err
		}
	}
	c.m.bytes.Set(float64(c.size))
	c.log.Debug("file cache opened", "dir", c.dir, "files", len(c.entries), "bytes", c.size,
		"max_bytes", c.max, "dropped", dropped)
	return nil
}

// Lease keeps one cached file on disk until it is released.
type Lease struct {
	c        *Cache
	e        *entry
	released atomic.Bool
}

// Path is the absolute path of the local copy. It stays valid until
// Release.
func (l *Lease) Path() string { return l.e.path }

// Size is the file's size in bytes.
func (l *Lease) Size() int64 { return l.e.size }

// Release lets the file be evicted again. It may be called more than once.
func (l *Lease) Release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	l.c.mu.Lock()
	l.e.refs--
	l.c.mu.Unlock()
}

// Acquire returns a lease on a local copy of the object at uri, reading it
// from the Source on a miss. Concurrent Acquires of one uri share one
// download; each gets its own lease. If ctx ends while waiting, Acquire
// returns ctx's error, and the download is cancelled once no Acquire waits
// for it any more.
func (c *Cache) Acquire(ctx context.Context, uri string, want Expect) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file cache %s: %w", uri, err)
	}
	key := keyOf(uri)

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("file cache %s: %w", uri, ErrClosed)
	}
	if e := c.entries[key]; e != nil && e.verified {
		if want.Size <= 0 || e.size == want.Size {
			l := c.leaseLocked(e)
			c.mu.Unlock()
			c.m.hits.Inc()
			return l, nil
		}
		if e.refs > 0 {
			c.mu.Unlock()
			return nil, fmt.Errorf("file cache %s: %w: cached %d bytes, expected %d", uri, ErrSizeMismatch, e.size, want.Size)
		}
		// Iceberg never rewrites a file in place, so a copy of another
		// size is from a store that broke that rule; the manifest wins.
		c.log.Warn("file cache: cached copy has the wrong size; reading it again",
			"uri", uri, "cached_bytes", e.size, "want_bytes", want.Size)
		c.removeLocked(e)
	}
	f := c.fills[key]
	if f == nil {
		f = c.startFillLocked(ctx, key, uri, want)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		c.mu.Lock()
		if !f.finished {
			f.waiters--
			if f.waiters == 0 {
				// Nobody wants the file any more: stop the download, and
				// let the next Acquire start afresh rather than join a
				// fill that is being torn down.
				f.cancel()
				if c.fills[key] == f {
					delete(c.fills, key)
				}
			}
		} else if f.entry != nil {
			// The fill finished just as ctx ended and took a reference
			// for this caller; give it back.
			f.entry.refs--
		}
		c.mu.Unlock()
		c.m.misses.Inc()
		return nil, fmt.Errorf("file cache %s: %w", uri, ctx.Err())
	}

	if f.err != nil {
		c.m.misses.Inc()
		return nil, f.err
	}
	l := &Lease{c: c, e: f.entry} // the fill took a reference for each waiter
	if f.fromDisk {
		c.m.hits.Inc()
	} else {
		c.m.misses.Inc()
	}
	if want.Size > 0 && l.e.size != want.Size {
		l.Release()
		return nil, fmt.Errorf("file cache %s: %w: got %d bytes, expected %d", uri, ErrSizeMismatch, l.e.size, want.Size)
	}
	return l, nil
}

// leaseLocked takes a lease on a verified entry and marks it used.
func (c *Cache) leaseLocked(e *entry) *Lease {
	e.refs++
	c.lru.MoveToFront(e.elem)
	if now := c.clock.Now(); now.Sub(e.touched) >= touchEvery {
		e.touched = now
		// Under the lock, so that a later touch cannot be overtaken by this
		// one; the file cannot be evicted while leased anyway.
		if err := os.Chtimes(e.path, now, now); err != nil {
			c.log.Debug("file cache: cannot touch file", "path", e.path, "err", err)
		}
	}
	return &Lease{c: c, e: e}
}

func (c *Cache) startFillLocked(ctx context.Context, key, uri string, want Expect) *fill {
	// The download outlives the Acquire that started it if others are
	// waiting too, so it gets the caller's values but not its deadline.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(c.closing, cancel)
	f := &fill{done: make(chan struct{}), cancel: cancel}
	c.fills[key] = f
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer stop()
		if c.checkRebuilt(fctx, f, key, uri) {
			return
		}
		tmp, size, sum, err := c.download(fctx, f, key, uri, want)
		c.commit(fctx, f, key, uri, tmp, size, sum, err)
	}()
	return f
}

// currentLocked reports whether f may still change the index: it is the
// key's fill and has not been cancelled.
func (c *Cache) currentLocked(ctx context.Context, f *fill, key string) bool {
	return c.fills[key] == f && ctx.Err() == nil
}

// checkRebuilt verifies an entry rebuilt from disk and, if it is intact,
// finishes f with it. A corrupt file is removed so that the download that
// follows replaces it.
func (c *Cache) checkRebuilt(ctx context.Context, f *fill, key, uri string) bool {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil || !c.currentLocked(ctx, f, key) {
		c.mu.Unlock()
		return false
	}
	e.refs++ // no eviction while reading it
	c.mu.Unlock()

	err := hashFile(ctx, e)

	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if ctx.Err() != nil {
		c.finishLocked(f, key, nil, fmt.Errorf("file cache %s: %w", uri, ctx.Err()))
		return true
	}
	if !c.currentLocked(ctx, f, key) || c.entries[key] != e {
		return false
	}
	if err == nil {
		e.verified = true
		c.lru.MoveToFront(e.elem)
		f.fromDisk = true
		c.finishLocked(f, key, e, nil)
		return true
	}
	c.m.corrupt.Inc()
	c.log.Warn("file cache: cached file is corrupt; reading it again", "uri", uri, "path", e.path, "err", err)
	c.removeLocked(e)
	return false
}

// download streams uri into a temporary file, hashing it on the way, and
// checks its size. On success the bytes are reserved in the cache.
func (c *Cache) download(ctx context.Context, f *fill, key, uri string, want Expect) (tmp string, size int64, sum uint64, err error) {
	r, srcSize, err := c.src.Open(ctx, uri)
	if err != nil {
		return "", 0, 0, fmt.Errorf("fetch %s: %w", uri, err)
	}
	defer r.Close()

	expect := int64(-1)
	if want.Size > 0 {
		expect = want.Size
	}
	if srcSize >= 0 {
		if expect >= 0 && srcSize != expect {
			return "", 0, 0, fmt.Errorf("fetch %s: %w: store has %d bytes, expected %d", uri, ErrSizeMismatch, srcSize, expect)
		}
		expect = srcSize
	}
	if expect > c.max {
		return "", 0, 0, fmt.Errorf("fetch %s: %w: %d bytes, cache holds %d", uri, ErrTooLarge, expect, c.max)
	}
	if expect >= 0 {
		if err := c.reserve(ctx, f, key, uri, expect); err != nil {
			return "", 0, 0, err
		}
	}

	file, err := os.CreateTemp(c.tmpDir, key[:16]+"-*")
	if err != nil {
		return "", 0, 0, fmt.Errorf("fetch %s: %w", uri, err)
	}
	defer func() {
		if err != nil {
			_ = file.Close()
			_ = os.Remove(file.Name())
		}
	}()
	// Reading one byte past the limit tells a longer object from an exact
	// fit without downloading all of an oversized one.
	limit := c.max
	if expect >= 0 {
		limit = expect
	}
	h := xxhash.New()
	n, err := io.CopyBuffer(io.MultiWriter(file, h), io.LimitReader(r, limit+1), make([]byte, copyBuffer))
	c.m.fillBytes.Add(float64(n))
	switch {
	case ctx.Err() != nil:
		return "", 0, 0, fmt.Errorf("fetch %s: %w", uri, ctx.Err())
	case err != nil:
		return "", 0, 0, fmt.Errorf("fetch %s: %w", uri, err)
	case n > limit && expect < 0:
		return "", 0, 0, fmt.Errorf("fetch %s: %w: more than %d bytes", uri, ErrTooLarge, c.max)
	case expect >= 0 && n != expect:
		return "", 0, 0, fmt.Errorf("fetch %s: %w: read %d bytes, expected %d", uri, ErrSizeMismatch, n, expect)
	}
	// No fsync: a file torn by a crash fails its hash check on first use
	// after the restart and is read again.
	if err = file.Close(); err != nil {
		return "", 0, 0, fmt.Errorf("fetch %s: %w", uri, err)
	}
	if expect < 0 {
		if err = c.reserve(ctx, f, key, uri, n); err != nil {
			return "", 0, 0, err
		}
	}
	return file.Name(), n, h.Sum64(), nil
}

// reserve sets n bytes aside for f, evicting unleased files as needed.
func (c *Cache) reserve(ctx context.Context, f *fill, key, uri string, n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.currentLocked(ctx, f, key) {
		return fmt.Errorf("fetch %s: %w", uri, context.Canceled)
	}
	if err := c.evictLocked(c.size + c.reserved + n - c.max); err != nil {
		return fmt.Errorf("fetch %s: %w", uri, err)
	}
	c.reserved += n
	f.reserved += n
	return nil
}

// commit publishes a downloaded file, or cleans up after a failed fill, and
// finishes f either way.
func (c *Cache) commit(ctx context.Context, f *fill, key, uri, tmp string, size int64, sum uint64, err error) {
	var final string
	if err == nil {
		final = filepath.Join(c.dir, key[:2], fileName(key, size, sum, extOf(uri)))
		if mkErr := os.MkdirAll(filepath.Dir(final), 0o750); mkErr != nil {
			err = fmt.Errorf("store %s: %w", uri, mkErr)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.reserved -= f.reserved
	f.reserved = 0
	if err == nil && !c.currentLocked(ctx, f, key) {
		err = fmt.Errorf("fetch %s: %w", uri, context.Canceled)
	}
	var e *entry
	if err == nil {
		// Renamed under the lock so that the file and its index entry
		// appear together; nothing else can hold this name meanwhile.
		if rnErr := os.Rename(tmp, final); rnErr != nil {
			err = fmt.Errorf("store %s: %w", uri, rnErr)
		} else {
			now := c.clock.Now()
			_ = os.Chtimes(final, now, now)
			e = &entry{key: key, path: final, size: size, sum: sum, touched: now}
			c.insertLocked(e, true)
			c.m.bytes.Set(float64(c.size))
			c.log.Debug("file cache fill", "uri", uri, "bytes", size)
		}
	}
	if err != nil {
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		c.m.fillErrors.Inc()
		c.log.Warn("file cache fill failed", "uri", uri, "err", err)
	}
	c.finishLocked(f, key, e, err)
}

// finishLocked ends f: on success every waiter gets a reference to e.
func (c *Cache) finishLocked(f *fill, key string, e *entry, err error) {
	f.finished = true
	if c.fills[key] == f {
		delete(c.fills, key)
	}
	if err == nil {
		e.refs += f.waiters
		f.entry = e
	} else {
		f.err = err
	}
	close(f.done)
}

func (c *Cache) insertLocked(e *entry, verified bool) {
	e.verified = verified
	if verified {
		e.elem = c.lru.PushFront(e)
	} else {
		e.elem = c.lru.PushBack(e) // load inserts most recent first
	}
	c.entries[e.key] = e
	c.size += e.size
}

// removeLocked drops e from the index and deletes its file.
func (c *Cache) removeLocked(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.size -= e.size
	c.m.bytes.Set(float64(c.size))
	if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("file cache: cannot remove file", "path", e.path, "err", err)
	}
}

// evictLocked frees at least need bytes by removing the least recently
// used unleased files, or removes nothing and returns ErrFull.
func (c *Cache) evictLocked(need int64) error {
	if need <= 0 {
		return nil
	}
	var victims []*entry
	freed := int64(0)
	for el := c.lru.Back(); el != nil && freed < need; el = el.Prev() {
		if e := el.Value.(*entry); e.refs == 0 {
			victims = append(victims, e)
			freed += e.size
		}
	}
	if freed < need {
		return fmt.Errorf("%w: need %d more bytes, %d of %d held by leases or fills", ErrFull, need, c.size+c.reserved-freed, c.max)
	}
	for _, e := range victims {
		c.removeLocked(e)
		c.m.evictions.Inc()
	}
	return nil
}

// Contains reports whether a copy of uri is cached (verified or not).
func (c *Cache) Contains(uri string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[keyOf(uri)] != nil
}

// Bytes returns the bytes of the cached files.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Dir is the directory holding the cached files.
func (c *Cache) Dir() string { return c.dir }

// MaxBytes is the cache's bound.
func (c *Cache) MaxBytes() int64 { return c.max }

// Close cancels the fills in flight and waits for them to clean up. Leases
// stay valid; the files stay for the next New.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.closeFn()
	c.wg.Wait()
	return nil
}

// hashFile checks e's file against the size and hash in its name.
func hashFile(ctx context.Context, e *entry) error {
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := xxhash.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, copyBuffer))
	if err != nil {
		return err
	}
	if n != e.size || h.Sum64() != e.sum {
		return fmt.Errorf("content has %d bytes with xxh64 %016x, want %d bytes with %016x", n, h.Sum64(), e.size, e.sum)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// keyOf names uri in the cache. Hashing keeps every URI, however odd, from
// reaching outside the directory or colliding with another.
func keyOf(uri string) string {
	s := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(s[:])
}

func fileName(key string, size int64, sum uint64, ext string) string {
	return fmt.Sprintf("%s-%d-%016x%s", key, size, sum, ext)
}

// parseName is the inverse of fileName.
func parseName(name string) (key string, size int64, sum uint64, ok bool) {
	base, ext, hasExt := strings.Cut(name, ".")
	if hasExt && !validExt(ext) {
		return "", 0, 0, false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 || len(parts[0]) != 64 || !isLowerHex(parts[0]) || len(parts[2]) != 16 || !isLowerHex(parts[2]) {
		return "", 0, 0, false
	}
	size, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != parts[1] {
		return "", 0, 0, false
	}
	sum, err = strconv.ParseUint(parts[2], 16, 64)
	if err != nil {
		return "", 0, 0, false
	}
	return parts[0], size, sum, true
}

// extOf keeps a plain extension of uri's path (".parquet") on the local
// copy, so that tools recognise the file type; anything unusual is dropped.
func extOf(uri string) string {
	p := uri
	if u, err := url.Parse(uri); err == nil {
		p = u.Path
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(p), "."))
	if !validExt(ext) {
		return ""
	}
	return "." + ext
}

func validExt(ext string) bool {
	if len(ext) == 0 || len(ext) > 16 {
		return false
	}
	for _, r := range ext {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func isFanout(name string) bool { return len(name) == 2 && isLowerHex(name) }

func isLowerHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
