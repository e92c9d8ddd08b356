package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the effective configuration. The zero value is not useful;
// start from Default or Load.
type Config struct {
	DataDir   string // as given, possibly relative; resolve with the path methods
	Catalog   CatalogConfig
	Warehouse string // as given; empty means <data_dir>/warehouse
	S3        S3Config
	Cache     CacheConfig
	Iceberg   IcebergConfig
	Log       LogConfig
	Query     QueryConfig
	Load      LoadConfig
	Output    string

	// edp serve
	Listen          string
	TLS             TLSConfig
	ShutdownTimeout time.Duration
	API             APIConfig
	Auth            AuthConfig
	OIDC            OIDCConfig
	OTLP            OTLPConfig
	Maintain        MaintainConfig
	Kafka           KafkaConfig
	Stream          StreamConfig

	// Server and Token make the CLI a client of a running server.
	Server string
	Token  string

	// File is the config file that was read, or "" if none was.
	File string

	// sources records where each non-default value came from, by key.
	// A missing entry means the built-in default, so a Config assembled
	// in code reports every value as a default.
	sources map[string]Source
}

// CatalogConfig configures the Iceberg catalog.
type CatalogConfig struct {
	URI string // empty means sqlite://<data_dir>/catalog.db; see Config.CatalogURI
}

// S3Config configures an s3:// warehouse.
type S3Config struct {
	Endpoint        string // empty means AWS S3
	Region          string
	Addressing      string // S3Addressing*
	AccessKeyID     string // empty means the AWS credential chain
	SecretAccessKey string
	SessionToken    string
	Profile         string // AWS shared-config profile
	SSE             string // S3SSE*
	SSEKMSKeyID     string
}

// PathStyle reports whether requests address buckets in the path.
func (s S3Config) PathStyle() bool {
	switch s.Addressing {
	case S3AddressingPath:
		return true
	case S3AddressingVirtual:
		return false
	}
	return s.Endpoint != ""
}

// IcebergConfig configures the Iceberg REST catalog.
type IcebergConfig struct {
	VendCredentials bool // hand S3 keys to clients loading a table
}

// CacheConfig bounds the local cache of remote warehouse files.
type CacheConfig struct {
	MaxSize int64 // bytes
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string // debug, info, warn or error
	Format string // LogFormatText or LogFormatJSON
}

// QueryConfig configures the query engine.
type QueryConfig struct {
	MemoryLimit string        // a size such as 4GB; empty leaves it to the engine
	Threads     int           // 0 means all cores
	Timeout     time.Duration // 0 means no timeout
	MaxRows     int           // rows the server returns per query; 0 means no limit
}

// TLSConfig configures HTTPS for edp serve.
type TLSConfig struct {
	Cert, Key  string // PEM files
	SelfSigned bool   // generate and keep a certificate in the data dir
}

// APIConfig limits what clients may send to the server.
type APIConfig struct {
	MaxUpload int64 // bytes per load request
}

// AuthConfig configures the server's access tokens.
type AuthConfig struct {
	TokenTTL    time.Duration
	KeyRotation time.Duration // 0 means never rotate
}

// OIDCConfig configures login through an OpenID Connect provider.
type OIDCConfig struct {
	Issuer        string // empty turns OIDC off
	Audience      string
	UsernameClaim string
	RolesClaim    string
	RoleMap       string // group=role,…; see ParseRoleMap
}

// MaintainConfig configures automatic table maintenance.
type MaintainConfig struct {
	Interval time.Duration // between scheduling passes; 0 turns them off
}

// OTLPConfig configures trace export.
type OTLPConfig struct {
	Endpoint string // OTLP/HTTP base URL; empty turns tracing off
}

// LoadConfig configures data loading.
type LoadConfig struct {
	BadRows        string // BadRowsFail, BadRowsSkip or BadRowsQuarantine
	TargetFileSize int64  // bytes
}

// SourceKind says which layer of configuration a value came from.
type SourceKind string

const (
	SourceDefault SourceKind = "default"
	SourceFile    SourceKind = "file"
	SourceEnv     SourceKind = "env"
	SourceFlag    SourceKind = "flag"
)

// Source records where a setting's value came from.
type Source struct {
	Kind SourceKind
	Name string // file path, environment variable, or flag with its dashes
	Line int    // line in the file, for SourceFile; 0 otherwise
}

// String renders the source as "default", "file PATH", "env EDP_X" or
// "flag --x".
func (s Source) String() string {
	if s.Kind == "" {
		return string(SourceDefault)
	}
	if s.Name == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + " " + s.Name
}

// ValueError reports a setting with a value that is not allowed.
type ValueError struct {
	Key    string
	Value  string
	Source Source
	Err    error // what is wrong and what is allowed
}

func (e *ValueError) Error() string {
	msg := fmt.Sprintf("%s: %q %v", e.Key, e.Value, e.Err)
	switch e.Source.Kind {
	case "", SourceDefault:
		// A default (or a value set in code) has no user-visible origin
		// worth pointing at.
	case SourceFile:
		msg += fmt.Sprintf(" (from %s:%d)", e.Source.Name, e.Source.Line)
	default:
		msg += " (from " + e.Source.String() + ")"
	}
	return msg
}

