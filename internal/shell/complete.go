package shell

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/edp-data/edp/internal/render"
)

// keywords are offered by tab completion; a short list of what people type
// most, not DuckDB's whole grammar.
var keywords = strings.Fields(`
	ALL ALTER ANALYZE AND ANTI ANY AS ASC ASOF ATTACH BEGIN BETWEEN BIGINT BLOB
	BOOLEAN BY CASE CAST COLUMN COMMIT COPY COUNT CREATE CROSS CURRENT_DATE
	CURRENT_TIMESTAMP DATE DECIMAL DEFAULT DELETE DESC DESCRIBE DETACH DISTINCT
	DOUBLE DROP ELSE END EXCEPT EXCLUDE EXISTS EXPLAIN FALSE FILTER FIRST FROM
	FULL GROUP HAVING IF ILIKE IN INNER INSERT INTEGER INTERSECT INTERVAL INTO IS
	JOIN LAST LATERAL LEFT LIKE LIMIT MERGE NOT NULL NULLS OFFSET ON OR ORDER
	OUTER OVER PARTITION PIVOT QUALIFY RANGE RECURSIVE RENAME REPLACE RETURNING
	RIGHT ROLLBACK ROWS SCHEMA SELECT SEMI SET SHOW SUMMARIZE TABLE TABLES THEN
	TIMESTAMP TO TRUE UNION UNNEST UNPIVOT UPDATE USE USING VALUES VARCHAR VIEW
	WHEN WHERE WINDOW WITH
`)

// complete is liner's word completer: it completes the word that ends at
// pos and leaves the rest of the line alone.
func (s *shell) complete(line string, pos int) (head string, completions []string, tail string) {
	runes := []rune(line)
	if pos > len(runes) {
		pos = len(runes)
	}
	start := pos
	for start > 0 && wordRune(runes[start-1]) {
		start--
	}
	head, word, tail := string(runes[:start]), string(runes[start:pos]), string(runes[pos:])

	trimmed := strings.TrimLeft(head, " \t")
	switch {
	case trimmed == "" && strings.HasPrefix(word, `\`):
		return head, s.matchCommands(word), tail
	case strings.HasPrefix(trimmed, `\`):
		fields := strings.Fields(trimmed)
		if len(fields) != 1 {
			return head, nil, tail
		}
		switch fields[0] {
		case `\o`, `\format`:
			var names []string
			for _, f := range render.Formats() {
				names = append(names, string(f))
			}
			return head, matchPrefix(names, word, false), tail
		case `\d`:
			return head, matchPrefix(s.completionTables(), word, false), tail
		case `\timing`:
			return head, matchPrefix([]string{"on", "off"}, word, false), tail
		}
		return head, nil, tail
	}
	if word == "" {
		return head, nil, tail
	}
	var out []string
	tables := s.completionTables()
	out = append(out, matchPrefix(tables, word, true)...)
	out = append(out, matchPrefix(namespaces(tables), word, true)...)
	if !strings.Contains(word, ".") {
		// Tables in the default namespace are usually named bare.
		for _, t := range tables {
			if _, name := splitTable(t); len(matchPrefix([]string{name}, word, true)) > 0 {
				out = append(out, name)
			}
		}
	}
	// Keywords come back in the case the user is typing in.
	lower := strings.ToLower(word) == word
	for _, k := range matchPrefix(keywords, word, true) {
		if lower {
			k = strings.ToLower(k)
		}
		out = append(out, k)
	}
	return head, dedupe(out), tail
}

func (s *shell) matchCommands(word string) []string {
	var names []string
	for _, c := range commands {
		for _, n := range c.names {
			if strings.HasPrefix(n, `\`) {
				names = append(names, n)
			}
		}
	}
	return dedupe(matchPrefix(names, word, false))
}

// completionTables asks the executor with a short deadline: a slow catalog
// should cost a missing suggestion, not a frozen prompt.
func (s *shell) completionTables() []string {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	names, err := s.tables(ctx)
	if err != nil {
		return nil
	}
	return names
}

func wordRune(r rune) bool {
	return r == '_' || r == '.' || r == '\\' || r == '?' ||
		r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80
}

func matchPrefix(candidates []string, prefix string, fold bool) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) || fold && len(c) >= len(prefix) && strings.EqualFold(c[:len(prefix)], prefix) {
			out = append(out, c)
		}
	}
	return out
}

func dedupe(in []string) []string {
	slices.Sort(in)
	return slices.Compact(in)
}
