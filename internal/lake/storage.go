package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edp-data/edp/internal/filecache"
	"github.com/edp-data/edp/internal/objstore"
)

// staleStage is how old a staging directory left by a process that died
// must be before a new process removes it.
const staleStage = 24 * time.Hour

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
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: warehouse %q: a query or fragment is not part of a location", ErrInvalid, opts.Warehouse)
	}
	if !filepath.IsAbs(opts.LocalDir) {
		return fmt.Errorf("%w: a remote warehouse needs an absolute local directory for staging and caching, got %q", ErrInvalid, opts.LocalDir)
	}
	if err := opts.Storage.Encryption.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	l.whURI = u.Scheme + "://" + u.Host + strings.TrimRight(path.Clean("/"+u.Path), "/")
	l.localDir = opts.LocalDir
	l.store = objstore.NewStore(opts.Storage.Props, opts.Storage.Encryption)
	l.s3 = storeCaller(opts)
	if err := l.openStage(); err != nil {
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
// command-line query, say) and removes those that processes which died
// long ago left behind.
func (l *Lake) openStage() error {
	parent := filepath.Join(l.localDir, "stage")
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("create staging area: %w", err)
	}
	if ents, err := os.ReadDir(parent); err == nil {
		for _, e := range ents {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleStage {
				_ = os.RemoveAll(filepath.Join(parent, e.Name()))
			}
		}
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	l.stage = filepath.Join(parent, hex.EncodeToString(b[:]))
	if err := os.Mkdir(l.stage, 0o750); err != nil {
		return fmt.Errorf("create staging area: %w", err)
	}
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
	f, err := os.OpenFile(filepath.Join(l.localDir, "cache.lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return "", fmt.Errorf("lock file cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		l.cacheLock = f
		return shared, nil
	}
	f.Close()
	dir, err := os.MkdirTemp(l.localDir, "cache-")
	if err != nil {
		return "", fmt.Errorf("create private file cache: %w", err)
	}
	l.privateCache = dir
	l.log.Info("file cache in use by another process; this one uses a private cache", "dir", dir)
	return dir, nil
}

// closeStorage releases what openWarehouse set up.
func (l *Lake) closeStorage() {
	if l.cache != nil {
		_ = l.cache.Close()
	}
	if l.privateCache != "" {
		_ = os.RemoveAll(l.privateCache)
	}
	if l.cacheLock != nil {
		_ = l.cacheLock.Close() // releases the lock
	}
	if l.stage != "" {
		_ = os.RemoveAll(l.stage)
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
// bucket; "file://" for local paths) and a clean slash-separated path.
type location struct {
	root, path string
}

func parseLocation(loc string) location {
	u, err := url.Parse(loc)
	if err != nil || len(u.Scheme) <= 1 {
		return location{root: "file://", path: filepath.ToSlash(filepath.Clean(loc))}
	}
	if u.Scheme == "file" {
		return location{root: "file://", path: path.Clean(u.Path)}
	}
	return location{root: u.Scheme + "://" + u.Host, path: path.Clean("/" + u.Path)}
}

// nested reports whether the slash path child is parent itself or lies
// inside it.
func nested(parent, child string) bool {
	return child == parent || strings.HasPrefix(child, strings.TrimRight(parent, "/")+"/")
}
