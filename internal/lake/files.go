package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"golang.org/x/sync/errgroup"

	"github.com/edp-data/edp/internal/filecache"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/resilience"
)

// transfers bounds the uploads or downloads one write or query runs at
// once: enough to keep a store's latency hidden, few enough not to flood a
// small server.
const transfers = 8

// Remote reports whether the warehouse is on an object store.
func (l *Lake) Remote() bool { return l.store != nil }

// WarehouseURI is the warehouse as a URI: file:///… or s3://bucket/prefix.
func (l *Lake) WarehouseURI() string { return l.whURI }

// LocalDirs are the local directories that hold table files as DuckDB sees
// them: the warehouse itself, or, for a remote warehouse, the staging area
// of writes and the file cache. A DuckDB over the lake may touch these and
// nothing else of the lake's.
func (l *Lake) LocalDirs() []string {
	if l.store == nil {
		return []string{l.warehouse}
	}
	return []string{l.stageRoot(), l.cache.Dir()}
}

// ScratchDir is local space for temporary files (spills, upload spools).
func (l *Lake) ScratchDir() string { return filepath.Join(l.localDir, "tmp") }

func (l *Lake) stageRoot() string { return l.stage }

// StagePath is the local directory where files bound for the warehouse
// directory uri are written: the directory itself in a local warehouse, a
// mirror of it under the staging area for a remote one.
func (l *Lake) StagePath(uri string) string {
	if l.store == nil {
		return localPath(uri)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return filepath.Join(l.stageRoot(), "invalid")
	}
	return filepath.Join(l.stageRoot(), u.Host, filepath.FromSlash(filepath.Clean("/"+u.Path)))
}

// Stage creates and returns StagePath(uri), where DuckDB writes the files
// of one write to the warehouse directory uri.
func (l *Lake) Stage(uri string) (string, error) {
	dir := l.StagePath(uri)
	return dir, os.MkdirAll(dir, 0o755)
}

