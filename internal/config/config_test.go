package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeFile writes a config file into a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newFlags returns a flag set with the config flags bound and args parsed.
func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("edp", pflag.ContinueOnError)
	Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q) = %v", args, err)
	}
	return fs
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./edp.yaml here
	c, err := Load("", nil, nil)
	if err != nil {
		t.Fatalf("Load() = %v, want nil error", err)
	}
	want := Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"DataDir", c.DataDir, "./edp-data"},
		{"Catalog.URI", c.Catalog.URI, ""},
		{"Warehouse", c.Warehouse, ""},
		{"Log.Level", c.Log.Level, "info"},
		{"Log.Format", c.Log.Format, "text"},
		{"Query.MemoryLimit", c.Query.MemoryLimit, ""},
		{"Query.Threads", c.Query.Threads, 0},
		{"Query.Timeout", c.Query.Timeout, time.Duration(0)},
		{"Load.BadRows", c.Load.BadRows, "fail"},
		{"Load.TargetFileSize", c.Load.TargetFileSize, int64(512_000_000)},
		{"Output", c.Output, "auto"},
		{"File", c.File, ""},
		{"Default().DataDir", want.DataDir, c.DataDir},
		{"Default().Load.TargetFileSize", want.Load.TargetFileSize, c.Load.TargetFileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("Load(\"\", nil, nil).%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
	for _, s := range Settings() {
		if got := c.Source(s.Key); got.Kind != SourceDefault {
			t.Errorf("Source(%q) = %v, want default", s.Key, got)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "edp.yaml", `
data_dir: /from/file
log:
  level: warn
query:
  threads: 2
  timeout: 1m
load:
  target_file_size: 64MB
`)
	tests := []struct {
		name    string
		environ []string
		args    []string
		key     string
		want    string
		source  string
	}{
		{"file beats default", nil, nil, "log.level", "warn", "file " + file},
		{"default when unset anywhere", nil, nil, "output", "auto", "default"},
		{"env beats file", []string{"EDP_LOG_LEVEL=error"}, nil, "log.level", "error", "env EDP_LOG_LEVEL"},
		{"flag beats env", []string{"EDP_LOG_LEVEL=error"}, []string{"--log-level=debug"}, "log.level", "debug", "flag --log-level"},
		{"flag beats file", nil, []string{"--query-threads=8"}, "query.threads", "8", "flag --query-threads"},
		{"env int", []string{"EDP_QUERY_THREADS=4"}, nil, "query.threads", "4", "env EDP_QUERY_THREADS"},
		{"file duration", nil, nil, "query.timeout", "1m0s", "file " + file},
		{"flag duration beats env", []string{"EDP_QUERY_TIMEOUT=2m"}, []string{"--query-timeout=90s"}, "query.timeout", "1m30s", "flag --query-timeout"},
		{"env size", []string{"EDP_LOAD_TARGET_FILE_SIZE=128MiB"}, nil, "load.target_file_size", "128MiB", "env EDP_LOAD_TARGET_FILE_SIZE"},
		{"flag data dir", []string{"EDP_DATA_DIR=/from/env"}, []string{"--data-dir", "/from/flag"}, "data_dir", "/from/flag", "flag --data-dir"},
		{"env data dir", []string{"EDP_DATA_DIR=/from/env"}, nil, "data_dir", "/from/env", "env EDP_DATA_DIR"},
		{"last env entry wins", []string{"EDP_OUTPUT=csv", "EDP_OUTPUT=json"}, nil, "output", "json", "env EDP_OUTPUT"},
		{"empty env is unset", []string{"EDP_LOG_LEVEL="}, nil, "log.level", "warn", "file " + file},
		{"unchanged flag is ignored", []string{"EDP_OUTPUT=csv"}, nil, "output", "csv", "env EDP_OUTPUT"},
		{"enum case and space normalised", []string{"EDP_LOG_FORMAT= JSON "}, nil, "log.format", "json", "env EDP_LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(file, tt.environ, newFlags(t, tt.args...))
			if err != nil {
				t.Fatalf("Load(%q, %q, %q) = %v, want nil error", file, tt.environ, tt.args, err)
			}
			if got, _ := c.Value(tt.key); got != tt.want {
				t.Errorf("Load(%q, %q, %q) %s = %q, want %q", file, tt.environ, tt.args, tt.key, got, tt.want)
			}
			if got := c.Source(tt.key).String(); got != tt.source {
				t.Errorf("Load(%q, %q, %q) source of %s = %q, want %q", file, tt.environ, tt.args, tt.key, got, tt.source)
			}
		})
	}
}

func TestTypedFieldsFromFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load("", nil, newFlags(t,
		"--query-memory-limit=1.5GiB", "--query-threads=3", "--query-timeout=45s",
		"--load-bad-rows=quarantine", "--load-target-file-size=1GB", "--catalog-uri=postgres://u@db/edp",
		"--warehouse=s3://bucket/wh", "--output=jsonl", "--log-format=json"))
	if err != nil {
		t.Fatalf("Load(...) = %v, want nil error", err)
	}
	if c.Query.MemoryLimit != "1.5GiB" || c.Query.Threads != 3 || c.Query.Timeout != 45*time.Second ||
		c.Load.BadRows != BadRowsQuarantine || c.Load.TargetFileSize != 1e9 ||
		c.Catalog.URI != "postgres://u@db/edp" || c.Warehouse != "s3://bucket/wh" ||
		c.Output != OutputJSONL || c.Log.Format != LogFormatJSON {
		t.Errorf("Load(...) = %+v, want the flag values", *c)
	}
	if n, err := c.MemoryLimitBytes(); err != nil || n != 1610612736 {
		t.Errorf("MemoryLimitBytes() = %d, %v, want 1610612736, nil", n, err)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // part of the allowed-values explanation
	}{
		{"data_dir", " ", "is empty"},
		{"catalog.uri", "mysql://x/y", "sqlite://PATH or postgres://"},
		{"catalog.uri", "catalog.db", "is not a URI"},
		{"catalog.uri", "sqlite://", "has no database path"},
		{"catalog.uri", "postgres://", "not a valid postgres URI"},
		{"warehouse", "gs://bucket/x", "unsupported scheme"},
		{"warehouse", "file://host/x", "names a host"},
		{"warehouse", "s3://", "has no bucket"},
		{"log.level", "verbose", "use one of debug, info, warn, error"},
		{"log.format", "xml", "use one of text, json"},
		{"query.memory_limit", "lots", "is not a size"},
		{"query.memory_limit", "4G", `unknown unit "G"`},
		{"query.memory_limit", "0GB", "is too small"},
		{"query.threads", "many", "is not a whole number"},
		{"query.threads", "2000", "from 0 to 1024"},
		{"query.threads", "-1", "from 0 to 1024"},
		{"query.timeout", "30", "is not a duration"},
		{"query.timeout", "-5s", "is negative"},
		{"load.bad_rows", "skp", "use one of fail, skip, quarantine"},
		{"load.target_file_size", "100KB", "use at least 1MB"},
		{"load.target_file_size", "big", "is not a size"},
		{"output", "xlsx", "use one of auto, table, csv, json, jsonl, parquet"},
		{"s3.endpoint", "minio:9000", "is not an http:// or https:// URL"},
		{"s3.endpoint", "http://key:secret@minio:9000", "carries credentials"},
		{"s3.addressing", "bucket", "use one of auto, path, virtual"},
		{"s3.sse", "aes", "use one of none, AES256, aws:kms"},
		{"cache.max_size", "1MB", "use at least 64MiB"},
		{"kafka.brokers", "k1:9092,k2", "not host:port"},
		{"kafka.sasl.mechanism", "GSSAPI", "use one of , PLAIN, SCRAM-SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			env := envName(tt.key) + "=" + tt.value
			_, err := Load(os.DevNull, []string{env}, nil)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want an error", env)
			}
			for _, want := range []string{tt.key + ":", `"` + tt.value + `"`, tt.want, "env " + envName(tt.key)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load(%q) = %v, want it to mention %q", env, err, want)
				}
			}
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Key != tt.key {
				t.Errorf("Load(%q) = %v, want a *ValueError for %s", env, err, tt.key)
			}
		})
	}

	// The same rules apply to a Config built in code.
	t.Run("Validate", func(t *testing.T) {
		c := Default()
		c.DataDir = ""
		c.Catalog.URI = "mysql://x"
		c.Warehouse = "gs://b"
		c.Log.Level = "INFO" // Load normalises case; code must not rely on it
		c.Log.Format = "xml"
		c.Query.MemoryLimit = "4G"
		c.Query.Threads = 2000
		c.Query.Timeout = -time.Second
		c.Load.BadRows = "skp"
		c.Load.TargetFileSize = 100
		c.Output = "xlsx"
		c.Query.MaxRows = -1
		c.Listen = "8080"
		c.ShutdownTimeout = -time.Second
		c.API.MaxUpload = 0
		c.Auth.TokenTTL = -time.Second
		c.Auth.KeyRotation = -time.Second
		c.OIDC.Issuer = "ftp://idp"
		c.OIDC.RoleMap = "analysts=superuser"
		c.OTLP.Endpoint = "localhost:4318"
		c.Maintain.Interval = -time.Second
		c.Kafka.Brokers = "localhost"
		c.Kafka.SASLMechanism = "GSSAPI"
		c.Kafka.SchemaRegistry = "registry:8081"
		c.Stream.CommitInterval = -time.Second
		c.Server = "edp.example.com"
		c.S3.Endpoint = "minio"
		c.S3.Addressing = "bucket"
		c.S3.SSE = "aes"
		c.Cache.MaxSize = 1
		err := c.Validate()
		if err == nil {
			t.Fatal("Validate() = nil, want errors for every setting")
		}
		// Free-form values and booleans have no invalid value in code.
		free := map[string]bool{"tls.cert": true, "tls.key": true, "tls.self_signed": true,
			"oidc.audience": true, "oidc.username_claim": true, "oidc.roles_claim": true, "token": true,
			"s3.region": true, "s3.access_key_id": true, "s3.secret_access_key": true, "s3.session_token": true,
			"s3.profile": true, "s3.sse_kms_key_id": true, "iceberg.vend_credentials": true,
			"kafka.sasl.user": true, "kafka.sasl.password": true, "kafka.tls": true, "kafka.tls_ca": true}
		for _, s := range Settings() {
			if free[s.Key] {
				continue
			}
			if !strings.Contains(err.Error(), s.Key+": ") {
				t.Errorf("Validate() = %v, want an error naming %s", err, s.Key)
			}
		}
		want := `load.bad_rows: "skp" is not allowed; use one of fail, skip, quarantine`
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	})

	t.Run("all errors reported", func(t *testing.T) {
		environ := []string{"EDP_OUTPUT=x", "EDP_LOG_LEVEL=y"}
		_, err := Load(os.DevNull, environ, newFlags(t, "--query-timeout=-1s"))
		for _, key := range []string{"output", "log.level", "query.timeout"} {
			if err == nil || !strings.Contains(err.Error(), key+":") {
				t.Errorf("Load(%q, --query-timeout=-1s) = %v, want it to name %s", environ, err, key)
			}
		}
		if err != nil && !strings.Contains(err.Error(), "flag --query-timeout") {
			t.Errorf("Load(...) = %v, want it to name the flag", err)
		}
	})
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // substrings of the error; PATH stands for the file
	}{
		{"unknown key with suggestion", "query:\n  memroy_limit: 4GB\n",
			[]string{"PATH:2:", `unknown key "query.memroy_limit"`, `did you mean "query.memory_limit"`}},
		{"key in wrong section", "memory_limit: 4GB\n",
			[]string{"PATH:1:", `unknown key "memory_limit"`, `did you mean "query.memory_limit"`}},
		{"unknown key without suggestion", "color: blue\n",
			[]string{"PATH:1:", `unknown key "color"`, "known keys are data_dir"}},
		{"unknown section", "frobnicator:\n  x: 1\n",
			[]string{`unknown key "frobnicator"`}},
		{"syntax error", "log:\n  level: info\n bad: [\n",
			[]string{"PATH:", "did not find expected"}},
		{"tab indentation", "log:\n\tlevel: info\n",
			[]string{"PATH:2:"}},
		{"bad value names file and line", "log:\n  format: xml\n",
			[]string{`log.format: "xml" is not allowed; use one of text, json`, "(from PATH:2)"}},
		{"section given a value", "query: fast\n",
			[]string{"PATH:1:", "query is a section", "memory_limit, threads, timeout"}},
		{"setting given a mapping", "data_dir:\n  path: x\n",
			[]string{"PATH:1:", "data_dir takes a single value"}},
		{"set twice", "query:\n  threads: 2\nquery.threads: 3\n",
			[]string{"PATH:3:", "query.threads is already set on line 2"}},
		{"top level not a mapping", "- a\n- b\n",
			[]string{"PATH:1:", "expected a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "edp.yaml", tt.content)
			_, err := Load(path, nil, nil)
			if err == nil {
				t.Fatalf("Load(%q) with %q = nil error, want an error", path, tt.content)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "PATH", path)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%q) = %v, want it to contain %q", path, err, w)
				}
			}
		})
	}
}

