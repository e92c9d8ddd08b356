package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/filecache"
	"github.com/edp-data/edp/internal/objstore"
)

// openWarehouse sets up the warehouse opts names: a local directory, or an
// object store with its staging area and read cache under LocalDir.
func (l *Lake) openWarehouse(opts Options) error {
	u, err := url.Parse(opts.Warehouse)
	// A one-letter scheme is a Windows drive letter, not a URI.
	remote := err == nil && len(u.Scheme) > 1 && u.Scheme != "file"
	if !remote {
		p := opts.Warehouse
		if err == nil && u.Scheme == "file" {
			p = u.Path
		}
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%w: warehouse must be an absolute path, got %q", ErrInvalid, opts.Warehouse)
		}
		p = filepath.Clean(p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("create warehouse: %w", err)
		}
		l.warehouse = p
		l.whURI = (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
		l.localDir = opts.LocalDir
		if l.localDir == "" {
			l.localDir = filepath.Dir(p)
		}
		return nil
	}
	switch u.Scheme {
	case "s3", "s3a", "s3n":
	default:
		return fmt.Errorf("%w: warehouse %q: unsupported scheme %q (use a local path or s3://BUCKET/PREFIX)", ErrInvalid, opts.Warehouse, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: warehouse %q names no bucket", ErrInvalid, opts.Warehouse)
	}
	// Object keys are the raw text after the bucket: nothing is decoded or
	// cleaned, so a prefix must read the same both ways.
	if strings.ContainsAny(opts.Warehouse, "%?#\\") || parseLocation(opts.Warehouse).dots {
		return fmt.Errorf("%w: warehouse %q: use a plain prefix (no %%, ?, #, \\, . or .. segments)", ErrInvalid, opts.Warehouse)
	}
	if !filepath.IsAbs(opts.LocalDir) {
		return fmt.Errorf("%w: a remote warehouse needs an absolute local directory for staging and caching, got %q", ErrInvalid, opts.LocalDir)
	}
	if err := opts.Storage.Encryption.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	w := parseLocation(opts.Warehouse)
	l.whURI = w.root + strings.TrimRight(w.path, "/")
	l.localDir = opts.LocalDir
	// Every request to the store, iceberg-go's metadata reads and writes
	// included, goes through an HTTP client whose transport has the
	// store's circuit breaker.
	l.s3 = storeCaller(opts)
	id, unregister := objstore.RegisterClient(&http.Client{Transport: httpCaller(opts).Transport(storeTransport())})
	l.unregisterClient = unregister
	l.storeProps = maps.Clone(opts.Storage.Props)
	if l.storeProps == nil {
		l.storeProps = iceberg.Properties{}
	}
	l.storeProps[objstore.ClientProperty] = id
	l.store = objstore.NewStore(l.storeProps, opts.Storage.Encryption)
	if err := l.openStage(); err != nil {
		l.closeStorage()
		return err
	}
	maxBytes := opts.Storage.CacheBytes
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	dir, err := l.claimCache()
	if err != nil {
		l.closeStorage()
		return err
	}
	l.cache, err = filecache.New(filecache.Options{Dir: dir, MaxBytes: maxBytes,
		Source: resilientSource{store: l.store, caller: l.s3}, Registerer: opts.Storage.Registerer, Logger: opts.Logger})
	if err != nil {
		l.closeStorage()
		return fmt.Errorf("open file cache: %w", err)
	}
	return nil
}

// openStage gives this Lake a staging directory of its own under
// LocalDir/stage (several processes may share a LocalDir: a server and a
// command-line query, say), locked for the Lake's lifetime, and removes the
// ones whose processes are gone.
func (l *Lake) openStage() error {
	parent := filepath.Join(l.localDir, "stage")
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("create staging area: %w", err)
	}
	sweepUnlocked(parent, "")
	dir, lock, err := lockedDir(parent, "")
	if err != nil {
		return fmt.Errorf("create staging area: %w", err)
	}
	l.stage, l.stageLock = dir, lock
	return nil
}

// claimCache returns the cache directory this process may manage: the
// shared LocalDir/cache when no other process holds it, else a private
// one removed on Close. A cache manages its files as if it were alone —
// it evicts and replaces them — so two processes must not share one.
func (l *Lake) claimCache() (string, error) {
	shared := filepath.Join(l.localDir, "cache")
	if err := os.MkdirAll(l.localDir, 0o750); err != nil {
		return "", fmt.Errorf("create %s: %w", l.localDir, err)
	}
	if f, ok, err := tryLock(filepath.Join(l.localDir, "cache.lock")); err != nil {
		return "", fmt.Errorf("lock file cache: %w", err)
	} else if ok {
		l.cacheLock = f
		return shared, nil
	}
	// Private caches of processes that died are removed first.
	sweepUnlocked(l.localDir, "cache-")
	dir, lock, err := lockedDir(l.localDir, "cache-")
	if err != nil {
		return "", fmt.Errorf("create private file cache: %w", err)
	}
	l.privateCache, l.privateLock = dir, lock
	l.log.Info("file cache in use by another process; this one uses a private cache", "dir", dir)
	return dir, nil
}

// lockedDir creates parent/<prefix><random> and holds an exclusive lock
// on the file beside it, <dir>.lock, until the lock file is closed.
func lockedDir(parent, prefix string) (string, *os.File, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	dir := filepath.Join(parent, prefix+hex.EncodeToString(b[:]))
	lock, ok, err := tryLock(dir + ".lock")
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, fmt.Errorf("%s.lock is held by another process", dir)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		lock.Close()
		return "", nil, err
	}
	return dir, lock, nil
}

