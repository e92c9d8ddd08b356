package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/policy"
	"github.com/edp-data/edp/internal/telemetry"
)

// Platform is the durable state behind one data directory.
type Platform struct {
	DataDir  string // absolute
	Lake     *lake.Lake
	Users    *auth.Store
	Audit    *audit.Log
	AuditKey ed25519.PrivateKey
	Authz    policy.Authorizer
	log      *slog.Logger
	metrics  *telemetry.Metrics
	appended atomic.Bool // this process wrote audit entries
}

// KeysDir is where a data directory keeps its secrets: the audit signing
// key, the token keyring and a self-signed TLS certificate.
func KeysDir(dataDir string) string { return filepath.Join(dataDir, "keys") }

// AuditKeyPath and AuditPublicKeyPath locate the audit signing key pair.
// The public half is written out so it can be copied somewhere the data
// directory's owner cannot reach; `edp audit verify --public-key` checks
// against such a copy.
func AuditKeyPath(dataDir string) string       { return filepath.Join(KeysDir(dataDir), "audit.key") }
func AuditPublicKeyPath(dataDir string) string { return filepath.Join(KeysDir(dataDir), "audit.pub") }

// Deps are what Open's parts report to; each may be left zero.
type Deps struct {
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
	Tracer  trace.TracerProvider
	// Authz decides every read and write; nil means policy.Roles{}. The
	// lake asks it, and so must everything built on the platform.
	Authz policy.Authorizer
}

// Open opens (creating on first use) the platform state configured in cfg.
// The caller closes it.
func Open(ctx context.Context, cfg *config.Config, deps Deps) (*Platform, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	wh, err := cfg.WarehouseURI()
	if err != nil {
		return nil, err
	}
	storage, err := Storage(cfg)
	if err != nil {
		return nil, err
	}
	if deps.Metrics != nil {
		storage.Registerer = deps.Metrics.Registry()
	}
	key, err := loadOrCreateAuditKey(dataDir)
	if err != nil {
		return nil, err
	}
	if deps.Authz == nil {
		deps.Authz = policy.Roles{}
	}
	p := &Platform{DataDir: dataDir, AuditKey: key, Authz: deps.Authz, log: log, metrics: deps.Metrics}
	p.Lake, err = lake.Open(ctx, lake.Options{CatalogURI: cfg.CatalogURI(), Warehouse: wh, LocalDir: dataDir, Storage: storage, Logger: log,
		OnCommit: p.onCommit, Tracer: deps.Tracer, Authz: deps.Authz})
	if err != nil {
		return nil, err
	}
	if p.Users, err = auth.OpenStore(ctx, p.Lake.MetaDB()); err != nil {
		p.Lake.Close()
		return nil, err
	}
	if p.Audit, err = audit.Open(ctx, p.Lake.MetaDB(), audit.Options{Signer: key}); err != nil {
		p.Lake.Close()
		return nil, err
	}
	return p, nil
}

// Storage is the object-store configuration of an s3:// warehouse in cfg
// (ignored for a local one). A configured AWS profile is exported as
// AWS_PROFILE, which is how the AWS SDK's credential chain takes one.
func Storage(cfg *config.Config) (lake.Storage, error) {
	s3 := cfg.S3
	if s3.Profile != "" {
		if err := os.Setenv("AWS_PROFILE", s3.Profile); err != nil {
			return lake.Storage{}, err
		}
	}
	enc := objstore.Encryption{KMSKeyID: s3.SSEKMSKeyID}
	if s3.SSE != config.S3SSENone {
		enc.Type = s3.SSE
	}
	if err := enc.Check(); err != nil {
		return lake.Storage{}, fmt.Errorf("s3.sse: %w", err)
	}
	// The AWS SDK refuses to sign without a region; S3-compatible servers
	// mostly accept any, so an unconfigured one is us-east-1's.
	region := s3.Region
	if region == "" && s3.Profile == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" && os.Getenv("AWS_PROFILE") == "" {
		region = "us-east-1"
	}
	return lake.Storage{
		Props: objstore.S3{Endpoint: s3.Endpoint, Region: region, AccessKeyID: s3.AccessKeyID,
			SecretAccessKey: s3.SecretAccessKey, SessionToken: s3.SessionToken, PathStyle: s3.PathStyle()}.Props(),
		Encryption: enc,
		CacheBytes: cfg.Cache.MaxSize,
	}, nil
}

// TempDir is the scratch directory inside the data dir: the query engine
// spills there and uploads are spooled there.
func (p *Platform) TempDir() string { return filepath.Join(p.DataDir, "tmp") }

