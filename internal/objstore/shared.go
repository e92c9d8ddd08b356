package objstore

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"

	icebergio "github.com/apache/iceberg-go/io"
)

// iceberg-go's S3 FileIO factory builds a new AWS configuration and HTTP
// client on every call — for each table load, scan and commit — which
// re-reads the shared AWS config files and any AWS_CA_BUNDLE, and never
// reuses a connection: a third of a query's CPU time went there. objstore
// therefore serves the s3 schemes with a factory that builds one FileIO per
// bucket and set of properties and reuses it.
//
// The FileIOs are built by iceberg-go's own factory, reached through the
// "oss" scheme, which iceberg-go serves with that same factory and which
// accepts s3:// locations.
var (
	sharedSchemes = []string{"s3", "s3a", "s3n"}
	viaScheme     = "oss"

	sharedMu  sync.Mutex
	sharedFSs = map[string]icebergio.IO{}
)

func init() {
	for _, scheme := range sharedSchemes {
		icebergio.Unregister(scheme)
		icebergio.Register(scheme, sharedFileIO)
	}
}

func sharedFileIO(ctx context.Context, parsed *url.URL, props map[string]string) (icebergio.IO, error) {
	key := parsed.Host + "\x00" + propsKey(props)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if fsys, ok := sharedFSs[key]; ok {
		return fsys, nil
	}
	// The FileIO keeps the context it is built with for its lifetime, so
	// it must outlive the request that happens to build it.
	fsys, err := icebergio.LoadFS(context.WithoutCancel(ctx), props, viaScheme+"://"+parsed.Host+"/")
	if err != nil {
		return nil, err
	}
	sharedFSs[key] = fsys
	return fsys, nil
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
