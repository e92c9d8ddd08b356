package filecache_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edp-data/edp/internal/filecache"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	cache *filecache.Cache
	reg   *prometheus.Registry
	dir   string
}

func newCache(t *testing.T, dir string, maxBytes int64, src filecache.Source, clock filecache.Clock) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := filecache.New(filecache.Options{Dir: dir, MaxBytes: maxBytes, Source: src, Registerer: reg, Clock: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{cache: c, reg: reg, dir: dir}
}

// metric returns the value of one of the cache's metrics.
func (f *fixture) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func (f *fixture) wantMetrics(t *testing.T, want map[string]float64) {
	t.Helper()
	for name, v := range want {
		if got := f.metric(t, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
}

// files lists the cached files (not temporaries) under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != "CACHEDIR.TAG" {
			out = append(out, strings.TrimPrefix(p, dir+string(filepath.Separator)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// acquireRead acquires uri, checks its content and releases it.
func acquireRead(t *testing.T, c *filecache.Cache, uri string, want []byte) {
	t.Helper()
	l, err := c.Acquire(context.Background(), uri, filecache.Expect{Size: int64(len(want))})
	if err != nil {
		t.Fatalf("Acquire(%q) = %v, want nil", uri, err)
	}
	defer l.Release()
	got, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Acquire(%q): content of %s differs from the object (%d bytes, want %d)", uri, l.Path(), len(got), len(want))
	}
}

func TestMissFillHit(t *testing.T) {
	s3 := newS3(t)
	data := randomBytes(300_000, 1)
	uri := s3.put(t, "db/t/data/00000-0.parquet", data)
	f := newCache(t, t.TempDir(), 1<<20, s3.source, nil)

	acquireRead(t, f.cache, uri, data)
	f.wantMetrics(t, map[string]float64{
		"edp_file_cache_misses_total":      1,
		"edp_file_cache_hits_total":        0,
		"edp_file_cache_fill_bytes_total":  float64(len(data)),
		"edp_file_cache_bytes":             float64(len(data)),
		"edp_file_cache_fill_errors_total": 0,
	})

	l, err := f.cache.Acquire(context.Background(), uri, filecache.Expect{})
	if err != nil {
		t.Fatalf("second Acquire = %v", err)
	}
	if !strings.HasPrefix(l.Path(), f.dir+string(filepath.Separator)) || filepath.Ext(l.Path()) != ".parquet" {
		t.Errorf("Path() = %q, want a .parquet file under %s", l.Path(), f.dir)
	}
	l.Release()
	l.Release() // a second Release is harmless
	if got := s3.gets.Load(); got != 1 {
		t.Errorf("object GETs = %d, want 1", got)
	}
	f.wantMetrics(t, map[string]float64{
		"edp_file_cache_misses_total":     1,
		"edp_file_cache_hits_total":       1,
		"edp_file_cache_fill_bytes_total": float64(len(data)),
	})

	// A missing object is an error and caches nothing.
	if _, err := f.cache.Acquire(context.Background(), "s3://"+bucket+"/nope.parquet", filecache.Expect{}); err == nil {
		t.Errorf("Acquire(missing object) = nil error, want one")
	}
	if got := len(files(t, f.dir)); got != 1 {
		t.Errorf("cached files after a missing object = %d, want 1", got)
	}
}

func TestEvictionUnderSizePressure(t *testing.T) {
	s3 := newS3(t)
	const size = 10_000
	objs := map[string][]byte{}
	uris := map[string]string{}
	for i, name := range []string{"a", "b", "c", "d", "e", "f"} {
		objs[name] = randomBytes(size, uint64(i+10))
		uris[name] = s3.put(t, name+".parquet", objs[name])
	}
	f := newCache(t, t.TempDir(), 3*size, s3.source, nil)
	acquire := func(name string) *filecache.Lease {
		t.Helper()
		l, err := f.cache.Acquire(context.Background(), uris[name], filecache.Expect{Size: size})
		if err != nil {
			t.Fatalf("Acquire(%s) = %v", name, err)
		}
		return l
	}
	wantCached := func(step string, want map[string]bool) {
		t.Helper()
		for name, w := range want {
			if got := f.cache.Contains(uris[name]); got != w {
				t.Errorf("%s: Contains(%s) = %v, want %v", step, name, got, w)
			}
		}
	}

	for _, n := range []string{"a", "b", "c"} {
		acquire(n).Release()
	}
	acquire("a").Release() // a is now the most recently used; b the least
	acquire("d").Release()
	wantCached("d evicts the least recently used", map[string]bool{"a": true, "b": false, "c": true, "d": true})

	// LRU order is now c, a, d (oldest first). Leasing c protects it: e
	// must evict a instead.
	lc := acquire("c")
	acquire("e").Release()
	wantCached("leased c survives", map[string]bool{"a": false, "c": true, "d": true, "e": true})
	got, err := os.ReadFile(lc.Path())
	if err != nil || !bytes.Equal(got, objs["c"]) {
		t.Errorf("leased file %s unreadable or changed: %v", lc.Path(), err)
	}
	f.wantMetrics(t, map[string]float64{"edp_file_cache_evictions_total": 2, "edp_file_cache_bytes": 3 * size})

	// Everything leased: no room, and nothing is evicted or left behind.
	ld, le := acquire("d"), acquire("e")
	_, err = f.cache.Acquire(context.Background(), uris["f"], filecache.Expect{Size: size})
	if !errors.Is(err, filecache.ErrFull) {
		t.Errorf("Acquire(f) with every file leased = %v, want ErrFull", err)
	}
	wantCached("all leased", map[string]bool{"c": true, "d": true, "e": true, "f": false})
	lc.Release()
	ld.Release()
	le.Release()
	acquire("f").Release()
	wantCached("after releases", map[string]bool{"c": false, "f": true})
	f.wantMetrics(t, map[string]float64{"edp_file_cache_evictions_total": 3, "edp_file_cache_bytes": 3 * size})
	if n := len(files(t, f.dir)); n != 3 {
		t.Errorf("files on disk = %d, want 3", n)
	}

	big := s3.put(t, "big.parquet", randomBytes(3*size+1, 99))
	if _, err := f.cache.Acquire(context.Background(), big, filecache.Expect{}); !errors.Is(err, filecache.ErrTooLarge) {
		t.Errorf("Acquire(object larger than the cache) = %v, want ErrTooLarge", err)
	}
}

func TestConcurrentAcquiresShareOneGet(t *testing.T) {
	s3 := newS3(t)
	data := randomBytes(1<<20, 2)
	uri := s3.put(t, "shared.parquet", data)
	f := newCache(t, t.TempDir(), 4<<20, s3.source, nil)

	// The first GET stalls half-way until all callers wait on it, so that
	// they really overlap.
	st := newStall(1 << 19)
	s3.stall.Store(st)
	const n = 32
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			l, err := f.cache.Acquire(context.Background(), uri, filecache.Expect{Size: int64(len(data))})
			errs[i] = err
			if err == nil {
				paths[i] = l.Path()
				l.Release()
			}
		})
	}
	<-st.reached
	// Not a timing assertion: the deadline only turns a broken fill sharing
	// (callers never joining) into a failure instead of a hang.
	for deadline := time.Now().Add(30 * time.Second); f.cache.Waiters(uri) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(st.release)
			wg.Wait()
			t.Fatalf("Waiters(%q) = %d, want %d callers sharing one fill", uri, f.cache.Waiters(uri), n)
		}
	}
	close(st.release)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("Acquire #%d = %v", i, err)
		}
		if paths[i] != paths[0] {
			t.Errorf("Acquire #%d path %q, want %q", i, paths[i], paths[0])
		}
	}
	if got := s3.gets.Load(); got != 1 {
		t.Errorf("object GETs for %d concurrent Acquires = %d, want 1", n, got)
	}
	f.wantMetrics(t, map[string]float64{
		"edp_file_cache_misses_total":     n,
		"edp_file_cache_fill_bytes_total": float64(len(data)),
	})
	acquireRead(t, f.cache, uri, data)
}