// Record appends an audit entry and counts it; callers decide what a
// failure means for their action.
func (p *Platform) Record(ctx context.Context, rec audit.Record) error {
	start := time.Now()
	_, err := p.Audit.Append(ctx, rec)
	p.metrics.ObserveAuditAppend(time.Since(start), err)
	if err == nil {
		p.appended.Store(true)
	}
	return err
}

// RecordAction audits an action of the Principal in ctx: a success when
// actErr is nil, else a denial (policy refused) or an error, with actErr's
// message in the details.
func (p *Platform) RecordAction(ctx context.Context, action, resource string, actErr error, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	rec := audit.Record{Action: action, Resource: resource, Outcome: audit.OutcomeSuccess, Details: details}
	if pr, ok := auth.FromContext(ctx); ok {
		rec.Principal = pr.Name
		details["method"] = pr.Method
	}
	if actErr != nil {
		rec.Outcome = audit.OutcomeError
		if errors.Is(actErr, policy.ErrDenied) {
			rec.Outcome = audit.OutcomeDenied
		}
		rec.Details["error"] = actErr.Error()
	}
	return p.Record(ctx, rec)
}

// onCommit turns every table change into one audit entry and the commit
// metrics. It runs after the commit, so an audit failure cannot undo it:
// it is logged at error level for an operator to act on.
func (p *Platform) onCommit(ctx context.Context, ev lake.CommitEvent) {
	outcome := "ok"
	if ev.Err != nil {
		outcome = "error"
	}
	p.metrics.ObserveCommit(telemetry.CommitStats{Operation: ev.Operation, Outcome: outcome,
		Duration: ev.Duration, Retries: ev.Attempts - 1, Conflicts: ev.Conflicts})
	if p.Audit == nil {
		return
	}
	rec := audit.Record{Action: "commit", Resource: ev.Table.String(), Outcome: audit.OutcomeSuccess,
		Details: map[string]any{"operation": ev.Operation}}
	if pr, ok := auth.FromContext(ctx); ok {
		rec.Principal = pr.Name
	}
	d := rec.Details
	if ev.Job != "" {
		d["job"] = ev.Job
	}
	if ev.SnapshotID != 0 {
		d["snapshot_id"] = ev.SnapshotID
	}
	if ev.AddedFiles > 0 || ev.DeleteFiles > 0 {
		d["added_files"], d["delete_files"], d["added_rows"] = ev.AddedFiles, ev.DeleteFiles, ev.AddedRows
	}
	if ev.Attempts > 1 {
		d["attempts"], d["conflicts"] = ev.Attempts, ev.Conflicts
	}
	if ev.To != (lake.Ident{}) {
		d["to"] = ev.To.String()
	}
	if ev.Err != nil {
		rec.Outcome, d["error"] = audit.OutcomeError, ev.Err.Error()
	}
	// The commit is done whatever the caller's context does next; the
	// entry must still be written.
	if err := p.Record(context.WithoutCancel(ctx), rec); err != nil {
		p.log.ErrorContext(ctx, "a table commit could not be written to the audit log",
			"table", ev.Table.String(), "operation", ev.Operation, "snapshot_id", ev.SnapshotID, "err", err)
	}
}

// Close checkpoints the audit log, so the tail this process wrote is
// signed too, and closes the lake. A process that wrote no entries signs
// nothing: it would vouch for entries it never saw being written.
func (p *Platform) Close() error {
	var errs []error
	if p.Audit != nil {
		if !p.appended.Load() {
			// nothing of ours to sign
		} else if _, err := p.Audit.Checkpoint(context.Background()); err != nil && !errors.Is(err, audit.ErrInvalid) {
			errs = append(errs, err)
		}
		errs = append(errs, p.Audit.Close())
	}
	errs = append(errs, p.Lake.Close())
	return errors.Join(errs...)
}

// loadOrCreateAuditKey reads the data directory's audit signing key,
// generating it (and its public half) on first use.
func loadOrCreateAuditKey(dataDir string) (ed25519.PrivateKey, error) {
	path := AuditKeyPath(dataDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createAuditKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit signing key %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit signing key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

func createAuditKey(dataDir string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(KeysDir(dataDir), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(AuditPublicKeyPath(dataDir), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(AuditKeyPath(dataDir), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return priv, nil
}

// ReadPublicKey reads a PEM Ed25519 public key, such as AuditPublicKeyPath.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: not a PEM public key", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 public key", path)
	}
	return ek, nil
}

// writeFileAtomic writes data to path through a synced temporary file and
// a rename, so a crash leaves the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
