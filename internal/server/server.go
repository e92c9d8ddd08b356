package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/edp-data/edp/internal/api"
	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/demo"
	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/maintain"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/resilience"
	"github.com/edp-data/edp/internal/restcatalog"
	"github.com/edp-data/edp/internal/stream"
	"github.com/edp-data/edp/internal/telemetry"
)

// Options configure New.
type Options struct {
	Config  *config.Config
	Logger  *slog.Logger
	Version string
	// Demo loads the demo lakehouse on first start (when its gold layer
	// does not exist yet).
	Demo bool
	// AdminPassword is the password of the admin user created on first
	// start; empty means generate one and print it once to Out.
	AdminPassword string
	// Out receives the few lines a person starting the server must see:
	// the URL, a generated admin password, a self-signed certificate's
	// fingerprint. nil discards them.
	Out io.Writer
}

// Server is a running edp serve.
type Server struct {
	opts    Options
	cfg     *config.Config
	log     *slog.Logger
	plat    *Platform
	engine  *query.Engine
	tokens  *auth.Tokens
	jobs    *jobs.Manager
	maint   *maintain.Scheduler
	streams *stream.Manager
	ingest  *stream.Ingester
	metrics *telemetry.Metrics
	tracer  trace.TracerProvider
	stopTP  func(context.Context) error
	api     *api.API
	http    *http.Server
	ln      net.Listener
	url     string
	// handlers counts running request handlers (see track).
	handlers sync.WaitGroup
}

// adminUser is the account the first start creates.
const adminUser = "admin"

