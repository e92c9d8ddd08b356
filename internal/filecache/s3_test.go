package filecache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/edp-data/edp/internal/objstore"
)

const bucket = "warehouse"

// s3Server is an S3-compatible server (gofakes3, in memory) on loopback,
// reached through iceberg-go's S3 FileIO exactly as production reaches a
// real store. It counts object GETs and can break or stall the next one.
type s3Server struct {
	srv     *httptest.Server
	handler http.Handler
	backend *s3mem.Backend
	source  *objstore.Store

	gets atomic.Int64
	// cutAfter, when > 0, makes the next object GET send that many body
	// bytes and then drop the connection.
	cutAfter atomic.Int64
	// stall, when set, makes the next object GET send stall.after bytes and
	// wait for stall.release (or the client going away).
	stall atomic.Pointer[stall]
}

type stall struct {
	after   int64
	reached chan struct{} // closed once the bytes are sent
	release chan struct{}
}

func newStall(after int64) *stall {
	return &stall{after: after, reached: make(chan struct{}), release: make(chan struct{})}
}

func newS3(t testing.TB) *s3Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	s := &s3Server{
		backend: backend,
		handler: gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Cut and stalled responses make gofakes3 log a superfluous
	// WriteHeader; that is expected here.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Start()
	t.Cleanup(func() { s.srv.Close() })
	s.source = objstore.NewStore(objstore.S3Props(s.srv.URL, "us-east-1", "edp-test", "edp-test-secret", true), objstore.Encryption{})
	return s
}

func (s *s3Server) serve(w http.ResponseWriter, r *http.Request) {
	isObjectGet := r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/"+bucket+"/") &&
		len(r.URL.Path) > len(bucket)+2
	if !isObjectGet {
		s.handler.ServeHTTP(w, r)
		return
	}
	s.gets.Add(1)
	if n := s.cutAfter.Swap(0); n > 0 {
		s.handler.ServeHTTP(&cutWriter{ResponseWriter: w, left: n}, r)
		// Drops the connection without finishing the response, as a store
		// that dies mid-transfer does.
		panic(http.ErrAbortHandler)
	}
	if st := s.stall.Swap(nil); st != nil {
		s.handler.ServeHTTP(&stallWriter{ResponseWriter: w, st: st, left: st.after, ctx: r.Context()}, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// stop stops the server and returns its address for start, which brings it
// back there: a store that goes away and comes back.
func (s *s3Server) stop() string {
	addr := s.srv.Listener.Addr().String()
	s.srv.Close()
	return addr
}

func (s *s3Server) start(t testing.TB, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(func() { s.srv.Close() })
}

// put stores data under key and returns the object's URI.
func (s *s3Server) put(t testing.TB, key string, data []byte) string {
	t.Helper()
	if _, err := s.backend.PutObject(bucket, key, map[string]string{"Content-Type": "application/octet-stream"},
		bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("PutObject(%s): %v", key, err)
	}
	return "s3://" + bucket + "/" + key
}

var errCut = errors.New("connection cut")

type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, _ := w.ResponseWriter.Write(p[:w.left])
	w.left = 0
	w.ResponseWriter.(http.Flusher).Flush()
	return n, errCut
}

type stallWriter struct {
	http.ResponseWriter
	st   *stall
	left int64
	ctx  context.Context
	once sync.Once
}

func (w *stallWriter) Write(p []byte) (int, error) {
	written := 0
	if w.left > 0 {
		k := min(int64(len(p)), w.left)
		n, err := w.ResponseWriter.Write(p[:k])
		written += n
		w.left -= int64(n)
		if err != nil || w.left > 0 {
			return written, err
		}
		w.ResponseWriter.(http.Flusher).Flush()
		w.once.Do(func() { close(w.st.reached) })
		select {
		case <-w.st.release:
		case <-w.ctx.Done():
			return written, w.ctx.Err()
		}
		p = p[k:]
	}
	if len(p) == 0 {
		return written, nil
	}
	n, err := w.ResponseWriter.Write(p)
	return written + n, err
}

// randomBytes returns n bytes that do not compress or repeat.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// memSource serves objects from a map; size -1 when hideSize is set. It
// stands in for the store only where the store's behaviour is beside the
// point (odd URIs, unknown sizes).
type memSource struct {
	objects  map[string][]byte
	hideSize bool
	opens    atomic.Int64
}

func (m *memSource) Open(_ context.Context, uri string) (io.ReadCloser, int64, error) {
	m.opens.Add(1)
	b, ok := m.objects[uri]
	if !ok {
		return nil, 0, errors.New("no such object")
	}
	size := int64(len(b))
	if m.hideSize {
		size = -1
	}
	return io.NopCloser(bytes.NewReader(b)), size, nil
}
