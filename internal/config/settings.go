package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Values accepted by the enumerated settings. They are exported so callers
// can switch on them without repeating string literals.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"

	BadRowsFail       = "fail"
	BadRowsSkip       = "skip"
	BadRowsQuarantine = "quarantine"

	OutputAuto    = "auto"
	OutputTable   = "table"
	OutputCSV     = "csv"
	OutputJSON    = "json"
	OutputJSONL   = "jsonl"
	OutputParquet = "parquet"
	OutputArrow   = "arrow"

	S3AddressingAuto    = "auto"
	S3AddressingPath    = "path"
	S3AddressingVirtual = "virtual"

	S3SSENone   = "none"
	S3SSEAES256 = "AES256"
	S3SSEKMS    = "aws:kms"
)

// kind decides how a setting is exposed as a flag and how loose input is
// normalised; validation itself lives in each setting's set function.
type kind int

const (
	kindString kind = iota
	kindEnum
	kindInt
	kindDuration
	kindBool
)

// setting describes one configuration key. Everything user-facing about the
// key (YAML path, env var, flag, help text, Show line, error messages) is
// derived from this descriptor, which is what keeps the sources consistent.
type setting struct {
	key     string
	def     string // default, written the way a user would write it
	usage   string
	kind    kind
	allowed []string // for kindEnum
	secret  bool     // Show prints whether it is set, never the value
	// redact, if set, hides the secret part of a value (a password in a
	// URI) wherever the value is shown: config show and error messages.
	redact func(string) string

	// set parses raw, checks it and stores it in c. Errors describe what
	// is wrong and what is allowed, phrased to follow the quoted value
	// ("is not allowed; use ..."), so ValueError can prefix the key.
	set func(c *Config, raw string) error
	// get renders c's value in a form set accepts. Validate relies on this
	// round trip so that checking a Config built in code goes through the
	// same rules as checking user input.
	get func(c *Config) string
}