func TestFileForms(t *testing.T) {
	tests := []struct {
		name    string
		content string
		key     string
		want    string
	}{
		{"empty file", "", "log.level", "info"},
		{"comments only", "# nothing here\n", "log.level", "info"},
		{"nested", "query:\n  threads: 6\n", "query.threads", "6"},
		{"dotted", "query.threads: 6\n", "query.threads", "6"},
		{"quoted number", "query:\n  threads: \"6\"\n", "query.threads", "6"},
		{"null value means unset", "log:\n  level:\n", "log.level", "info"},
		{"empty section", "load:\n", "load.bad_rows", "fail"},
		{"size with space", "load:\n  target_file_size: 2 GB\n", "load.target_file_size", "2GB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "edp.yaml", tt.content)
			c, err := Load(path, nil, nil)
			if err != nil {
				t.Fatalf("Load(%q) with %q = %v, want nil error", path, tt.content, err)
			}
			if got, _ := c.Value(tt.key); got != tt.want {
				t.Errorf("Load(%q) with %q: %s = %q, want %q", path, tt.content, tt.key, got, tt.want)
			}
			if c.File != path {
				t.Errorf("Load(%q).File = %q, want %q", path, c.File, path)
			}
		})
	}
}

func TestFileSelection(t *testing.T) {
	explicit := writeFile(t, "explicit.yaml", "output: csv\n")
	fromEnv := writeFile(t, "env.yaml", "output: json\n")
	fromFlag := writeFile(t, "flag.yaml", "output: table\n")
	cwd := t.TempDir()
	if err := os.WriteFile(filepath.Join(cwd, DefaultFile), []byte("output: parquet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)

	tests := []struct {
		name     string
		file     string
		environ  []string
		args     []string
		want     string
		wantFile string
	}{
		{"implicit edp.yaml", "", nil, nil, "parquet", DefaultFile},
		{"EDP_CONFIG beats edp.yaml", "", []string{"EDP_CONFIG=" + fromEnv}, nil, "json", fromEnv},
		{"--config beats EDP_CONFIG", "", []string{"EDP_CONFIG=" + fromEnv}, []string{"--config", fromFlag}, "table", fromFlag},
		{"argument beats --config", explicit, []string{"EDP_CONFIG=" + fromEnv}, []string{"--config", fromFlag}, "csv", explicit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.file, tt.environ, newFlags(t, tt.args...))
			if err != nil {
				t.Fatalf("Load(%q, %q, %q) = %v, want nil error", tt.file, tt.environ, tt.args, err)
			}
			if c.Output != tt.want || c.File != tt.wantFile {
				t.Errorf("Load(%q, %q, %q) = output %q from %q, want %q from %q",
					tt.file, tt.environ, tt.args, c.Output, c.File, tt.want, tt.wantFile)
			}
		})
	}

	t.Run("missing explicit file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		tests := []struct {
			file    string
			environ []string
			args    []string
			origin  string
		}{
			{missing, nil, nil, "given"},
			{"", []string{"EDP_CONFIG=" + missing}, nil, "EDP_CONFIG"},
			{"", nil, []string{"--config=" + missing}, "--config"},
		}
		for _, tt := range tests {
			_, err := Load(tt.file, tt.environ, newFlags(t, tt.args...))
			if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), tt.origin) {
				t.Errorf("Load(%q, %q, %q) = %v, want an error naming %s and %s", tt.file, tt.environ, tt.args, err, missing, tt.origin)
			}
		}
	})

	t.Run("missing implicit file", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, err := Load("", nil, nil)
		if err != nil || c.File != "" {
			t.Errorf("Load() = %v, File %q, want defaults and no file", err, c.File)
		}
	})
}

