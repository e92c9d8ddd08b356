package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Show writes the effective configuration, one "key: value  # source" line
// per setting with values and comments aligned. Keys are dotted and values
// quoted where YAML needs it, so the output is itself a valid config file.
// Values are shown as configured (a relative data_dir stays relative); the
// resolved forms are available from CatalogURI and WarehousePath.
func (c *Config) Show(w io.Writer) error {
	type line struct{ key, val, src string }
	lines := make([]line, len(registry))
	keyW, valW := 0, 0
	for i, s := range registry {
		val := yamlScalar(s.shown(s.get(c)))
		if s.secret && s.get(c) != "" {
			val = "'(set)'"
		}
		l := line{key: s.key + ":", val: val, src: c.Source(s.key).String()}
		keyW, valW = max(keyW, len(l.key)), max(valW, len(l.val))
		lines[i] = l
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s %-*s  # %s\n", keyW, l.key, valW, l.val, l.src)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// yamlScalar quotes v when a YAML reader would otherwise see something
// other than the same plain string: empty values, comment or mapping
// markers, surrounding space, or words YAML treats as booleans or null.
// Go's quoting is a subset of YAML's double-quoted style, so the result
// reads back unchanged.
func yamlScalar(v string) string {
	if v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, "#:{}[],&*!|>'\"%@`\\\n\t") {
		return strconv.Quote(v)
	}
	switch strings.ToLower(v) {
	case "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n":
		return strconv.Quote(v)
	}
	if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "?") {
		return strconv.Quote(v)
	}
	return v
}
