package objstore

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/io/gocloud/blobfs"
	s3io "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/utils"
	"gocloud.dev/blob"
)

// iceberg-go's S3 FileIO factory builds a new AWS configuration and HTTP
// client on every call — for each table load, scan and commit — which
// re-reads the shared AWS config files and any AWS_CA_BUNDLE, and never
// reuses a connection: a third of a query's CPU time went there. objstore
// therefore serves the s3 schemes with a factory that opens each bucket
// once per set of storage properties and hands every caller a FileIO over
// it bound to the caller's context (blobfs uses the context it is built
// with for every operation), whose Close leaves the shared bucket open.
//
// Buckets are opened by iceberg-go's own factory, reached through the
// "oss" scheme, which iceberg-go serves with that same factory.
var (
	sharedSchemes = []string{"s3", "s3a", "s3n"}
	viaScheme     = "oss"

	sharedMu      sync.Mutex
	sharedBuckets = map[string]*blob.Bucket{}
)

func init() {
	for _, scheme := range sharedSchemes {
		icebergio.Unregister(scheme)
		icebergio.Register(scheme, sharedFileIO)
	}
}

// sharedIO is a FileIO over a shared bucket: closing it closes nothing.
type sharedIO struct{ *blobfs.FileIO }

func (sharedIO) Close() error { return nil }

// ClientProperty names, in FileIO properties, an HTTP client registered
// with RegisterClient that the bucket's S3 client sends its requests
// through (edp's lakes register one whose transport has the object store's
// circuit breaker).
const ClientProperty = "edp.http-client"

var (
	clientsMu sync.Mutex
	clients   = map[string]*http.Client{}
	clientSeq int
)

// RegisterClient makes c available to FileIOs whose properties carry the
// returned id under ClientProperty, until unregister is called. A bucket
// opened with it keeps it for the life of the process.
func RegisterClient(c *http.Client) (id string, unregister func()) {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	clientSeq++
	id = strconv.Itoa(clientSeq)
	clients[id] = c
	return id, func() {
		clientsMu.Lock()
		delete(clients, id)
		clientsMu.Unlock()
	}
}

func sharedFileIO(ctx context.Context, parsed *url.URL, props map[string]string) (icebergio.IO, error) {
	// Only storage properties pick the bucket's client: table properties
	// that iceberg-go merges in must not multiply clients.
	ioProps := storageProps(props)
	clientID := props[ClientProperty]
	key := parsed.Host + "\x00" + clientID + "\x00" + propsKey(ioProps)
	sharedMu.Lock()
	bucket, ok := sharedBuckets[key]
	if !ok {
		bctx := context.Background()
		clientsMu.Lock()
		client := clients[clientID]
		clientsMu.Unlock()
		if client != nil {
			// iceberg-go takes an AWS configuration from the context as
			// the base it applies the properties to; its HTTP client is
			// then the one the S3 client uses.
			cfg, err := s3io.ParseAWSConfig(bctx, ioProps)
			if err != nil {
				sharedMu.Unlock()
				return nil, err
			}
			cfg.HTTPClient = client
			bctx = utils.WithAwsConfig(bctx, cfg)
		}
		fsys, err := icebergio.LoadFS(bctx, ioProps, viaScheme+"://"+parsed.Host+"/")
		if err != nil {
			sharedMu.Unlock()
			return nil, err
		}
		bfs, isBlob := fsys.(*blobfs.FileIO)
		if !isBlob {
			sharedMu.Unlock()
			return fsys, nil
		}
		bucket = bfs.Bucket
		sharedBuckets[key] = bucket
	}
	sharedMu.Unlock()
	return sharedIO{blobfs.New(ctx, bucket, blobfs.DefaultObjectLocationExtractor(parsed.Host, "s3", "s3a", "s3n", viaScheme))}, nil
}

// asBlob returns the object-store FileIO behind fsys, if it is one.
func asBlob(fsys icebergio.IO) (*blobfs.FileIO, bool) {
	switch v := fsys.(type) {
	case *blobfs.FileIO:
		return v, true
	case sharedIO:
		return v.FileIO, true
	}
	return nil, false
}

// storageProps keeps the properties that configure an S3 client.
func storageProps(props map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if strings.HasPrefix(k, "s3.") || strings.HasPrefix(k, "client.") || k == "token" {
			out[k] = v
		}
	}
	return out
}

// propsKey renders properties in a stable order.
func propsKey(props map[string]string) string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(props[k])
		b.WriteByte(0)
	}
	return b.String()
}