func (e *ValueError) Unwrap() error { return e.Err }

// DefaultFile is the config file picked up from the working directory when
// neither a file nor $EDP_CONFIG is given.
const DefaultFile = "edp.yaml"

// configFlag is the flag Bind registers for choosing the config file.
const configFlag = "config"

// Default returns the built-in configuration, which is what edp runs with
// when nothing is configured.
func Default() *Config {
	c := &Config{}
	for _, s := range registry {
		if err := s.set(c, s.def); err != nil {
			panic(fmt.Sprintf("config: default for %s is invalid: %v", s.key, err))
		}
	}
	return c
}

// Bind registers --config and one flag per setting on fs. Flags are typed
// where pflag has a matching type so that --help shows what is expected;
// sizes stay strings so that units like 4GB are accepted.
func Bind(fs *pflag.FlagSet) {
	fs.String(configFlag, "", "config file (default $EDP_CONFIG, else ./"+DefaultFile+" if it exists)")
	for _, s := range registry {
		name, usage := flagName(s.key), s.usage
		if s.kind == kindEnum {
			usage += " (" + strings.Join(s.allowed, "|") + ")"
		}
		switch s.kind {
		case kindInt:
			n, _ := strconv.Atoi(s.def)
			fs.Int(name, n, usage)
		case kindDuration:
			d, _ := time.ParseDuration(s.def)
			fs.Duration(name, d, usage)
		case kindBool:
			b, _ := strconv.ParseBool(s.def)
			fs.Bool(name, b, usage)
		default:
			fs.String(name, s.def, usage)
		}
	}
}

// Load builds the effective configuration: defaults, then the config file,
// then EDP_* variables from environ (os.Environ form; the last entry wins),
// then flags the user explicitly set on flags (registered with Bind; may
// be nil).
//
// The file is, in order of preference: file, the --config flag, $EDP_CONFIG,
// or ./edp.yaml if it exists. A file that was asked for must exist; the
// implicit ./edp.yaml is optional. Unknown keys in the file are errors,
// but unknown EDP_* variables are ignored because other parts of edp use
// that prefix too. All problems found are reported together.
func Load(file string, environ []string, flags *pflag.FlagSet) (*Config, error) {
	c := Default()
	c.sources = make(map[string]Source)
	env := envMap(environ)
	var errs []error

	path, origin := chooseFile(file, env, flags)
	parsed, err := readFile(path, origin)
	if err != nil {
		return nil, err
	}
	if parsed != nil { // nil: the optional ./edp.yaml is absent
		c.File = path
		for _, e := range parsed.entries {
			if e.err != nil {
				errs = append(errs, e.err)
				continue
			}
			src := Source{Kind: SourceFile, Name: path, Line: e.line}
			errs = append(errs, c.apply(e.setting, e.raw, src))
		}
	}

	for _, s := range registry {
		name := envName(s.key)
		// Empty variables are treated as unset: shells and container
		// tooling routinely export empty values, and taking them at face
		// value would turn a harmless "EDP_DATA_DIR=" into a hard error.
		if v := env[name]; v != "" {
			errs = append(errs, c.apply(s, v, Source{Kind: SourceEnv, Name: name}))
		}
	}

	if flags != nil {
		for _, s := range registry {
			name := flagName(s.key)
			if f := flags.Lookup(name); f != nil && f.Changed {
				errs = append(errs, c.apply(s, f.Value.String(), Source{Kind: SourceFlag, Name: "--" + name}))
			}
		}
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Every value was checked on the way in; this catches rules that span
	// settings, should any be added, in the same way for all callers.
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// apply sets one value from a user-facing source. Input is normalised
// leniently (surrounding space, case of enum values) before the strict
// check, so "INFO " from a file works but a Config built in code with
// "INFO" still fails Validate.
func (c *Config) apply(s *setting, raw string, src Source) error {
	v := strings.TrimSpace(raw)
	if s.kind == kindEnum {
		v = strings.ToLower(v)
	}
	if err := s.set(c, v); err != nil {
		return &ValueError{Key: s.key, Value: s.shown(raw), Source: src, Err: err}
	}
	if c.sources == nil {
		c.sources = make(map[string]Source)
	}
	c.sources[s.key] = src
	return nil
}

// chooseFile picks the config file and says who asked for it: "" for the
// implicit ./edp.yaml, which is optional, otherwise a description used in
// the error if the file cannot be read.
func chooseFile(file string, env map[string]string, flags *pflag.FlagSet) (path, origin string) {
	if file != "" {
		return file, "given"
	}
	if flags != nil {
		if f := flags.Lookup(configFlag); f != nil && f.Changed && f.Value.String() != "" {
			return f.Value.String(), "from --" + configFlag
		}
	}
	if p := env["EDP_CONFIG"]; p != "" {
		return p, "from EDP_CONFIG"
	}
	return DefaultFile, ""
}

// envMap indexes the EDP_ entries of environ. Later entries win, matching
// how os/exec treats duplicates.
func envMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "EDP_") {
			m[k] = v
		}
	}
	return m
}

