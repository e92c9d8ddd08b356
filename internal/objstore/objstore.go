// Package objstore is edp's one place for object-store plumbing on top of
// iceberg-go's FileIO: the property names that configure its S3 client
// (S3Props), and a Store that streams whole objects by URI for the local
// file cache (internal/filecache), which DuckDB reads because this DuckDB
// build has no S3 support, uploads the files DuckDB writes, and deletes
// objects in bulk.
//
// Importing objstore registers iceberg-go's S3 backend (schemes s3, s3a, s3n
// and oss) without linking the Google Cloud and Azure SDKs.
//
// Imported by the packages that read or write warehouse files and by the
// wiring in server/ and cli/; objstore imports nothing from internal/.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/io/gocloud/blobfs"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// Registers the s3, s3a, s3n and oss schemes with icebergio.LoadFS.
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
)

// S3Props returns the iceberg-go FileIO properties for an S3-compatible
// store. These are the names iceberg-go v0.7.0 reads in io/config.go and
// io/gocloud/s3 (the same names the Iceberg REST spec and PyIceberg use, so
// the properties can also be handed to a REST catalog client):
//
//   - s3.endpoint: base URL of the service; empty means AWS itself.
//   - s3.region: the signing region. S3-compatible servers usually accept
//     any value, but the AWS SDK refuses to sign without one.
//   - s3.access-key-id and s3.secret-access-key: static credentials; when
//     both are empty the property is left out and the AWS SDK's default
//     chain (environment, shared config, instance role) applies.
//   - s3.force-virtual-addressing: iceberg-go picks path-style addressing
//     (http://host/bucket/key) whenever an endpoint is set and
//     virtual-hosted style (http://bucket.host/key) otherwise; the property
//     is always written so the choice does not depend on that default.
//     Most self-hosted servers (MinIO, Ceph, gofakes3) need path style.
func S3Props(endpoint, region, accessKey, secretKey string, pathStyle bool) iceberg.Properties {
	return S3{Endpoint: endpoint, Region: region, AccessKeyID: accessKey, SecretAccessKey: secretKey, PathStyle: pathStyle}.Props()
}

// S3 is the connection to an S3-compatible store; Props renders it as
// FileIO properties (see S3Props).
type S3 struct {
	Endpoint, Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials; empty means the AWS SDK's default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	PathStyle                                  bool
}

// Props returns the iceberg-go FileIO properties for s.
func (s S3) Props() iceberg.Properties {
	p := iceberg.Properties{
		icebergio.S3ForceVirtualAddressing: strconv.FormatBool(!s.PathStyle),
	}
	if s.Endpoint != "" {
		p[icebergio.S3EndpointURL] = s.Endpoint
	}
	if s.Region != "" {
		p[icebergio.S3Region] = s.Region
	}
	if s.AccessKeyID != "" || s.SecretAccessKey != "" {
		p[icebergio.S3AccessKeyID] = s.AccessKeyID
		p[icebergio.S3SecretAccessKey] = s.SecretAccessKey
		if s.SessionToken != "" {
			p[icebergio.S3SessionToken] = s.SessionToken
		}
	}
	return p
}

// Encryption is the server-side encryption asked for each object a Store
// uploads. iceberg-go writes table metadata and manifests itself, without
// these headers; a bucket's default encryption covers those too.
type Encryption struct {
	// Type is "AES256" (SSE-S3) or "aws:kms" (SSE-KMS); empty asks for
	// nothing.
	Type string
	// KMSKeyID names the KMS key for aws:kms; empty means the account's
	// default key.
	KMSKeyID string
}

// Check reports an Encryption the S3 API would refuse.
func (e Encryption) Check() error {
	switch e.Type {
	case "", "AES256", "aws:kms":
	default:
		return fmt.Errorf("server-side encryption %q: use AES256 or aws:kms", e.Type)
	}
	if e.KMSKeyID != "" && e.Type != "aws:kms" {
		return errors.New("a KMS key id needs server-side encryption aws:kms")
	}
	return nil
}

