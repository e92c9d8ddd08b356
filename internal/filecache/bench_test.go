package filecache_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/edp-data/edp/internal/filecache"
)

const benchSize = 8 << 20

func readAll(b *testing.B, path string, buf []byte) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(io.Discard, f, buf); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWarmRead compares reading a file through a cache hit (Acquire,
// open, read, Release) with reading the same bytes from a plain local file.
//
//	go test -run '^$' -bench WarmRead ./internal/filecache
func BenchmarkWarmRead(b *testing.B) {
	s3 := newS3(b)
	data := randomBytes(benchSize, 7)
	uri := s3.put(b, "warm.parquet", data)
	c, err := filecache.New(filecache.Options{Dir: b.TempDir(), MaxBytes: 4 * benchSize, Source: s3.source})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	plain := filepath.Join(b.TempDir(), "plain.parquet")
	if err := os.WriteFile(plain, data, 0o640); err != nil {
		b.Fatal(err)
	}
	want := filecache.Expect{Size: benchSize}
	l, err := c.Acquire(context.Background(), uri, want)
	if err != nil {
		b.Fatal(err)
	}
	l.Release()
	buf := make([]byte, 256<<10)

	b.Run("cache-hit", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			l, err := c.Acquire(context.Background(), uri, want)
			if err != nil {
				b.Fatal(err)
			}
			readAll(b, l.Path(), buf)
			l.Release()
		}
	})
	b.Run("local-file", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			readAll(b, plain, buf)
		}
	})
}

// BenchmarkColdFill compares a cache miss (download from gofakes3 on
// loopback through iceberg-go's S3 client, hash, rename, evict) with a plain
// GET of the same object through the same client. The cache holds one
// object and two alternate, so every Acquire is a miss.
//
//	go test -run '^$' -bench ColdFill ./internal/filecache
func BenchmarkColdFill(b *testing.B) {
	s3 := newS3(b)
	uris := []string{
		s3.put(b, "cold-0.parquet", randomBytes(benchSize, 8)),
		s3.put(b, "cold-1.parquet", randomBytes(benchSize, 9)),
	}
	c, err := filecache.New(filecache.Options{Dir: b.TempDir(), MaxBytes: benchSize, Source: s3.source})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256<<10)

	b.Run("cache-fill", func(b *testing.B) {
		b.SetBytes(benchSize)
		i := 0
		for b.Loop() {
			l, err := c.Acquire(context.Background(), uris[i%2], filecache.Expect{Size: benchSize})
			if err != nil {
				b.Fatal(err)
			}
			l.Release()
			i++
		}
	})
	b.Run("s3-get", func(b *testing.B) {
		b.SetBytes(benchSize)
		i := 0
		for b.Loop() {
			r, _, err := s3.source.Open(context.Background(), uris[i%2])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
				b.Fatal(err)
			}
			r.Close()
			i++
		}
	})
}