func TestSizeMismatchCachesNothing(t *testing.T) {
	data := randomBytes(5000, 3)
	for _, tc := range []struct {
		name     string
		hideSize bool // the source does not report the size: checked after the download
		want     int64
	}{
		{"store reports more than expected", false, 4999},
		{"store reports less than expected", false, 5001},
		{"unknown size, longer than expected", true, 4999},
		{"unknown size, shorter than expected", true, 5001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &memSource{objects: map[string][]byte{"s3://b/x.parquet": data}, hideSize: tc.hideSize}
			f := newCache(t, t.TempDir(), 1<<20, src, nil)
			_, err := f.cache.Acquire(context.Background(), "s3://b/x.parquet", filecache.Expect{Size: tc.want})
			if !errors.Is(err, filecache.ErrSizeMismatch) {
				t.Fatalf("Acquire(Size %d of a %d-byte object) = %v, want ErrSizeMismatch", tc.want, len(data), err)
			}
			if got := files(t, f.dir); len(got) != 0 {
				t.Errorf("files after a size mismatch = %v, want none", got)
			}
			f.wantMetrics(t, map[string]float64{"edp_file_cache_fill_errors_total": 1, "edp_file_cache_bytes": 0})
			// Not poisoned: the right size succeeds.
			acquireRead(t, f.cache, "s3://b/x.parquet", data)
		})
	}

	// And through the real S3 client, where the store reports the size.
	s3 := newS3(t)
	uri := s3.put(t, "y.parquet", data)
	f := newCache(t, t.TempDir(), 1<<20, s3.source, nil)
	if _, err := f.cache.Acquire(context.Background(), uri, filecache.Expect{Size: 1}); !errors.Is(err, filecache.ErrSizeMismatch) {
		t.Fatalf("Acquire over S3 with a wrong size = %v, want ErrSizeMismatch", err)
	}
	if f.cache.Contains(uri) || len(files(t, f.dir)) != 0 {
		t.Errorf("something was cached after a size mismatch: %v", files(t, f.dir))
	}
	acquireRead(t, f.cache, uri, data)
}