// New opens everything the server needs and binds its listener, so that
// a bad address or certificate fails before anything is served. Run
// serves; if New fails, whatever it opened is closed again.
func New(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	cfg := opts.Config
	s := &Server{opts: opts, cfg: cfg, log: opts.Logger}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()

	// Telemetry first, so everything after it can be measured and traced.
	s.metrics = telemetry.NewMetrics(opts.Version)
	s.tracer, s.stopTP, err = telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{
		Endpoint: cfg.OTLP.Endpoint, ServiceName: "edp", ServiceVersion: opts.Version})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	closers = append(closers, func() error { return s.stopTP(context.Background()) })

	// Durable state: lake, accounts, audit log.
	if s.plat, err = Open(ctx, cfg, Deps{Logger: s.log, Metrics: s.metrics, Tracer: s.tracer}); err != nil {
		return nil, err
	}
	closers = append(closers, s.plat.Close)
	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}

	// The SQL engine over the lake.
	s.engine, err = query.New(ctx, s.plat.Lake, query.Options{
		MemoryLimit:    cfg.Query.MemoryLimit,
		Threads:        cfg.Query.Threads,
		TempDir:        s.plat.TempDir(),
		TargetFileSize: cfg.Load.TargetFileSize,
		Logger:         s.log,
		Tracer:         s.tracer,
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, s.engine.Close)
	if opts.Demo {
		if err := s.installDemo(ctx); err != nil {
			return nil, fmt.Errorf("demo data: %w", err)
		}
	}

	// Credentials: edp's own access tokens and, if configured, OIDC.
	s.tokens, err = auth.OpenTokens(filepath.Join(KeysDir(s.plat.DataDir), "tokens.json"), auth.TokenOptions{TTL: cfg.Auth.TokenTTL})
	if err != nil {
		return nil, err
	}
	var oidc *auth.OIDC
	if cfg.OIDC.Issuer != "" {
		if oidc, err = s.openOIDC(ctx); err != nil {
			return nil, err
		}
	}

	// Long operations, then the API that starts them. Uploads of loads a
	// crash interrupted are cleared first (a day's grace, in case another
	// edp on this data directory is receiving one).
	uploads := filepath.Join(s.plat.TempDir(), "uploads")
	removeStale(uploads, time.Now().Add(-24*time.Hour), s.log)
	s.jobs = jobs.New(jobs.Options{Logger: s.log})
	// Table maintenance runs as jobs, on a schedule and per table policy.
	s.maint = maintain.NewScheduler(s.plat.Lake, s.jobs, maintain.SchedulerOptions{Logger: s.log, Interval: cfg.Maintain.Interval,
		Maintain: maintain.Options{TempDir: s.plat.TempDir(), MemoryLimit: cfg.Query.MemoryLimit, Threads: cfg.Query.Threads, Logger: s.log}})
	// The Iceberg REST catalog, mounted beside the API under /iceberg so
	// its requests get the same authentication, audit and metrics.
	iceberg, err := icebergMount(s.plat, s.tokens, cfg, s.log)
	if err != nil {
		return nil, err
	}
	// Stream pipelines: stored in the metadata database, run by Run.
	if s.streams, err = newStreams(ctx, cfg, s.plat, s.metrics, s.log); err != nil {
		return nil, err
	}
	// HTTP ingest: records posted to the API, committed before the answer.
	s.ingest = stream.NewIngester(stream.Deps{Lake: s.plat.Lake, TempDir: filepath.Join(s.plat.TempDir(), "ingest"),
		Logger: s.log, TargetFileSize: cfg.Load.TargetFileSize})
	closers = append(closers, func() error { s.ingest.Close(); return nil })
	s.api, err = api.New(api.Options{
		Mounts:     []api.Mount{iceberg},
		Lake:       s.plat.Lake,
		Engine:     s.engine,
		Authz:      s.plat.Authz,
		Users:      s.plat.Users,
		Tokens:     s.tokens,
		OIDC:       oidc,
		Audit:      s.plat.Audit,
		AuditKey:   s.plat.AuditKey.Public().(ed25519.PublicKey),
		Jobs:       s.jobs,
		Maintainer: s.maint,
		Streams:    s.streams,
		Ingester:   s.ingest,
		Metrics:    s.metrics,
		Tracer:     s.tracer,
		Logger:     s.log,
		Version:    opts.Version,
		TempDir:    uploads,
		Ready:      s.ready,
		Limits: api.Limits{
			MaxUploadBytes:  cfg.API.MaxUpload,
			QueryTimeout:    cfg.Query.Timeout,
			MaxRows:         int64(cfg.Query.MaxRows),
			TargetFileSize:  cfg.Load.TargetFileSize,
			LoadMemoryLimit: cfg.Query.MemoryLimit,
		},
	})
	if err != nil {
		return nil, err
	}

	// The listener last: once it is bound, clients may connect.
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

// URL is the server's base URL, with the port actually bound.
func (s *Server) URL() string { return s.url }

// Platform gives tests and the CLI the state the server runs on.
func (s *Server) Platform() *Platform { return s.plat }

func (s *Server) listen() error {
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	s.ln = ln
	s.url = scheme + "://" + displayAddr(ln.Addr().String())
	s.http = &http.Server{
		Handler:           s.track(s.api.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: query results stream for as long as they take;
		// query.timeout bounds the work instead.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// displayAddr turns a bound address into one a person can paste: an
// unspecified host (":8080", "[::]:8080") is shown as localhost.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func (s *Server) tlsConfig() (*tls.Config, error) {
	c := s.cfg.TLS
	switch {
	case c.Cert != "" || c.Key != "":
		if c.Cert == "" || c.Key == "" {
			return nil, errors.New("tls: give both tls.cert and tls.key, or neither")
		}
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case c.SelfSigned:
		host, _, _ := net.SplitHostPort(s.cfg.Listen)
		cert, fp, err := selfSignedCert(KeysDir(s.plat.DataDir), host, time.Now())
		if err != nil {
			return nil, fmt.Errorf("tls: self-signed certificate: %w", err)
		}
		fmt.Fprintf(s.opts.Out, "Serving HTTPS with a self-signed certificate (development only), SHA-256 fingerprint %s\n", fp)
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	return nil, nil
}

// ready backs /readyz: the metadata database answers.
func (s *Server) ready(ctx context.Context) error {
	return s.plat.Lake.DB().PingContext(ctx)
}

// bootstrapAdmin creates the admin account when there is no account at
// all, with the configured password or a generated one shown once.
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	users, err := s.plat.Users.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return err
	}
	pw, generated := s.opts.AdminPassword, false
	if pw == "" {
		if pw, err = randomPassword(); err != nil {
			return err
		}
		generated = true
	}
	if err := s.plat.Users.AddUser(ctx, adminUser, pw, []string{auth.RoleAdmin}); err != nil {
		if errors.Is(err, auth.ErrExists) {
			return nil // another process created it first
		}
		return fmt.Errorf("create the admin user: %w", err)
	}
	ctx = auth.WithPrincipal(ctx, systemPrincipal())
	if err := s.plat.RecordAction(ctx, "user_add", "user:"+adminUser, nil, map[string]any{"roles": []string{auth.RoleAdmin}, "first_start": true}); err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(s.opts.Out, "Created user %q with password %s\nIt is shown only this once: log in and change it with `edp user passwd %s`.\n", adminUser, pw, adminUser)
	} else {
		fmt.Fprintf(s.opts.Out, "Created user %q with the password from EDP_ADMIN_PASSWORD.\n", adminUser)
	}
	return nil
}

// removeStale deletes the entries of dir last changed before cutoff.
func removeStale(dir string, cutoff time.Time, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // none yet
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			log.Warn("could not remove a stale upload", "path", filepath.Join(dir, e.Name()), "err", err)
		} else {
			log.Info("removed a stale upload", "path", filepath.Join(dir, e.Name()))
		}
	}
}

