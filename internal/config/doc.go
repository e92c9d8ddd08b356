// Package config defines edp's settings and builds the effective
// configuration from built-in defaults, an optional YAML file, EDP_*
// environment variables and command-line flags, in increasing order of
// precedence.
//
// edp has to run with no configuration at all, so every setting has a
// working default and nothing here requires a file to exist. All settings
// live in one registry keyed by a dotted name such as query.memory_limit;
// the YAML path (query: {memory_limit: ...}), the environment variable
// (EDP_QUERY_MEMORY_LIMIT) and the flag (--query-memory-limit) are derived
// from that key so the four sources can never drift apart.
//
// The cmd packages build a Config with Bind and Load and hand it (or the
// parts they need) to the internal packages, which read it but do not load
// it themselves. To keep that layering acyclic, config imports nothing from
// edp's internal packages.
package config