func TestUnknownEnvIgnored(t *testing.T) {
	environ := []string{"EDP_QUERY_MEMROY_LIMIT=4GB", "EDP_ADMIN_PASSWORD=secret", "EDP_CONFIG=", "PATH=/bin", "NOEQUALS"}
	t.Chdir(t.TempDir())
	c, err := Load("", environ, nil)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want nil error", environ, err)
	}
	if c.Query.MemoryLimit != "" {
		t.Errorf("Load(%q).Query.MemoryLimit = %q, want empty", environ, c.Query.MemoryLimit)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"100B", 100, ""},
		{"1KB", 1000, ""},
		{"1KiB", 1024, ""},
		{"512MB", 512_000_000, ""},
		{"512MiB", 512 << 20, ""},
		{"4GB", 4_000_000_000, ""},
		{"4gb", 4_000_000_000, ""},
		{"1.5GiB", 1610612736, ""},
		{"1.5 GB", 1_500_000_000, ""},
		{" 2TB ", 2_000_000_000_000, ""},
		{"1TiB", 1 << 40, ""},
		{".5KB", 500, ""},
		{"", 0, "is empty"},
		{"GB", 0, "is not a size"},
		{"1.2.3MB", 0, "is not a size"},
		{"4G", 0, `unknown unit "G"`},
		{"4 bytes", 0, "unknown unit"},
		{"-1MB", 0, "is negative"},
		{"1.5", 0, "whole number of bytes"},
		{"1e3", 0, "unknown unit"},
		{"9999999TB", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
		{"99999999999.5TiB", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseSize(%q) = %d, %v, want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v, want %d, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatSizeRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 999, 1000, 1024, 1536, 512_000_000, 512 << 20, 3 << 40, 1e12} {
		s := formatSize(n)
		if got, err := ParseSize(s); err != nil || got != n {
			t.Errorf("ParseSize(formatSize(%d) = %q) = %d, %v, want %d", n, s, got, err, n)
		}
	}
}

