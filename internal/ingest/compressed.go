package ingest

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// checkCompressed reads a gzip or zstd file through to its end. DuckDB's
// decompressing readers stop quietly at a cut-off stream, so a truncated
// upload would otherwise load only its first part and report success.
func checkCompressed(path string) error {
	lower := strings.ToLower(path)
	var open func(io.Reader) (io.Reader, func(), error)
	switch {
	case strings.HasSuffix(lower, ".gz"):
		open = func(r io.Reader) (io.Reader, func(), error) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, nil, err
			}
			return zr, func() { zr.Close() }, nil
		}
	case strings.HasSuffix(lower, ".zst"), strings.HasSuffix(lower, ".zstd"):
		open = func(r io.Reader) (io.Reader, func(), error) {
			zr, err := zstd.NewReader(r)
			if err != nil {
				return nil, nil, err
			}
			return zr, zr.Close, nil
		}
	default:
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, closeFn, err := open(f)
	if err != nil {
		return fmt.Errorf("%w: %s is not a valid compressed file: %v", ErrBadInput, path, err)
	}
	defer closeFn()
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("%w: %s is truncated or corrupt: %v", ErrBadInput, path, err)
	}
	return nil
}