// Store reads, uploads and deletes whole objects by URI through iceberg-go's
// FileIO. It keeps one FileIO per scheme and bucket, because iceberg-go's
// object-store FileIO serves a single bucket and building one creates an
// AWS client. It is safe for concurrent use.
type Store struct {
	props iceberg.Properties
	enc   Encryption

	mu  sync.Mutex
	fss map[string]icebergio.IO // by scheme://authority
}

// NewStore returns a Store whose FileIOs are configured by props (for
// example S3Props) and whose uploads ask for enc. props is copied.
func NewStore(props iceberg.Properties, enc Encryption) *Store {
	p := make(iceberg.Properties, len(props))
	for k, v := range props {
		p[k] = v
	}
	return &Store{props: p, enc: enc, fss: map[string]icebergio.IO{}}
}

// Open starts reading the object at uri (s3://bucket/key, file:///path, …)
// and returns its size as the store reports it, or -1 when unknown. A
// missing object is reported as fs.ErrNotExist. Cancelling ctx aborts the
// transfer.
func (s *Store) Open(ctx context.Context, uri string) (io.ReadCloser, int64, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", uri, err)
	}
	fsys, err := s.fileIO(u)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", uri, err)
	}

	// iceberg-go's object-store FileIO reads with the context it was built
	// with, not the caller's; going to its bucket directly makes the
	// transfer follow ctx. The key is derived the way iceberg-go derives it.
	if bfs, ok := asBlob(fsys); ok {
		loc, err := blobfs.DefaultObjectLocationExtractor(u.Host, u.Scheme)(uri)
		if err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", uri, err)
		}
		r, err := bfs.NewReader(ctx, loc.Key(), nil)
		if err != nil {
			if gcerrors.Code(err) == gcerrors.NotFound {
				return nil, 0, fmt.Errorf("open %s: %w (%w)", uri, fs.ErrNotExist, err)
			}
			return nil, 0, fmt.Errorf("open %s: %w", uri, err)
		}
		return r, r.Size(), nil
	}

	f, err := fsys.Open(uri)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", uri, err)
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	// Other FileIOs take no context; closing the file is what interrupts a
	// read in progress.
	stop := context.AfterFunc(ctx, func() { _ = f.Close() })
	return &ctxFile{File: f, ctx: ctx, stop: stop}, size, nil
}

// fileIO returns the FileIO for u's scheme and bucket, building it once.
func (s *Store) fileIO(u *url.URL) (icebergio.IO, error) {
	id := u.Scheme + "://" + u.Host
	s.mu.Lock()
	defer s.mu.Unlock()
	if fsys, ok := s.fss[id]; ok {
		return fsys, nil
	}
	// The FileIO keeps this context for its lifetime, so it must not be a
	// request's: a cancelled first caller would break every later read.
	fsys, err := icebergio.LoadFS(context.Background(), s.props, u.String())
	if err != nil {
		return nil, fmt.Errorf("load file io for %s: %w", id, err)
	}
	s.fss[id] = fsys
	return fsys, nil
}

// ctxFile is a File that ends with its context.
type ctxFile struct {
	icebergio.File
	ctx  context.Context
	stop func() bool
}

func (f *ctxFile) Read(p []byte) (int, error) {
	// The AfterFunc closes the file asynchronously; checking here makes a
	// read after cancellation fail every time, not just usually.
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.File.Read(p)
}

func (f *ctxFile) Close() error {
	if !f.stop() {
		// The context already closed the file; a second Close would only
		// report that.
		return nil
	}
	return f.File.Close()
}