func TestShow(t *testing.T) {
	file := writeFile(t, "edp.yaml", "log:\n  level: debug\n")
	environ := []string{"EDP_QUERY_THREADS=4"}
	c, err := Load(file, environ, newFlags(t, "--output=csv", "--data-dir=rel/data"))
	if err != nil {
		t.Fatalf("Load(...) = %v", err)
	}
	var b strings.Builder
	if err := c.Show(&b); err != nil {
		t.Fatalf("Show() = %v", err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(Settings()) {
		t.Fatalf("Show() printed %d lines, want %d:\n%s", len(lines), len(Settings()), out)
	}

	wantSource := map[string]string{
		"log.level":     "file " + file,
		"query.threads": "env EDP_QUERY_THREADS",
		"output":        "flag --output",
		"data_dir":      "flag --data-dir",
	}
	col := strings.Index(lines[0], "#")
	for i, s := range Settings() {
		line := lines[i]
		if !strings.HasPrefix(line, s.Key+": ") {
			t.Errorf("Show() line %d = %q, want key %s", i, line, s.Key)
		}
		src := wantSource[s.Key]
		if src == "" {
			src = "default"
		}
		if !strings.HasSuffix(line, "# "+src) {
			t.Errorf("Show() line for %s = %q, want source %q", s.Key, line, src)
		}
		if strings.Index(line, "#") != col {
			t.Errorf("Show() comments not aligned:\n%s", out)
		}
	}
	if !regexp.MustCompile(`(?m)^catalog\.uri: +"" `).MatchString(out) {
		t.Errorf("Show() =\n%s\nwant catalog.uri shown empty", out)
	}
	for _, want := range []string{" rel/data ", " debug ", " 0s ", " 512MB "} {
		if !strings.Contains(out, want) {
			t.Errorf("Show() =\n%s\nwant it to contain %q", out, want)
		}
	}

	// Show's output is a valid config file that reproduces the values.
	again, err := Load(writeFile(t, "shown.yaml", out), nil, nil)
	if err != nil {
		t.Fatalf("Load(Show output) = %v\n%s", err, out)
	}
	for _, s := range Settings() {
		a, _ := c.Value(s.Key)
		b, _ := again.Value(s.Key)
		if a != b {
			t.Errorf("Load(Show output) %s = %q, want %q", s.Key, b, a)
		}
	}
}

func TestResolvedPaths(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	cwd, _ = os.Getwd() // resolve symlinks the way Abs will see the directory
	home, _ := os.UserHomeDir()

	tests := []struct {
		name          string
		dataDir       string
		catalog       string
		warehouse     string
		wantCatalog   string
		wantWarehouse string
	}{
		{"defaults", "./edp-data", "", "",
			"sqlite://" + filepath.ToSlash(filepath.Join(cwd, "edp-data", "catalog.db")),
			filepath.Join(cwd, "edp-data", "warehouse")},
		{"absolute data dir", "/srv/edp", "", "",
			"sqlite:///srv/edp/catalog.db", "/srv/edp/warehouse"},
		{"relative sqlite", "/srv/edp", "sqlite://meta/cat.db?mode=rwc", "wh",
			"sqlite://" + filepath.ToSlash(filepath.Join(cwd, "meta", "cat.db")) + "?mode=rwc",
			filepath.Join(cwd, "wh")},
		{"absolute sqlite and file uri", "/srv/edp", "sqlite:///var/cat.db", "file:///data/wh",
			"sqlite:///var/cat.db", "/data/wh"},
		{"postgres unchanged", "/srv/edp", "postgres://u:p@h:5432/db", "file://localhost/data/wh",
			"postgres://u:p@h:5432/db", "/data/wh"},
		{"home expansion", "~/edp", "", "",
			"sqlite://" + filepath.ToSlash(filepath.Join(home, "edp", "catalog.db")),
			filepath.Join(home, "edp", "warehouse")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.DataDir, c.Catalog.URI, c.Warehouse = tt.dataDir, tt.catalog, tt.warehouse
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := c.CatalogURI(); got != tt.wantCatalog {
				t.Errorf("CatalogURI() = %q, want %q", got, tt.wantCatalog)
			}
			got, err := c.WarehousePath()
			if err != nil || got != tt.wantWarehouse {
				t.Errorf("WarehousePath() = %q, %v, want %q, nil", got, err, tt.wantWarehouse)
			}
			if c.DataDir != tt.dataDir {
				t.Errorf("DataDir = %q after resolving, want it unchanged (%q)", c.DataDir, tt.dataDir)
			}
		})
	}

	t.Run("s3 warehouse", func(t *testing.T) {
		c := Default()
		c.Warehouse = "s3://bucket/prefix"
		if _, err := c.WarehousePath(); err == nil {
			t.Errorf("WarehousePath() with %q = nil error, want not local", c.Warehouse)
		}
		if got, err := c.WarehouseURI(); err != nil || got != c.Warehouse {
			t.Errorf("WarehouseURI() = %q, %v, want %q", got, err, c.Warehouse)
		}
		if _, ok := c.CatalogSQLitePath(); !ok {
			t.Errorf("CatalogSQLitePath() ok = false, want true for the default catalog")
		}
	})

	t.Run("local warehouse uri", func(t *testing.T) {
		c := Default()
		c.Warehouse = "/data/my wh"
		if got, err := c.WarehouseURI(); err != nil || got != "file:///data/my%20wh" {
			t.Errorf("WarehouseURI() = %q, %v, want %q", got, err, "file:///data/my%20wh")
		}
	})
}

func TestBind(t *testing.T) {
	fs := pflag.NewFlagSet("edp", pflag.ContinueOnError)
	Bind(fs)
	tests := []struct {
		flag, typ string
	}{
		{"config", "string"},
		{"data-dir", "string"},
		{"catalog-uri", "string"},
		{"warehouse", "string"},
		{"s3-endpoint", "string"},
		{"s3-region", "string"},
		{"s3-addressing", "string"},
		{"s3-access-key-id", "string"},
		{"s3-secret-access-key", "string"},
		{"s3-session-token", "string"},
		{"s3-profile", "string"},
		{"s3-sse", "string"},
		{"s3-sse-kms-key-id", "string"},
		{"iceberg-vend-credentials", "bool"},
		{"cache-max-size", "string"},
		{"log-level", "string"},
		{"log-format", "string"},
		{"query-memory-limit", "string"},
		{"query-threads", "int"},
		{"query-timeout", "duration"},
		{"load-bad-rows", "string"},
		{"load-target-file-size", "string"},
		{"query-max-rows", "int"},
		{"output", "string"},
		{"listen", "string"},
		{"tls-cert", "string"},
		{"tls-key", "string"},
		{"tls-self-signed", "bool"},
		{"shutdown-timeout", "duration"},
		{"api-max-upload", "string"},
		{"auth-token-ttl", "duration"},
		{"auth-key-rotation", "duration"},
		{"oidc-issuer", "string"},
		{"oidc-audience", "string"},
		{"oidc-username-claim", "string"},
		{"oidc-roles-claim", "string"},
		{"oidc-role-map", "string"},
		{"maintain-interval", "duration"},
		{"otlp-endpoint", "string"},
		{"kafka-brokers", "string"},
		{"kafka-sasl-mechanism", "string"},
		{"kafka-sasl-user", "string"},
		{"kafka-sasl-password", "string"},
		{"kafka-tls", "bool"},
		{"kafka-tls-ca", "string"},
		{"kafka-schema-registry", "string"},
		{"stream-interval", "duration"},
		{"server", "string"},
		{"token", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			f := fs.Lookup(tt.flag)
			if f == nil {
				t.Fatalf("Lookup(%q) = nil, want a flag", tt.flag)
			}
			if got := f.Value.Type(); got != tt.typ {
				t.Errorf("--%s type = %s, want %s", tt.flag, got, tt.typ)
			}
			if f.Usage == "" {
				t.Errorf("--%s has no usage", tt.flag)
			}
		})
	}
	if got := fs.Lookup("log-level").Usage; !strings.Contains(got, "debug|info|warn|error") {
		t.Errorf("--log-level usage = %q, want the allowed values", got)
	}
	if len(tests)-1 != len(Settings()) {
		t.Errorf("len(Settings()) = %d, want %d", len(Settings()), len(tests)-1)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ key, env, flag string }{
		{"data_dir", "EDP_DATA_DIR", "data-dir"},
		{"query.memory_limit", "EDP_QUERY_MEMORY_LIMIT", "query-memory-limit"},
		{"load.target_file_size", "EDP_LOAD_TARGET_FILE_SIZE", "load-target-file-size"},
		{"output", "EDP_OUTPUT", "output"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := envName(tt.key); got != tt.env {
				t.Errorf("envName(%q) = %q, want %q", tt.key, got, tt.env)
			}
			if got := flagName(tt.key); got != tt.flag {
				t.Errorf("flagName(%q) = %q, want %q", tt.key, got, tt.flag)
			}
		})
	}
}

func TestSuggestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"query.memroy_limit", "query.memory_limit"},
		{"datadir", "data_dir"},
		{"log.lvl", "log.level"},
		{"timeout", "query.timeout"},
		{"bad_rows", "load.bad_rows"},
		{"Output", "output"},
		{"color", ""},
		{"zzzzzzzzzzzz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := suggestKey(tt.in); got != tt.want {
				t.Errorf("suggestKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestShowHidesSecrets(t *testing.T) {
	c, err := Load("", []string{"EDP_TOKEN=edp_supersecretvalue"}, newFlags(t))
	if err != nil {
		t.Fatalf("Load(...) = %v", err)
	}
	var b strings.Builder
	if err := c.Show(&b); err != nil {
		t.Fatalf("Show() = %v", err)
	}
	if strings.Contains(b.String(), "supersecret") {
		t.Errorf("Show() printed the token:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "token:") || !strings.Contains(b.String(), "(set)") {
		t.Errorf("Show() = %s, want a token line saying it is set", b.String())
	}
}

func TestParseRoleMap(t *testing.T) {
	got, err := ParseRoleMap(" data-admins=admin, analysts = reader ,")
	want := map[string]string{"data-admins": "admin", "analysts": "reader"}
	if err != nil || len(got) != len(want) || got["data-admins"] != "admin" || got["analysts"] != "reader" {
		t.Errorf("ParseRoleMap(...) = %v, %v, want %v", got, err, want)
	}
	for _, bad := range []string{"analysts", "=admin", "analysts=root"} {
		if _, err := ParseRoleMap(bad); err == nil {
			t.Errorf("ParseRoleMap(%q) = nil error, want one", bad)
		}
	}
}

// TestCatalogPasswordHidden pins that a PostgreSQL password in catalog.uri
// is never printed: not by config show, not in a validation error.
func TestCatalogPasswordHidden(t *testing.T) {
	c, err := Load("", []string{"EDP_CATALOG_URI=postgres://edp:s3cretpw@db.example.com/edp"}, newFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Show(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cretpw") || !strings.Contains(b.String(), "postgres://edp:xxxxx@db.example.com/edp") {
		t.Errorf("Show() = %s, want the catalog URI with its password hidden", b.String())
	}
	for _, bad := range []string{"postgres://edp:s3cretpw@[bad/db", "postgres://db.example.com/edp?password=s3cretpw&x=%zz"} {
		_, err := Load("", []string{"EDP_CATALOG_URI=" + bad}, newFlags(t))
		if err != nil && strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("Load(%q) error shows the password: %v", bad, err)
		}
	}
	if got := RedactURI("postgres://db/edp?password=s3cretpw"); strings.Contains(got, "s3cretpw") {
		t.Errorf("RedactURI(password= parameter) = %q", got)
	}
}
