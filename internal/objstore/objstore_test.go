package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/edp-data/edp/internal/objstore"
)

func TestS3Props(t *testing.T) {
	for _, tc := range []struct {
		name             string
		endpoint, region string
		access, secret   string
		pathStyle        bool
		want             iceberg.Properties
	}{
		{"self-hosted, path style", "http://127.0.0.1:9000", "us-east-1", "ak", "sk", true, iceberg.Properties{
			"s3.endpoint": "http://127.0.0.1:9000", "s3.region": "us-east-1",
			"s3.access-key-id": "ak", "s3.secret-access-key": "sk", "s3.force-virtual-addressing": "false",
		}},
		{"AWS with ambient credentials", "", "eu-west-1", "", "", false, iceberg.Properties{
			"s3.region": "eu-west-1", "s3.force-virtual-addressing": "true",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := objstore.S3Props(tc.endpoint, tc.region, tc.access, tc.secret, tc.pathStyle)
			if !maps.Equal(got, tc.want) {
				t.Errorf("S3Props(%q, %q, …, %v) = %v, want %v", tc.endpoint, tc.region, tc.pathStyle, got, tc.want)
			}
		})
	}
}

// The S3 path of Source is exercised against an S3 server by the
// filecache tests; this covers the FileIO fallback for local files.
func TestSourceLocalFile(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("edp"), 1000)
	p := filepath.Join(dir, "x.parquet")
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	src := objstore.NewSource(nil)
	r, size, err := src.Open(context.Background(), "file://"+p)
	if err != nil {
		t.Fatalf("Open(file://%s) = %v", p, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) || size != int64(len(data)) {
		t.Errorf("Open(file://%s): size %d, %d bytes read, err %v; want size %d and the content", p, size, len(got), err, len(data))
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r, _, err = src.Open(ctx, "file://"+p)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // closes the file
	if _, err := r.Read(make([]byte, 10)); err == nil {
		t.Errorf("Read after cancel = nil error, want one")
	}
	r.Close()

	if _, _, err := src.Open(context.Background(), "file://"+filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
}