// randomPassword makes a 20-character password from an alphabet without
// look-alike characters (about 115 bits).
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// systemPrincipal is who acts when the server itself does something on
// start-up (creating the admin, loading demo data).
func systemPrincipal() auth.Principal {
	return auth.Principal{Name: "edp", Roles: []string{auth.RoleAdmin}, Method: auth.MethodLocal}
}

func (s *Server) installDemo(ctx context.Context) error {
	ctx = auth.WithPrincipal(ctx, systemPrincipal())
	if _, err := s.plat.Lake.NamespaceProperties(ctx, "gold"); err == nil {
		return nil // already there: a restart keeps whatever users did with it
	}
	fmt.Fprintln(s.opts.Out, "Loading the demo lakehouse (bronze → silver → gold)…")
	return demo.Install(ctx, s.engine, demo.InstallOptions{Scale: demo.DefaultScale(), Seed: 1, TempDir: s.plat.TempDir(), Out: s.opts.Out})
}

func (s *Server) openOIDC(ctx context.Context) (*auth.OIDC, error) {
	roles, err := config.ParseRoleMap(s.cfg.OIDC.RoleMap)
	if err != nil {
		return nil, err
	}
	// Discovery and key fetches are external calls: bounded, retried
	// (they are GETs) and behind a breaker so a down provider fails fast.
	calls := resilience.New(resilience.Options{Name: "oidc", Logger: s.log, Registerer: s.metrics.Registry()})
	client := &http.Client{Transport: calls.Transport(http.DefaultTransport), Timeout: 30 * time.Second}
	return auth.NewOIDC(ctx, auth.OIDCOptions{
		Issuer:        s.cfg.OIDC.Issuer,
		Audience:      s.cfg.OIDC.Audience,
		UsernameClaim: s.cfg.OIDC.UsernameClaim,
		RolesClaim:    s.cfg.OIDC.RolesClaim,
		RoleMap:       roles,
		HTTPClient:    client,
	})
}

