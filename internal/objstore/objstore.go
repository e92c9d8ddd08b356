// Package objstore is edp's one place for object-store plumbing on top of
// iceberg-go's FileIO: the property names that configure its S3 client
// (S3Props) and a Source that streams whole objects by URI for the local
// file cache (internal/filecache), which DuckDB reads because this DuckDB
// build has no S3 support.
//
// Importing objstore registers iceberg-go's S3 backend (schemes s3, s3a, s3n
// and oss) without linking the Google Cloud and Azure SDKs.
//
// Imported by the packages that read or write warehouse files and by the
// wiring in server/ and cli/; objstore imports nothing from internal/.
package objstore

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"sync"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/io/gocloud/blobfs"
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
	p := iceberg.Properties{
		icebergio.S3ForceVirtualAddressing: strconv.FormatBool(!pathStyle),
	}
	if endpoint != "" {
		p[icebergio.S3EndpointURL] = endpoint
	}
	if region != "" {
		p[icebergio.S3Region] = region
	}
	if accessKey != "" || secretKey != "" {
		p[icebergio.S3AccessKeyID] = accessKey
		p[icebergio.S3SecretAccessKey] = secretKey
	}
	return p
}

// Source opens whole objects by URI through iceberg-go's FileIO. It keeps
// one FileIO per scheme and bucket, because iceberg-go's object-store FileIO
// serves a single bucket and building one creates an AWS client. It is safe
// for concurrent use.
type Source struct {
	props iceberg.Properties

	mu  sync.Mutex
	fss map[string]icebergio.IO // by scheme://authority
}

// NewSource returns a Source whose FileIOs are configured by props (for
// example S3Props). props is copied.
func NewSource(props iceberg.Properties) *Source {
	p := make(iceberg.Properties, len(props))
	for k, v := range props {
		p[k] = v
	}
	return &Source{props: p, fss: map[string]icebergio.IO{}}
}

// Open starts reading the object at uri (s3://bucket/key, file:///path, …)
// and returns its size as the store reports it, or -1 when unknown. A
// missing object is reported as fs.ErrNotExist. Cancelling ctx aborts the
// transfer.
func (s *Source) Open(ctx context.Context, uri string) (io.ReadCloser, int64, error) {
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
	if bfs, ok := fsys.(*blobfs.FileIO); ok {
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
func (s *Source) fileIO(u *url.URL) (icebergio.IO, error) {
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
