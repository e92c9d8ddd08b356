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
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/objstore/s3test"
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
func TestStoreLocalFile(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("edp"), 1000)
	p := filepath.Join(dir, "x.parquet")
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	src := objstore.NewStore(nil, objstore.Encryption{})
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

// TestStoreUploadDelete uploads to, reads back from and deletes on an
// S3-compatible server on loopback, with server-side encryption asked for.
func TestStoreUploadDelete(t *testing.T) {
	srv := s3test.Start(t)
	st := objstore.NewStore(srv.Props(), objstore.Encryption{Type: "aws:kms", KMSKeyID: "key-1"})
	ctx := context.Background()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("iceberg"), 300_000) // 2.1 MB
	local := filepath.Join(dir, "f.parquet")
	if err := os.WriteFile(local, data, 0o640); err != nil {
		t.Fatal(err)
	}
	uris := []string{srv.URI("t/data/a.parquet"), srv.URI("t/data/x/b.parquet"), srv.URI("t/metadata/c.json")}
	for _, u := range uris {
		if err := st.Upload(ctx, local, u); err != nil {
			t.Fatalf("Upload(%s) = %v", u, err)
		}
	}
	r, size, err := st.Open(ctx, uris[1])
	if err != nil {
		t.Fatalf("Open(%s) = %v", uris[1], err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Errorf("Open(%s): size %d, %d bytes; want the uploaded %d", uris[1], size, len(got), len(data))
	}
	h := srv.EncryptionHeaders()
	if v := h["X-Amz-Server-Side-Encryption"]; len(v) < len(uris) || v[0] != "aws:kms" {
		t.Errorf("X-Amz-Server-Side-Encryption sent %v, want aws:kms on each of %d uploads", v, len(uris))
	}
	if v := h["X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"]; len(v) == 0 || v[0] != "key-1" {
		t.Errorf("KMS key id sent %v, want key-1", v)
	}

	if err := st.Delete(ctx, []string{uris[0], srv.URI("t/data/never-there.parquet")}); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if keys := srv.Keys(t, "t/"); !slices.Equal(keys, []string{"t/data/x/b.parquet", "t/metadata/c.json"}) {
		t.Errorf("after Delete keys = %v", keys)
	}
	if err := st.RemoveAll(ctx, srv.URI("t/data")); err != nil {
		t.Fatalf("RemoveAll = %v", err)
	}
	if keys := srv.Keys(t, "t/"); !slices.Equal(keys, []string{"t/metadata/c.json"}) {
		t.Errorf("after RemoveAll(t/data) keys = %v, want only the metadata", keys)
	}
}

// TestStoreUploadFailsCleanly stops the server: the upload fails with an
// error, and after a restart the same upload succeeds.
func TestStoreUploadFailsCleanly(t *testing.T) {
	srv := s3test.Start(t)
	st := objstore.NewStore(srv.Props(), objstore.Encryption{})
	local := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(local, []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Upload(ctx, local, srv.URI("k")); err == nil {
		t.Fatal("Upload to a stopped server = nil error")
	}
	srv.Restart(t)
	if err := st.Upload(ctx, local, srv.URI("k")); err != nil {
		t.Fatalf("Upload after restart = %v", err)
	}
	if keys := srv.Keys(t, ""); !slices.Equal(keys, []string{"k"}) {
		t.Errorf("keys = %v, want [k]", keys)
	}
}

func TestEncryptionCheck(t *testing.T) {
	for _, tc := range []struct {
		enc objstore.Encryption
		ok  bool
	}{
		{objstore.Encryption{}, true},
		{objstore.Encryption{Type: "AES256"}, true},
		{objstore.Encryption{Type: "aws:kms", KMSKeyID: "k"}, true},
		{objstore.Encryption{Type: "aes"}, false},
		{objstore.Encryption{Type: "AES256", KMSKeyID: "k"}, false},
	} {
		if err := tc.enc.Check(); (err == nil) != tc.ok {
			t.Errorf("%+v.Check() = %v, want ok=%v", tc.enc, err, tc.ok)
		}
	}
}