func TestStoreFailsMidDownload(t *testing.T) {
	s3 := newS3(t)
	data := randomBytes(256<<10, 4)
	uri := s3.put(t, "cut.parquet", data)
	f := newCache(t, t.TempDir(), 1<<20, s3.source, nil)

	s3.cutAfter.Store(10_000)
	_, err := f.cache.Acquire(context.Background(), uri, filecache.Expect{Size: int64(len(data))})
	if err == nil {
		t.Fatal("Acquire with the connection cut mid-body = nil error, want one")
	}
	t.Logf("cut connection: %v", err)
	if f.cache.Contains(uri) || len(files(t, f.dir)) != 0 {
		t.Errorf("something was cached after a cut download: %v", files(t, f.dir))
	}
	f.wantMetrics(t, map[string]float64{"edp_file_cache_fill_errors_total": 1, "edp_file_cache_bytes": 0})

	// The store is back: the retry succeeds.
	acquireRead(t, f.cache, uri, data)
	if got := s3.gets.Load(); got != 2 {
		t.Errorf("object GETs = %d, want 2", got)
	}

	// The whole server stops, then comes back on the same address.
	uri2 := s3.put(t, "stopped.parquet", data)
	addr := s3.stop()
	if _, err := f.cache.Acquire(context.Background(), uri2, filecache.Expect{Size: int64(len(data))}); err == nil {
		t.Fatal("Acquire with the store stopped = nil error, want one")
	}
	if f.cache.Contains(uri2) || len(files(t, f.dir)) != 1 {
		t.Errorf("files after a failed fill = %v, want only the first object", files(t, f.dir))
	}
	s3.start(t, addr)
	acquireRead(t, f.cache, uri2, data)
}

func TestCancelDuringFill(t *testing.T) {
	s3 := newS3(t)
	data := randomBytes(1<<20, 5)
	uri := s3.put(t, "slow.parquet", data)
	dir := t.TempDir()
	f := newCache(t, dir, 4<<20, s3.source, nil)

	st := newStall(100_000)
	s3.stall.Store(st)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.cache.Acquire(ctx, uri, filecache.Expect{Size: int64(len(data))})
		errc <- err
	}()
	<-st.reached
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire cancelled mid-download = %v, want context.Canceled", err)
	}
	// The next Acquire starts afresh instead of joining the cancelled fill.
	acquireRead(t, f.cache, uri, data)
	if got := s3.gets.Load(); got != 2 {
		t.Errorf("object GETs = %d, want 2", got)
	}
	f.cache.Close() // waits for the cancelled fill to clean up
	if got := files(t, dir); len(got) != 1 {
		t.Errorf("files after a cancelled and a good fill = %v, want one", got)
	}
	f.wantMetrics(t, map[string]float64{"edp_file_cache_fill_errors_total": 1, "edp_file_cache_bytes": float64(len(data))})
	if _, err := f.cache.Acquire(context.Background(), uri, filecache.Expect{}); !errors.Is(err, filecache.ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
}

