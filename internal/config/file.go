package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileEntry is one setting found in a config file, or a structural
// problem (unknown key, wrong shape) found in its place. Keeping both in
// one list in file order lets Load report everything wrong with a file in
// one go, in the order a reader would fix it.
type fileEntry struct {
	setting *setting
	raw     string
	line    int
	err     error // if set, the other fields are unused
}

type parsedFile struct {
	entries []fileEntry
}

func (p *parsedFile) fail(err error) {
	p.entries = append(p.entries, fileEntry{err: err})
}

// readFile reads and parses a config file. origin is "" for the implicit
// ./edp.yaml; if that does not exist readFile returns nil, nil.
func readFile(path, origin string) (*parsedFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if origin == "" {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("reading config file: %w", err)
		}
		return nil, fmt.Errorf("reading config file (%s): %w", origin, err)
	}
	return parseFile(path, data)
}

// yamlLineErr matches the "yaml: line N: message" form yaml.v3 uses for
// syntax errors, so they can be reported as PATH:N: message like a
// compiler would.
var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseFile(path string, data []byte) (*parsedFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", path, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}

	p := &parsedFile{}
	// An empty file, or one holding only comments, is a valid way of
	// saying "defaults".
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return p, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return p, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: expected a mapping of settings, like \"log:\\n  level: debug\"", path, root.Line)
	}
	seen := make(map[string]int)
	p.walk(path, "", root, seen)
	return p, nil
}

// walk collects settings from a mapping. Keys may be nested (query:
// {threads: 4}) or dotted (query.threads: 4), or a mix of the two, so
// that the output of Show can be pasted into a file as is.
func (p *parsedFile) walk(path, prefix string, m *yaml.Node, seen map[string]int) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			p.fail(fmt.Errorf("%s:%d: keys must be plain names", path, k.Line))
			continue
		}

		if s, ok := byKey[key]; ok {
			if first, dup := seen[key]; dup {
				p.fail(fmt.Errorf("%s:%d: %s is already set on line %d", path, k.Line, key, first))
				continue
			}
			seen[key] = k.Line
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
				// "key:" with no value reads as "not set here", which is
				// what someone blanking out a line in a file means.
			case v.Kind == yaml.ScalarNode:
				p.entries = append(p.entries, fileEntry{setting: s, raw: v.Value, line: k.Line})
			default:
				p.fail(fmt.Errorf("%s:%d: %s takes a single value, not a list or mapping", path, k.Line, key))
			}
			continue
		}

		if children := sectionKeys(key); len(children) > 0 {
			switch {
			case v.Kind == yaml.MappingNode:
				p.walk(path, key, v, seen)
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
				// An empty section sets nothing.
			default:
				p.fail(fmt.Errorf("%s:%d: %s is a section; put its settings under it: %s",
					path, k.Line, key, strings.Join(children, ", ")))
			}
			continue
		}

		p.fail(unknownKeyError(path, k.Line, key))
	}
}

// sectionKeys returns the keys directly below section (e.g. "query" ->
// memory_limit, threads, timeout), or nil if section is not one.
func sectionKeys(section string) []string {
	var out []string
	for _, s := range registry {
		if rest, ok := strings.CutPrefix(s.key, section+"."); ok {
			child, _, _ := strings.Cut(rest, ".")
			out = append(out, child)
		}
	}
	return out
}

func unknownKeyError(path string, line int, key string) error {
	if s := suggestKey(key); s != "" {
		return fmt.Errorf("%s:%d: unknown key %q; did you mean %q?", path, line, key, s)
	}
	known := make([]string, len(registry))
	for i, s := range registry {
		known[i] = s.key
	}
	return fmt.Errorf("%s:%d: unknown key %q; known keys are %s", path, line, key, strings.Join(known, ", "))
}

// suggestKey returns the known key closest to an unknown one, or "" if
// nothing is close enough to be a plausible typo. A key placed in the
// wrong section (memory_limit at the top level) is matched on its last
// part, which edit distance alone would miss.
func suggestKey(unknown string) string {
	unknown = strings.ToLower(unknown)
	type cand struct {
		key  string
		dist int
	}
	var cands []cand
	leaf := unknown[strings.LastIndex(unknown, ".")+1:]
	for _, s := range registry {
		sLeaf := s.key[strings.LastIndex(s.key, ".")+1:]
		d := editDistance(unknown, s.key)
		if ld := editDistance(leaf, sLeaf); ld < d && ld <= len(sLeaf)/4 {
			// Wrong section but the right (or nearly right) name.
			d = ld + 1
		}
		cands = append(cands, cand{s.key, d})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	best := cands[0]
	if best.dist <= max(2, len(best.key)/4) {
		return best.key
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