// sweepUnlocked removes the directories parent/<prefix>* (and their lock
// files) whose lock no process holds: what processes that died left.
func sweepUnlocked(parent, prefix string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, prefix) {
			continue
		}
		dir := filepath.Join(parent, name)
		lock, ok, err := tryLock(dir + ".lock")
		if err != nil || !ok {
			continue
		}
		_ = os.RemoveAll(dir)
		_ = os.Remove(dir + ".lock")
		lock.Close()
	}
}

// tryLock opens (creating) path and takes an exclusive advisory lock on
// it without waiting; ok is false when another process holds it. Closing
// the file releases the lock, as does the process ending.
func tryLock(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}

// storeTransport is the HTTP transport under an object store's client:
// enough idle connections per host for the transfers a lake runs at once.
func storeTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4 * transfers
	return t
}

// closeStorage releases what openWarehouse set up.
func (l *Lake) closeStorage() {
	if l.unregisterClient != nil {
		l.unregisterClient()
	}
	if l.cache != nil {
		_ = l.cache.Close()
	}
	if l.privateCache != "" {
		_ = os.RemoveAll(l.privateCache)
		_ = os.Remove(l.privateCache + ".lock")
		_ = l.privateLock.Close()
	}
	if l.cacheLock != nil {
		_ = l.cacheLock.Close() // releases the lock
	}
	if l.stage != "" {
		_ = os.RemoveAll(l.stage)
		_ = os.Remove(l.stage + ".lock")
		_ = l.stageLock.Close()
	}
}

// removeDir deletes everything under a table's directory.
func (l *Lake) removeDir(ctx context.Context, loc string) error {
	if l.store == nil {
		return os.RemoveAll(localPath(loc))
	}
	return l.s3.Do(ctx, true, func(ctx context.Context) error { return l.store.RemoveAll(ctx, loc) })
}

// location is a location split into what must match exactly (scheme and
// bucket; "file://" for local paths) and a slash-separated path. A local
// path is cleaned; an object key is kept raw, as the store uses it (keys
// are opaque: "%41" is not "A" and "a/../b" is not "b"), and dots marks
// one with "." or ".." segments, which some stores would resolve.
type location struct {
	root, path string
	dots       bool
}

func parseLocation(loc string) location {
	u, err := url.Parse(loc)
	if err != nil || len(u.Scheme) <= 1 {
		if scheme, rest, ok := strings.Cut(loc, "://"); ok && len(scheme) > 1 {
			return objectLocation(scheme, rest)
		}
		return location{root: "file://", path: filepath.ToSlash(filepath.Clean(loc))}
	}
	if u.Scheme == "file" {
		return location{root: "file://", path: path.Clean(u.Path)}
	}
	_, rest, _ := strings.Cut(loc, "://")
	return objectLocation(u.Scheme, rest)
}

// objectLocation splits scheme://rest the way the object store's FileIO
// does: the bucket up to the first '/', the rest the raw key.
func objectLocation(scheme, rest string) location {
	bucket, key, _ := strings.Cut(rest, "/")
	l := location{root: scheme + "://" + bucket, path: "/" + key}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			l.dots = true
		}
	}
	return l
}

// nested reports whether the slash path child is parent itself or lies
// inside it.
func nested(parent, child string) bool {
	return child == parent || strings.HasPrefix(child, strings.TrimRight(parent, "/")+"/")
}

// errNotTableFile refuses the deletion of a file outside a table's own
// directory.
var errNotTableFile = errors.New("not inside the table's directory")

// ownsFile reports whether file lies inside the table directory tableLoc
// and inside the warehouse: the only files edp deletes or accepts on a
// table's behalf. Object keys with '.' or '..' segments are refused, as
// insideWarehouse refuses them: a store that resolves them would put
// t-1/../u-2/x in another table.
func (l *Lake) ownsFile(tableLoc, file string) bool {
	t, f := parseLocation(tableLoc), parseLocation(file)
	return l.insideWarehouse(file) && t.root == f.root && !f.dots && f.path != t.path && nested(t.path, f.path)
}

// TableFS is the file system of tbl's files for deleting them: Remove
// refuses any file outside the table's own directory (and the warehouse).
// Purge and expiry delete what the metadata names, and metadata a client
// wrote may name anything.
func (l *Lake) TableFS(ctx context.Context, tbl *table.Table) (iceio.IO, error) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	loc := tbl.Location()
	return ownFilesIO{IO: fs, owns: func(f string) bool { return l.ownsFile(loc, f) }}, nil
}

// ownFilesIO is an IO whose Remove deletes only the files owns accepts.
type ownFilesIO struct {
	iceio.IO
	owns func(string) bool
}

func (o ownFilesIO) Remove(name string) error {
	if !o.owns(name) {
		return &iofs.PathError{Op: "remove", Path: name, Err: errNotTableFile}
	}
	return o.IO.Remove(name)
}

// Stat and ReadFile pass through, so that reads and sizes through
// ownFilesIO cost what they cost through the store's own IO.
func (o ownFilesIO) Stat(name string) (iofs.FileInfo, error) {
	if st, ok := o.IO.(iceio.StatIO); ok {
		return st.Stat(name)
	}
	f, err := o.IO.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func (o ownFilesIO) ReadFile(name string) ([]byte, error) {
	if r, ok := o.IO.(iceio.ReadFileIO); ok {
		return r.ReadFile(name)
	}
	f, err := o.IO.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