// registry is the single table of settings, in the order Show prints them.
var registry = []*setting{
	stringSetting("data_dir", "./edp-data",
		"directory for edp's local state (catalog, warehouse, temp files)",
		func(c *Config) *string { return &c.DataDir }, checkDataDir),
	withRedact(stringSetting("catalog.uri", "",
		"Iceberg catalog: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (default sqlite://<data_dir>/catalog.db)",
		func(c *Config) *string { return &c.Catalog.URI }, checkCatalogURI), RedactURI),
	stringSetting("warehouse", "",
		"where table data is stored: a local path, file:// or s3:// URI (default <data_dir>/warehouse)",
		func(c *Config) *string { return &c.Warehouse }, checkWarehouse),
	stringSetting("s3.endpoint", "", "S3-compatible endpoint URL for an s3:// warehouse, like http://minio:9000 (empty = AWS S3)",
		func(c *Config) *string { return &c.S3.Endpoint }, checkEndpoint),
	stringSetting("s3.region", "", "S3 signing region (empty = the AWS environment's, else us-east-1)",
		func(c *Config) *string { return &c.S3.Region }, noCheck),
	enumSetting("s3.addressing", S3AddressingAuto, "S3 request addressing: path (http://host/bucket/key), virtual (http://bucket.host/key), or auto = path when s3.endpoint is set",
		func(c *Config) *string { return &c.S3.Addressing }, S3AddressingAuto, S3AddressingPath, S3AddressingVirtual),
	stringSetting("s3.access_key_id", "", "static S3 access key id (empty = the AWS credential chain: environment, profile, web identity, instance role)",
		func(c *Config) *string { return &c.S3.AccessKeyID }, noCheck),
	secretSetting("s3.secret_access_key", "", "static S3 secret access key",
		func(c *Config) *string { return &c.S3.SecretAccessKey }),
	secretSetting("s3.session_token", "", "S3 session token for temporary static credentials",
		func(c *Config) *string { return &c.S3.SessionToken }),
	stringSetting("s3.profile", "", "AWS shared-config profile whose credentials and region to use (sets AWS_PROFILE)",
		func(c *Config) *string { return &c.S3.Profile }, noCheck),
	enumSetting("s3.sse", S3SSENone, "server-side encryption of the data and delete files edp uploads: none, AES256 (SSE-S3) or aws:kms (SSE-KMS)",
		func(c *Config) *string { return &c.S3.SSE }, S3SSENone, S3SSEAES256, S3SSEKMS),
	stringSetting("s3.sse_kms_key_id", "", "KMS key for s3.sse=aws:kms (empty = the account's default key)",
		func(c *Config) *string { return &c.S3.SSEKMSKeyID }, noCheck),
	boolSetting("iceberg.vend_credentials", false, "hand the s3.* access keys of an S3 warehouse to Iceberg REST clients that load a table (the keys are the whole store's: there is no STS)",
		func(c *Config) *bool { return &c.Iceberg.VendCredentials }),
	sizeSetting("cache.max_size", "10GiB", "bound of the local cache of files read from an object-store warehouse",
		func(c *Config) *int64 { return &c.Cache.MaxSize }, 64<<20),
	enumSetting("log.level", "info", "minimum level of log messages",
		func(c *Config) *string { return &c.Log.Level },
		"debug", "info", "warn", "error"),
	enumSetting("log.format", LogFormatText, "log line format",
		func(c *Config) *string { return &c.Log.Format },
		LogFormatText, LogFormatJSON),
	stringSetting("query.memory_limit", "",
		"memory limit for the query engine, like 4GB or 1.5GiB (empty = the engine's default)",
		func(c *Config) *string { return &c.Query.MemoryLimit }, checkMemoryLimit),
	intSetting("query.threads", 0, "query engine threads (0 = all cores)",
		func(c *Config) *int { return &c.Query.Threads }, 0, 1024),
	durationSetting("query.timeout", 0, "maximum run time of a query served by edp serve, like 30s or 5m (0s = 5m); a request may ask for less",
		func(c *Config) *time.Duration { return &c.Query.Timeout }),
	enumSetting("load.bad_rows", BadRowsFail,
		"what a load does with rows that cannot be parsed: stop, drop them, or set them aside",
		func(c *Config) *string { return &c.Load.BadRows },
		BadRowsFail, BadRowsSkip, BadRowsQuarantine),
	sizeSetting("load.target_file_size", "512MB", "target size of data files written by loads",
		func(c *Config) *int64 { return &c.Load.TargetFileSize }, 1e6),
	intSetting("query.max_rows", 0, "most rows the server returns for one query (0 = no limit)",
		func(c *Config) *int { return &c.Query.MaxRows }, 0, 1<<31-1),
	enumSetting("output", OutputAuto,
		"format of query results; auto picks one to suit where results go",
		func(c *Config) *string { return &c.Output },
		OutputAuto, OutputTable, OutputCSV, OutputJSON, OutputJSONL, OutputParquet, OutputArrow),

	// edp serve
	stringSetting("listen", "127.0.0.1:8080", "address edp serve listens on (host:port)",
		func(c *Config) *string { return &c.Listen }, checkListen),
	stringSetting("tls.cert", "", "TLS certificate file (PEM) for edp serve; with tls.key enables HTTPS",
		func(c *Config) *string { return &c.TLS.Cert }, noCheck),
	stringSetting("tls.key", "", "TLS private key file (PEM) for edp serve",
		func(c *Config) *string { return &c.TLS.Key }, noCheck),
	boolSetting("tls.self_signed", false, "serve HTTPS with a self-signed certificate kept in the data dir (development only)",
		func(c *Config) *bool { return &c.TLS.SelfSigned }),
	durationSetting("shutdown_timeout", 30*time.Second,
		"how long edp serve lets running requests and loads finish when stopping before it cancels them (0s: cancel at once)",
		func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	sizeSetting("api.max_upload", "10GiB", "largest upload one load request may send to the server",
		func(c *Config) *int64 { return &c.API.MaxUpload }, 1),
	durationSetting("auth.token_ttl", 15*time.Minute, "lifetime of access tokens issued at login (0s means 15m)",
		func(c *Config) *time.Duration { return &c.Auth.TokenTTL }),
	durationSetting("auth.key_rotation", 24*time.Hour, "how often the token signing key is replaced (0s = never)",
		func(c *Config) *time.Duration { return &c.Auth.KeyRotation }),
	stringSetting("oidc.issuer", "", "OpenID Connect issuer URL whose tokens the server accepts (empty = OIDC off)",
		func(c *Config) *string { return &c.OIDC.Issuer }, checkHTTPURL),
	stringSetting("oidc.audience", "", "audience (client id) OIDC tokens must be issued for",
		func(c *Config) *string { return &c.OIDC.Audience }, noCheck),
	stringSetting("oidc.username_claim", "preferred_username", "OIDC claim that names the user",
		func(c *Config) *string { return &c.OIDC.UsernameClaim }, noCheck),
	stringSetting("oidc.roles_claim", "groups", "OIDC claim (dotted path allowed) holding the user's groups or roles",
		func(c *Config) *string { return &c.OIDC.RolesClaim }, noCheck),
	stringSetting("oidc.role_map", "", "OIDC group to edp role, like data-admins=admin,analysts=reader",
		func(c *Config) *string { return &c.OIDC.RoleMap }, checkRoleMap),
	durationSetting("maintain.interval", time.Hour,
		"how often edp serve looks for tables to compact, expire and clean (0s = never; edp maintain still works)",
		func(c *Config) *time.Duration { return &c.Maintain.Interval }),
	stringSetting("otlp.endpoint", "", "OTLP/HTTP endpoint traces are exported to, like http://127.0.0.1:4318 (empty = off)",
		func(c *Config) *string { return &c.OTLP.Endpoint }, checkHTTPURL),

	// Kafka and stream pipelines
	stringSetting("kafka.brokers", "", "Kafka bootstrap brokers, comma-separated host:port (empty = no Kafka; stream pipelines do not run)",
		func(c *Config) *string { return &c.Kafka.Brokers }, checkBrokers),
	enumSetting("kafka.sasl.mechanism", "", "SASL mechanism for Kafka (empty = no SASL)",
		func(c *Config) *string { return &c.Kafka.SASLMechanism },
		"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
	stringSetting("kafka.sasl.user", "", "SASL user name for Kafka",
		func(c *Config) *string { return &c.Kafka.SASLUser }, noCheck),
	secretSetting("kafka.sasl.password", "", "SASL password for Kafka",
		func(c *Config) *string { return &c.Kafka.SASLPassword }),
	boolSetting("kafka.tls", false, "connect to Kafka over TLS",
		func(c *Config) *bool { return &c.Kafka.TLS }),
	stringSetting("kafka.tls_ca", "", "PEM file of the CA that signed the Kafka brokers' certificates (default: system roots)",
		func(c *Config) *string { return &c.Kafka.TLSCA }, noCheck),
	stringSetting("kafka.schema_registry", "", "URL of a Confluent-compatible schema registry, for avro and json-schema pipelines (empty = none)",
		func(c *Config) *string { return &c.Kafka.SchemaRegistry }, checkHTTPURL),
	durationSetting("stream.interval", time.Second, "default commit interval of stream pipelines: how often consumed records become an Iceberg snapshot",
		func(c *Config) *time.Duration { return &c.Stream.CommitInterval }),

	// a CLI talking to a server
	stringSetting("server", "", "URL of an edp server to run commands against instead of the local data dir",
		func(c *Config) *string { return &c.Server }, checkHTTPURL),
	secretSetting("token", "", "access token or API key for --server (default: the saved login)",
		func(c *Config) *string { return &c.Token }),
}

var byKey = func() map[string]*setting {
	m := make(map[string]*setting, len(registry))
	for _, s := range registry {
		m[s.key] = s
	}
	return m
}()

// envName derives the environment variable for a key:
// query.memory_limit -> EDP_QUERY_MEMORY_LIMIT.
func envName(key string) string {
	return "EDP_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// flagName derives the flag for a key: query.memory_limit -> query-memory-limit.
func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// Setting describes one configuration key for documentation and help output.
type Setting struct {
	Key     string   // dotted key, also the YAML path
	Default string   // default value as it would be written in a file; may be empty
	Usage   string   // one-line description
	Env     string   // environment variable, e.g. EDP_QUERY_THREADS
	Flag    string   // flag name without dashes, e.g. query-threads
	Allowed []string // permitted values for enumerated settings, else nil
}

// Settings lists every configuration key in display order.
func Settings() []Setting {
	out := make([]Setting, len(registry))
	for i, s := range registry {
		out[i] = Setting{
			Key:     s.key,
			Default: s.def,
			Usage:   s.usage,
			Env:     envName(s.key),
			Flag:    flagName(s.key),
			Allowed: append([]string(nil), s.allowed...),
		}
	}
	return out
}

func stringSetting(key, def, usage string, field func(*Config) *string, check func(string) error) *setting {
	return &setting{
		key: key, def: def, usage: usage, kind: kindString,
		set: func(c *Config, raw string) error {
			if err := check(raw); err != nil {
				return err
			}
			*field(c) = raw
			return nil
		},
		get: func(c *Config) string { return *field(c) },
	}
}

func enumSetting(key, def, usage string, field func(*Config) *string, allowed ...string) *setting {
	return &setting{
		key: key, def: def, usage: usage, kind: kindEnum, allowed: allowed,
		set: func(c *Config, raw string) error {
			for _, a := range allowed {
				if raw == a {
					*field(c) = raw
					return nil
				}
			}
			return fmt.Errorf("is not allowed; use one of %s", strings.Join(allowed, ", "))
		},
		get: func(c *Config) string { return *field(c) },
	}
}

func withRedact(st *setting, redact func(string) string) *setting {
	st.redact = redact
	return st
}

// shown is raw as it may be displayed.
func (s *setting) shown(raw string) string {
	if s.redact != nil {
		return s.redact(raw)
	}
	return raw
}

// RedactURI hides the password of a URI (user:PASSWORD@host, or a
// password= query parameter) so it can be printed or logged. Text that
// does not parse as a URI is hidden whole if it contains "@".
func RedactURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "(unparseable URI, hidden: it may hold a password)"
		}
		return raw
	}
	changed := false
	if _, has := u.User.Password(); has {
		changed = true
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return u.Redacted()
}

func secretSetting(key, def, usage string, field func(*Config) *string) *setting {
	st := stringSetting(key, def, usage, field, noCheck)
	st.secret = true
	return st
}

func boolSetting(key string, def bool, usage string, field func(*Config) *bool) *setting {
	return &setting{
		key: key, def: strconv.FormatBool(def), usage: usage, kind: kindBool,
		set: func(c *Config, raw string) error {
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return errors.New("is not a boolean; use true or false")
			}
			*field(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

func intSetting(key string, def int, usage string, field func(*Config) *int, lo, hi int) *setting {
	return &setting{
		key: key, def: strconv.Itoa(def), usage: usage, kind: kindInt,
		set: func(c *Config, raw string) error {
			n, err := strconv.Atoi(raw)
			if err != nil {
				return fmt.Errorf("is not a whole number; use one from %d to %d", lo, hi)
			}
			if n < lo || n > hi {
				return fmt.Errorf("is out of range; use a whole number from %d to %d", lo, hi)
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
	}
}

func durationSetting(key string, def time.Duration, usage string, field func(*Config) *time.Duration) *setting {
	return &setting{
		key: key, def: def.String(), usage: usage, kind: kindDuration,
		set: func(c *Config, raw string) error {
			d, err := time.ParseDuration(raw)
			if err != nil {
				return errors.New("is not a duration; use a number with a unit, like 30s, 5m or 1h30m (0s for none)")
			}
			if d < 0 {
				return errors.New("is negative; use a duration of 0s or more, like 30s or 5m (0s for none)")
			}
			*field(c) = d
			return nil
		},
		get: func(c *Config) string { return field(c).String() },
	}
}

func sizeSetting(key, def, usage string, field func(*Config) *int64, lo int64) *setting {
	return &setting{
		key: key, def: def, usage: usage, kind: kindString,
		set: func(c *Config, raw string) error {
			n, err := parseSize(raw)
			if err != nil {
				return err
			}
			if n < lo {
				return fmt.Errorf("is too small; use at least %s", formatSize(lo))
			}
			*field(c) = n
			return nil
		},
		get: func(c *Config) string { return formatSize(*field(c)) },
	}
}

func noCheck(string) error { return nil }

func checkListen(raw string) error {
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return errors.New("is not host:port; use an address like 127.0.0.1:8080 or :8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("has a bad port; use a number from 0 to 65535, like 127.0.0.1:8080")
	}
	_ = host // any host name or address; the listener reports what it cannot bind
	return nil
}

func checkHTTPURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("is not an http(s) URL; use one like https://host:port")
	}
	return nil
}

// checkRoleMap accepts "group=role,group=role" with edp's role names.
func checkRoleMap(raw string) error {
	_, err := ParseRoleMap(raw)
	return err
}

// ParseRoleMap parses oidc.role_map: comma-separated group=role pairs,
// where role is admin, writer or reader.
func ParseRoleMap(raw string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(raw, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		group, role, ok := strings.Cut(pair, "=")
		group, role = strings.TrimSpace(group), strings.TrimSpace(role)
		if !ok || group == "" {
			return nil, fmt.Errorf("has %q, which is not group=role; use pairs like data-admins=admin,analysts=reader", pair)
		}
		switch role {
		case "admin", "writer", "reader":
		default:
			return nil, fmt.Errorf("maps %q to unknown role %q; use admin, writer or reader", group, role)
		}
		out[group] = role
	}
	return out, nil
}

func checkDataDir(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("is empty; use a directory path such as ./edp-data")
	}
	return nil
}

func checkMemoryLimit(raw string) error {
	if raw == "" {
		return nil // empty means the engine decides
	}
	n, err := parseSize(raw)
	if err != nil {
		return err
	}
	if n <= 0 {
		return errors.New("is too small; use a size above 0, like 4GB, or leave it empty for the engine default")
	}
	return nil
}

const catalogAllowed = "use sqlite://PATH or postgres://USER@HOST/DB, or leave it empty for sqlite in data_dir"

func checkCatalogURI(raw string) error {
	if raw == "" {
		return nil
	}
	scheme, rest, ok := splitScheme(raw)
	switch {
	case !ok:
		return errors.New("is not a URI; " + catalogAllowed)
	case scheme == "sqlite":
		if p, _, _ := strings.Cut(rest, "?"); p == "" {
			return errors.New("has no database path; " + catalogAllowed)
		}
		return nil
	case scheme == "postgres" || scheme == "postgresql":
		// Only the shape is checked: the connection details are the
		// driver's business (pgx, through internal/metadb).
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return errors.New("is not a valid postgres URI; " + catalogAllowed)
		}
		return nil
	default:
		return fmt.Errorf("has unsupported scheme %q; %s", scheme, catalogAllowed)
	}
}

// checkEndpoint accepts an empty value or an http(s) base URL.
func checkEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("is not an http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("carries credentials; set s3.access_key_id and s3.secret_access_key instead")
	}
	return nil
}

const warehouseAllowed = "use a local path, a file:///ABSOLUTE/PATH URI or s3://BUCKET/PREFIX, or leave it empty for data_dir/warehouse"

func checkWarehouse(raw string) error {
	if raw == "" {
		return nil
	}
	scheme, _, ok := splitScheme(raw)
	if !ok {
		return nil // a plain local path; any name the OS accepts is fine
	}
	switch scheme {
	case "file":
		if _, err := fileURIPath(raw); err != nil {
			return fmt.Errorf("%v; %s", err, warehouseAllowed)
		}
		return nil
	case "s3":
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return errors.New("has no bucket; " + warehouseAllowed)
		}
		return nil
	default:
		return fmt.Errorf("has unsupported scheme %q; %s", scheme, warehouseAllowed)
	}
}

// splitScheme splits "scheme://rest". It insists on "://" rather than
// just ":" so Windows paths like C:\data are not mistaken for URIs.
func splitScheme(s string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(s, "://")
	if !ok || scheme == "" {
		return "", "", false
	}
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(scheme), rest, true
}