// Publish makes staged files (local paths by the URI each takes in the
// table) visible at their URIs. In a local warehouse
// they already are. For a remote one each is uploaded (a few at a time,
// retried through the store's circuit breaker) and its staged copy
// removed; if any upload fails, the ones that succeeded are deleted again
// and the error returned, so a failed write leaves nothing in the store.
func (l *Lake) Publish(ctx context.Context, files map[string]string) error {
	if l.store == nil || len(files) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transfers)
	var mu sync.Mutex
	var done []string
	for uri, local := range files {
		g.Go(func() error {
			if err := l.s3.Do(gctx, true, func(ctx context.Context) error { return l.store.Upload(ctx, local, uri) }); err != nil {
				return err
			}
			mu.Lock()
			done = append(done, uri)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if derr := l.deleteObjects(context.WithoutCancel(ctx), done); derr != nil {
			l.log.Warn("a failed write left uploaded files behind; orphan cleanup removes them", "err", derr)
		}
		return err
	}
	for _, local := range files {
		_ = os.Remove(local)
	}
	return nil
}

// Discard removes a write's staging directory and what is in it: the
// write's files in a local warehouse, its unpublished copies in a remote
// one.
func (l *Lake) Discard(dir string) { _ = os.RemoveAll(dir) }

// Unstage removes a finished write's staging directory once its files are
// published. (The directories above it stay: a concurrent write may be
// creating its own beside it; the whole staging area goes on Close.) In a
// local warehouse the directory is the data, so nothing is removed.
func (l *Lake) Unstage(dir string) {
	if l.store == nil {
		return
	}
	_ = os.RemoveAll(dir)
}

// RemoveFiles deletes files that were written and published but will not
// be committed, and in a local warehouse the write directories they leave
// empty (up to the table's data directory).
func (l *Lake) RemoveFiles(ctx context.Context, files []iceberg.DataFile) error {
	if l.store != nil {
		uris := make([]string, len(files))
		for i, f := range files {
			uris[i] = f.FilePath()
		}
		return l.deleteObjects(ctx, uris)
	}
	var errs []error
	for _, f := range files {
		p := localPath(f.FilePath())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for dir := filepath.Dir(p); filepath.Base(dir) != "data"; dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (l *Lake) deleteObjects(ctx context.Context, uris []string) error {
	if len(uris) == 0 {
		return nil
	}
	return l.s3.Do(ctx, true, func(ctx context.Context) error { return l.store.Delete(ctx, uris) })
}

// ListFiles returns the locations of every file under the warehouse
// directory loc (a table's location, say), in the form table metadata
// uses. A missing directory has none.
func (l *Lake) ListFiles(ctx context.Context, loc string) ([]string, error) {
	if l.store != nil {
		var files []string
		err := l.s3.Do(ctx, true, func(ctx context.Context) error {
			var err error
			files, err = l.store.List(ctx, loc)
			return err
		})
		return files, err
	}
	var files []string
	err := filepath.WalkDir(localPath(loc), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String())
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return files, err
}

// FileRef names a table file to read, with its size from the manifest.
type FileRef struct {
	URI  string
	Size int64
}

// Fetched is a set of table files available as local files until Release.
type Fetched struct {
	paths  map[string]string // by URI
	leases []*filecache.Lease
	once   sync.Once
}

// Path returns the local file for uri, which must be among those fetched.
func (f *Fetched) Path(uri string) string { return f.paths[uri] }

// Release lets the cache evict the files again. It may be called more
// than once.
func (f *Fetched) Release() {
	if f == nil {
		return
	}
	f.once.Do(func() {
		for _, l := range f.leases {
			l.Release()
		}
	})
}

// Fetch makes table files readable as local files: in a local warehouse
// they are; for a remote one each is read through the file cache (a few
// downloads at once) and leased until Release, so nothing DuckDB is reading
// is evicted.
func (l *Lake) Fetch(ctx context.Context, files []FileRef) (*Fetched, error) {
	out := &Fetched{paths: make(map[string]string, len(files))}
	if l.store == nil {
		for _, f := range files {
			out.paths[f.URI] = localPath(f.URI)
		}
		return out, nil
	}
	var todo []FileRef
	for _, f := range files {
		if _, dup := out.paths[f.URI]; !dup {
			out.paths[f.URI] = ""
			todo = append(todo, f)
		}
	}
	leases := make([]*filecache.Lease, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transfers)
	for i, f := range todo {
		g.Go(func() error {
			lease, err := l.cache.Acquire(gctx, f.URI, filecache.Expect{Size: f.Size})
			if err != nil {
				return l.fetchError(f.URI, err)
			}
			leases[i] = lease
			return nil
		})
	}
	err := g.Wait()
	for i, lease := range leases {
		if lease != nil {
			out.leases = append(out.leases, lease)
			out.paths[todo[i].URI] = lease.Path()
		}
	}
	if err != nil {
		out.Release()
		return nil, err
	}
	return out, nil
}

func (l *Lake) fetchError(uri string, err error) error {
	if errors.Is(err, filecache.ErrFull) || errors.Is(err, filecache.ErrTooLarge) {
		return fmt.Errorf("the file cache (%s) cannot hold the files this statement reads at once; raise cache.max_size: %w",
			sizeString(l.cache.MaxBytes()), err)
	}
	return fmt.Errorf("read %s: %w", uri, err)
}

// sizeString renders a byte count in binary units.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

// resilientSource opens objects for the file cache through the store's
// circuit breaker, retrying failures to start a transfer.
type resilientSource struct {
	store  *objstore.Store
	caller *resilience.Caller
}

func (s resilientSource) Open(ctx context.Context, uri string) (io.ReadCloser, int64, error) {
	var (
		r    io.ReadCloser
		size int64
	)
	// The attempt's context ends when the attempt does, but the reader
	// lives on until the fill has read it, so the transfer follows the
	// caller's context instead.
	err := s.caller.Do(ctx, true, func(context.Context) error {
		var err error
		r, size, err = s.store.Open(ctx, uri)
		if errors.Is(err, os.ErrNotExist) {
			return resilience.Permanent(err)
		}
		return err
	})
	return r, size, err
}

// httpCaller guards each HTTP request to the object store: the circuit
// breaker and its metrics, and a bound on the wait for response headers
// (an upload part's or a download's first byte). It does not retry: the
// AWS SDK retries requests, and storeCaller whole transfers.
func httpCaller(opts Options) *resilience.Caller {
	return resilience.New(resilience.Options{Name: "object_store_http", Timeout: 2 * time.Minute, MaxAttempts: 1,
		OpenFor: opts.Storage.BreakerOpenFor, Logger: opts.Logger, Registerer: opts.Storage.Registerer})
}

// storeCaller is the resilience policy of object-store calls: transfers of
// large files take minutes, so an attempt's timeout is long; the AWS SDK
// retries individual requests underneath.
func storeCaller(opts Options) *resilience.Caller {
	return resilience.New(resilience.Options{Name: "object_store", Timeout: 10 * time.Minute, MaxAttempts: 3,
		MaxElapsed: 30 * time.Minute, OpenFor: opts.Storage.BreakerOpenFor, Logger: opts.Logger, Registerer: opts.Storage.Registerer})
}
