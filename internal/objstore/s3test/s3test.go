// Package s3test gives tests an S3-compatible object store on loopback.
//
// Start runs gofakes3 in process on a real TCP port, reached through the
// same AWS SDK and iceberg-go FileIO production uses; it can be stopped and
// restarted on the same port with its objects kept, for fault tests. New
// does the same unless EDP_TEST_S3 names an external server (versitygw in
// CI), in which case each test gets a fresh bucket there.
//
// Imported only by tests.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/edp-data/edp/internal/objstore"
)

// EnvS3 names an external S3-compatible server for the tests, as
// http://ACCESS_KEY:SECRET_KEY@HOST:PORT (region us-east-1, path style).
const EnvS3 = "EDP_TEST_S3"

const (
	region    = "us-east-1"
	accessKey = "edp-test"
	secretKey = "edp-test-secret"
)

// Server is an S3-compatible store with one bucket for the test.
type Server struct {
	// Endpoint is the server's base URL.
	Endpoint string
	// Bucket exists and is empty when the test starts.
	Bucket string
	// AccessKey and SecretKey are static credentials it accepts.
	AccessKey, SecretKey string
	// External is true for a server from EDP_TEST_S3.
	External bool

	addr    string
	handler http.Handler

	mu      sync.Mutex
	srv     *http.Server
	ln      net.Listener
	headers map[string][]string // request header values seen, by canonical name
	stopAt  func(*http.Request) bool
}

// StopAt makes the server stop when a request matching match arrives:
// that request's connection is dropped unanswered and later requests are
// refused, as when a store goes down in the middle of a write. Restart
// serves again.
func (s *Server) StopAt(match func(*http.Request) bool) {
	s.mu.Lock()
	s.stopAt = match
	s.mu.Unlock()
}

// Props are the iceberg-go FileIO properties that reach the server.
func (s *Server) Props() iceberg.Properties {
	return objstore.S3Props(s.Endpoint, region, s.AccessKey, s.SecretKey, true)
}

// Region is the signing region to configure.
func (s *Server) Region() string { return region }

// URI is s3://<bucket>/<prefix>.
func (s *Server) URI(prefix string) string {
	return "s3://" + s.Bucket + "/" + strings.Trim(prefix, "/")
}

// New returns the server named by EDP_TEST_S3 with a fresh bucket, or, when
// it is unset, Start(t).
func New(t testing.TB) *Server {
	t.Helper()
	raw := os.Getenv(EnvS3)
	if raw == "" {
		return Start(t)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		t.Fatalf("%s=%q: want http://ACCESS_KEY:SECRET_KEY@HOST:PORT", EnvS3, raw)
	}
	secret, _ := u.User.Password()
	s := &Server{Endpoint: u.Scheme + "://" + u.Host, AccessKey: u.User.Username(), SecretKey: secret, External: true}
	var b [6]byte
	_, _ = rand.Read(b[:])
	s.Bucket = "edp-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := s.client()
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", s.Bucket, s.Endpoint, err)
	}
	t.Cleanup(func() { s.dropBucket() })
	return s
}

// Start runs gofakes3 (objects in memory) on a loopback port with one
// bucket, until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	backend := s3mem.New()
	s := &Server{Bucket: "warehouse", AccessKey: accessKey, SecretKey: secretKey, headers: map[string][]string{}}
	if err := backend.CreateBucket(s.Bucket); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	s.handler = gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.Endpoint = "http://" + s.addr
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			for k, v := range r.Header {
				if strings.HasPrefix(k, "X-Amz-Server-Side-Encryption") {
					s.headers[k] = append(s.headers[k], v...)
				}
			}
			stop := s.stopAt != nil && s.stopAt(r)
			if stop {
				s.stopAt = nil
			}
			s.mu.Unlock()
			if stop {
				go s.Stop()
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			s.handler.ServeHTTP(w, r)
		}),
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the listener and every connection: requests in flight fail
// and new ones are refused. Objects are kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same address after Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.External {
		t.Fatal("an external server cannot be restarted")
	}
	var ln net.Listener
	var err error
	// The port was just released; another process taking it in between is
	// unlikely, but a moment of TIME_WAIT is not.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// EncryptionHeaders returns the values of the X-Amz-Server-Side-Encryption*
// request headers the in-process server received, by header name.
func (s *Server) EncryptionHeaders() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for k, v := range s.headers {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Keys lists the object keys under prefix.
func (s *Server) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s/%s: %v", s.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func (s *Server) client() *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// dropBucket empties and removes an external test bucket, so a CI run does
// not fill the server's disk.
func (s *Server) dropBucket() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := s.client()
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, o := range page.Contents {
			_, _ = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: o.Key})
		}
	}
	_, _ = cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.Bucket)})
}