func TestRestartKeepsValidEntries(t *testing.T) {
	s3 := newS3(t)
	const size = 20_000
	objs := map[string][]byte{}
	uris := map[string]string{}
	for i, name := range []string{"a", "b", "c", "d"} {
		objs[name] = randomBytes(size, uint64(i+20))
		uris[name] = s3.put(t, name+".parquet", objs[name])
	}
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}

	f1 := newCache(t, dir, 3*size, s3.source, clock)
	var paths = map[string]string{}
	for _, n := range []string{"a", "b", "c", "a"} {
		clock.Advance(2 * time.Minute)
		l, err := f1.cache.Acquire(context.Background(), uris[n], filecache.Expect{Size: size})
		if err != nil {
			t.Fatalf("Acquire(%s) = %v", n, err)
		}
		paths[n] = l.Path()
		l.Release()
	}
	f1.cache.Close()

	// Damage the cache the ways a crash or a disk can: c's content changes
	// (same size), a temporary file is left, stray files appear.
	corrupt := bytes.Clone(objs["c"])
	corrupt[size/2] ^= 0xff
	if err := os.WriteFile(paths["c"], corrupt, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(paths["c"], clock.Now().Add(-time.Minute), clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	strays := []string{
		filepath.Join(dir, "tmp", "0123456789abcdef-123"),
		filepath.Join(dir, "ab", "not-a-cache-file"),
		filepath.Join(dir, filepath.Base(filepath.Dir(paths["a"])), strings.Replace(filepath.Base(paths["a"]), "-20000-", "-20001-", 1)),
	}
	for _, p := range strays {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("junk"), 0o640); err != nil {
			t.Fatal(err)
		}
	}

	getsBefore := s3.gets.Load()
	f2 := newCache(t, dir, 3*size, s3.source, clock)
	for _, p := range strays {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stray file %s survived New: %v", p, err)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if !f2.cache.Contains(uris[n]) {
			t.Errorf("after restart Contains(%s) = false, want true", n)
		}
	}
	// The LRU order survives through the files' times: b was used least
	// recently, so d evicts it.
	acquireRead(t, f2.cache, uris["d"], objs["d"])
	if f2.cache.Contains(uris["b"]) || !f2.cache.Contains(uris["a"]) || !f2.cache.Contains(uris["c"]) {
		t.Errorf("after restart d evicted the wrong file: a %v b %v c %v, want a and c kept",
			f2.cache.Contains(uris["a"]), f2.cache.Contains(uris["b"]), f2.cache.Contains(uris["c"]))
	}
	if got := s3.gets.Load() - getsBefore; got != 1 {
		t.Fatalf("GETs after restart = %d, want 1 (d)", got)
	}
	// a is served from disk; the corrupt c is detected and read again.
	acquireRead(t, f2.cache, uris["a"], objs["a"])
	if got := s3.gets.Load() - getsBefore; got != 1 {
		t.Errorf("GETs after reading a kept file = %d, want 1", got)
	}
	acquireRead(t, f2.cache, uris["c"], objs["c"])
	if got := s3.gets.Load() - getsBefore; got != 2 {
		t.Errorf("GETs after reading the corrupt file = %d, want 2", got)
	}
	f2.wantMetrics(t, map[string]float64{
		"edp_file_cache_hits_total":    1,
		"edp_file_cache_misses_total":  2,
		"edp_file_cache_corrupt_total": 1,
		"edp_file_cache_bytes":         3 * size,
	})
}

func TestNewRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := filecache.New(filecache.Options{Dir: dir, MaxBytes: 1 << 20, Source: &memSource{}})
	if err == nil {
		t.Fatal("New on a non-empty directory without a cache tag = nil error, want one")
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("New touched a file it does not own: %v", err)
	}
}

func TestOddURIsStayInsideDir(t *testing.T) {
	uris := []string{
		"../../etc/passwd",
		"s3://b/../../../etc/passwd",
		"file:///etc/passwd",
		"s3://b/a\x00b.parquet",
		"s3://b/" + strings.Repeat("x/", 500) + "y.parquet",
		"s3://b/x.PARQUET?versionId=../../z",
		"s3://b/x.tar.gz/..",
	}
	src := &memSource{objects: map[string][]byte{}}
	for i, u := range uris {
		src.objects[u] = randomBytes(100, uint64(i+40))
	}
	dir := t.TempDir()
	f := newCache(t, dir, 1<<20, src, nil)
	seen := map[string]string{}
	for _, u := range uris {
		t.Run(u[:min(len(u), 40)], func(t *testing.T) {
			l, err := f.cache.Acquire(context.Background(), u, filecache.Expect{})
			if err != nil {
				t.Fatalf("Acquire(%q) = %v", u, err)
			}
			defer l.Release()
			rel, err := filepath.Rel(dir, l.Path())
			if err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, string(filepath.Separator)) != 1 {
				t.Errorf("Acquire(%q).Path() = %q, want a file two levels under %s", u, l.Path(), dir)
			}
			if prev, dup := seen[l.Path()]; dup {
				t.Errorf("Acquire(%q) and Acquire(%q) share %s", u, prev, l.Path())
			}
			seen[l.Path()] = u
			got, _ := os.ReadFile(l.Path())
			if !bytes.Equal(got, src.objects[u]) {
				t.Errorf("Acquire(%q): wrong content", u)
			}
		})
	}
}