// Run serves until ctx is cancelled, then shuts down gracefully: /readyz
// turns unready, new connections are refused, running requests and jobs
// get the configured shutdown timeout to finish, and what is still running
// then is cancelled — a cancelled load or statement commits nothing, since
// every write is one atomic commit. Last, the audit head is signed and
// everything is closed.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("edp serving", "url", s.url, "data_dir", s.plat.DataDir, "version", s.opts.Version)
	fmt.Fprintf(s.opts.Out, "edp is serving on %s (data in %s). Stop with Ctrl-C.\n", s.url, s.plat.DataDir)
	fmt.Fprintf(s.opts.Out, "Try:  edp --server %s login --user %s\n      edp --server %s sql \"SHOW TABLES\"\nAPI:  %s/api/v1/openapi.json (docs/SERVER.md)\n",
		s.url, adminUser, s.url, s.url)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	// Job bookkeeping: prunes finished jobs.
	wg.Go(func() { _ = s.jobs.Run(bg) })
	// Table maintenance passes.
	if s.cfg.Maintain.Interval > 0 {
		wg.Go(func() { _ = s.maint.Run(bg) })
	}
	// Token key rotation on schedule.
	wg.Go(func() { s.rotateKeys(bg) })
	// Stream pipelines, when a Kafka cluster is configured. They stop with
	// the other background work, each committing what it buffered, before
	// the lake closes.
	if _, ok := KafkaCluster(s.cfg); ok {
		wg.Go(func() { _ = s.streams.Run(auth.WithPrincipal(bg, streamPrincipal)) })
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(s.ln) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	s.log.Info("edp shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	s.api.SetDraining()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	// Requests first: a synchronous load finishes inside its request, and
	// a request may still start a job while it drains.
	if err := s.http.Shutdown(shutCtx); err != nil {
		s.log.Warn("requests still running at the shutdown deadline; cancelling them", "err", err)
	}
	// Then jobs, in what is left of the deadline; after it they are
	// cancelled, and a cancelled load commits nothing.
	if err := s.jobs.Shutdown(shutCtx); err != nil {
		s.log.Warn("jobs still running at the shutdown deadline were cancelled", "err", err)
	}
	// Closing the connections of requests still running cancels their
	// contexts; their handlers must return before the engine, the lake and
	// the audit log they use are closed.
	s.http.Close()
	s.waitHandlers()
	stopBG()
	wg.Wait()
	return errors.Join(err, s.close())
}

// handlerGrace bounds the wait for handlers whose request was cancelled
// at shutdown; they stop at their next context check, within moments.
const handlerGrace = 30 * time.Second

// track counts running handlers, so shutdown can wait for them.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		h.ServeHTTP(w, r)
	})
}

func (s *Server) waitHandlers() {
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(handlerGrace):
		s.log.Error("request handlers still running after shutdown; closing anyway", "waited", handlerGrace.String())
	}
}

func (s *Server) close() error {
	// Sign the head: the API appended entries since the last automatic
	// checkpoint, and an unsigned tail could be cut off unnoticed.
	var errs []error
	if _, err := s.plat.Audit.Checkpoint(context.Background()); err != nil && !errors.Is(err, audit.ErrInvalid) {
		errs = append(errs, fmt.Errorf("sign the audit log at shutdown: %w", err))
	}
	s.ingest.Close()
	errs = append(errs, s.engine.Close(), s.plat.Close())
	errs = append(errs, s.stopTP(context.Background()))
	return errors.Join(errs...)
}

// rotateKeys replaces the token signing key when it is older than
// auth.key_rotation; old tokens stay valid until they expire.
func (s *Server) rotateKeys(ctx context.Context) {
	every := s.cfg.Auth.KeyRotation
	if every <= 0 {
		return
	}
	check := min(every/10, time.Hour)
	t := time.NewTicker(max(check, time.Second))
	defer t.Stop()
	for {
		if s.tokens.CurrentKeyAge() >= every {
			if err := s.tokens.Rotate(); err != nil {
				s.log.Error("token signing key rotation failed", "err", err)
			} else {
				s.log.Info("token signing key rotated")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// icebergMount builds the Iceberg REST catalog over the platform's lake
// and accounts. Local warehouses vend nothing; for an S3 warehouse clients
// get the endpoint, region and addressing, and the static keys only when
// iceberg.vend_credentials says so.
func icebergMount(plat *Platform, tokens *auth.Tokens, cfg *config.Config, log *slog.Logger) (api.Mount, error) {
	opts := restcatalog.Options{Lake: plat.Lake, Accounts: plat.Users, Tokens: tokens, Logger: log}
	if plat.Lake.Remote() {
		set := restcatalog.S3Settings{Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, PathStyle: cfg.S3.PathStyle()}
		if cfg.Iceberg.VendCredentials {
			set.AccessKeyID, set.SecretAccessKey = cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey
		}
		opts.Credentials = restcatalog.S3Credentials(set)
	}
	rc, err := restcatalog.New(opts)
	if err != nil {
		return api.Mount{}, err
	}
	m := api.Mount{Prefix: restcatalog.DefaultPath + "/", NotFound: rc.NotFound(), WriteError: restcatalog.WriteError}
	for _, r := range rc.Routes() {
		m.Routes = append(m.Routes, api.MountRoute{Method: r.Method, Pattern: r.Pattern, Operation: "iceberg." + r.Operation,
			Public: r.Public, Handler: r.Handler})
	}
	return m, nil
}