// Upload copies the local file at localPath to the object at uri,
// replacing any object there, with the Store's server-side encryption.
// Cancelling ctx aborts the upload and leaves no object behind.
func (s *Store) Upload(ctx context.Context, localPath, uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("upload %s: %w", uri, err)
	}
	fsys, err := s.fileIO(u)
	if err != nil {
		return fmt.Errorf("upload %s: %w", uri, err)
	}
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("upload %s: %w", uri, err)
	}
	defer f.Close()

	var w io.WriteCloser
	// abort makes the writer's Close discard what was written: a blob
	// writer whose context is cancelled before Close creates no object.
	abort := func() {}
	if bfs, ok := asBlob(fsys); ok {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		abort = cancel
		// FileIO.NewWriter takes the URI and derives the key itself.
		bw, err := bfs.NewWriter(wctx, uri, true, &blob.WriterOptions{
			ContentType: "application/octet-stream",
			BeforeWrite: s.beforeWrite,
		})
		if err != nil {
			return fmt.Errorf("upload %s: %w", uri, err)
		}
		w = bw
	} else {
		wfs, ok := fsys.(icebergio.WriteFileIO)
		if !ok {
			return fmt.Errorf("upload %s: the file system cannot write", uri)
		}
		fw, err := wfs.Create(uri)
		if err != nil {
			return fmt.Errorf("upload %s: %w", uri, err)
		}
		w = fw
	}
	if _, err := io.Copy(w, ctxReader{ctx: ctx, r: f}); err != nil {
		abort()
		_ = w.Close()
		return fmt.Errorf("upload %s: %w", uri, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", uri, err)
	}
	return nil
}

// beforeWrite asks for the Store's server-side encryption on an S3 upload.
func (s *Store) beforeWrite(as func(any) bool) error {
	if s.enc.Type == "" {
		return nil
	}
	var kms *string
	if s.enc.KMSKeyID != "" {
		kms = aws.String(s.enc.KMSKeyID)
	}
	var up *transfermanager.UploadObjectInput
	if as(&up) {
		up.ServerSideEncryption = tmtypes.ServerSideEncryption(s.enc.Type)
		up.SSEKMSKeyID = kms
		return nil
	}
	var put *s3.PutObjectInput
	if as(&put) {
		put.ServerSideEncryption = s3types.ServerSideEncryption(s.enc.Type)
		put.SSEKMSKeyId = kms
		return nil
	}
	return errors.New("server-side encryption is only available on S3 stores")
}

// Delete removes the objects at uris; objects already gone are not an
// error. Each bucket's objects go in bulk where the store allows.
func (s *Store) Delete(ctx context.Context, uris []string) error {
	byFS := map[string][]string{}
	var order []string
	for _, uri := range uris {
		u, err := url.Parse(uri)
		if err != nil {
			return fmt.Errorf("delete %s: %w", uri, err)
		}
		id := u.Scheme + "://" + u.Host
		if _, ok := byFS[id]; !ok {
			order = append(order, id)
		}
		byFS[id] = append(byFS[id], uri)
	}
	var errs []error
	for _, id := range order {
		u, _ := url.Parse(id)
		fsys, err := s.fileIO(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if bulk, ok := fsys.(icebergio.BulkRemovableIO); ok {
			if _, err := bulk.DeleteFiles(ctx, byFS[id]); err != nil {
				errs = append(errs, fmt.Errorf("delete objects in %s: %w", id, err))
			}
			continue
		}
		for _, uri := range byFS[id] {
			if err := fsys.Remove(uri); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("delete %s: %w", uri, err))
			}
		}
	}
	return errors.Join(errs...)
}

// List returns the URIs of the objects under the directory uri; a
// missing directory has none.
func (s *Store) List(ctx context.Context, uri string) ([]string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", uri, err)
	}
	fsys, err := s.fileIO(u)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", uri, err)
	}
	lfs, ok := fsys.(icebergio.ListableIO)
	if !ok {
		return nil, fmt.Errorf("list %s: the file system cannot list", uri)
	}
	var files []string
	err = lfs.WalkDir(strings.TrimRight(uri, "/"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", uri, err)
	}
	return files, nil
}

// RemoveAll removes every object under the directory uri.
func (s *Store) RemoveAll(ctx context.Context, uri string) error {
	files, err := s.List(ctx, uri)
	if err != nil {
		return err
	}
	return s.Delete(ctx, files)
}

// ctxReader stops reading once ctx is done.
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