// Validate checks every setting and reports all problems, each naming the
// key, the bad value and what is allowed.
func (c *Config) Validate() error {
	var errs []error
	var scratch Config
	for _, s := range registry {
		raw := s.get(c)
		if err := s.set(&scratch, raw); err != nil {
			errs = append(errs, &ValueError{Key: s.key, Value: s.shown(raw), Source: c.Source(s.key), Err: err})
		}
	}
	return errors.Join(errs...)
}

// Source reports where the value of key came from. Unknown keys and values
// never overridden report SourceDefault.
func (c *Config) Source(key string) Source {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return Source{Kind: SourceDefault}
}

// Value returns the value of key rendered as it would be written in a
// config file, and whether key exists.
func (c *Config) Value(key string) (string, bool) {
	s, ok := byKey[key]
	if !ok {
		return "", false
	}
	return s.get(c), true
}

// CatalogURI returns the catalog URI with the default filled in and any
// sqlite path made absolute, so the result does not depend on the working
// directory of whoever uses it later.
func (c *Config) CatalogURI() string {
	if c.Catalog.URI == "" {
		return "sqlite://" + filepath.ToSlash(absOrAsIs(filepath.Join(c.DataDir, "catalog.db")))
	}
	if p, ok := c.CatalogSQLitePath(); ok {
		_, rest, _ := splitScheme(c.Catalog.URI)
		query := ""
		if _, q, found := strings.Cut(rest, "?"); found {
			query = "?" + q
		}
		return "sqlite://" + filepath.ToSlash(p) + query
	}
	return c.Catalog.URI
}

// CatalogSQLitePath returns the absolute path of the sqlite catalog
// database, or ok == false if the catalog is not sqlite.
func (c *Config) CatalogSQLitePath() (path string, ok bool) {
	if c.Catalog.URI == "" {
		return absOrAsIs(filepath.Join(c.DataDir, "catalog.db")), true
	}
	scheme, rest, isURI := splitScheme(c.Catalog.URI)
	if !isURI || scheme != "sqlite" {
		return "", false
	}
	p, _, _ := strings.Cut(rest, "?")
	return absOrAsIs(filepath.FromSlash(p)), true
}

// WarehousePath returns the warehouse as an absolute local directory. It
// fails for remote warehouses such as s3://, which have no local path.
func (c *Config) WarehousePath() (string, error) {
	w := c.Warehouse
	if w == "" {
		return absPath(filepath.Join(c.DataDir, "warehouse"))
	}
	scheme, _, ok := splitScheme(w)
	switch {
	case !ok:
		return absPath(w)
	case scheme == "file":
		p, err := fileURIPath(w)
		if err != nil {
			return "", fmt.Errorf("warehouse %q %v", w, err)
		}
		return absPath(p)
	default:
		return "", fmt.Errorf("warehouse %q is not a local directory", w)
	}
}

// WarehouseURI returns the warehouse as a URI (file:// for local
// directories), the form Iceberg table locations are written in.
func (c *Config) WarehouseURI() (string, error) {
	if scheme, _, ok := splitScheme(c.Warehouse); ok && scheme != "file" {
		return c.Warehouse, nil
	}
	p, err := c.WarehousePath()
	if err != nil {
		return "", err
	}
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive paths: file:///C:/data
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// MemoryLimitBytes returns query.memory_limit in bytes, or 0 when the
// engine should choose.
func (c *Config) MemoryLimitBytes() (int64, error) {
	if c.Query.MemoryLimit == "" {
		return 0, nil
	}
	return ParseSize(c.Query.MemoryLimit)
}

// SlogLevel returns log.level as a slog level; unknown values map to info.
func (c *Config) SlogLevel() slog.Level {
	switch c.Log.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// fileURIPath extracts the local path from a file:// URI. Only local hosts
// are accepted: a file URI naming another machine cannot be opened here.
func fileURIPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("is not a valid file URI")
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", errors.New("names a host; file URIs need an absolute path, like file:///data/warehouse")
	}
	if u.Path == "" {
		return "", errors.New("has no path")
	}
	p := u.Path
	// file:///C:/data parses with Path "/C:/data"; strip the slash so the
	// drive letter leads on Windows.
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' && filepath.VolumeName(p[1:]) != "" {
		p = p[1:]
	}
	return filepath.FromSlash(p), nil
}

// absPath makes p absolute, expanding a leading ~ first because a path in
// a config file or env var never passes through a shell that would do it.
func absPath(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expanding %q: %w", p, err)
		}
		p = filepath.Join(home, p[1:])
	}
	return filepath.Abs(p)
}

// absOrAsIs is absPath for callers with no error return; the failure cases
// (no working directory, no home directory) leave p usable if not ideal.
func absOrAsIs(p string) string {
	if a, err := absPath(p); err == nil {
		return a
	}
	return p
}
