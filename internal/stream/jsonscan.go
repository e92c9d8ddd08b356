package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// rawJSON is a nested object or array, kept as its JSON text.
type rawJSON []byte

// scanObject reads one JSON object with a hand-written scanner and calls
// fn for each member with the key and a value: string, json.Number,
// bool, nil, or rawJSON for nested objects and arrays. It exists because
// encoding/json's map decoding was most of a stream batch's CPU (about
// 3 µs of 4 per 100-byte record, profiled); this allocates only the
// strings it returns. Escaped strings and nested values are checked and
// decoded by encoding/json, which keeps the exotic cases exact.
func scanObject(b []byte, fn func(key []byte, v any) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errors.New("not a JSON object: expected a member name")
		}
		key, next, escaped, err := scanString(b, i)
		if err != nil {
			return err
		}
		if escaped {
			var k string
			if err := json.Unmarshal(b[i:next], &k); err != nil {
				return fmt.Errorf("not a JSON object: %v", err)
			}
			key = []byte(k)
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return errors.New("not a JSON object: expected ':'")
		}
		i = skipSpace(b, i+1)
		v, next, err := scanValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(key, v); err != nil {
			return err
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return errors.New("not a JSON object: unexpected end")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return trailing(b, i+1)
		default:
			return errors.New("not a JSON object: expected ',' or '}'")
		}
	}
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errors.New("not a JSON object: data after the object")
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the contents of the string starting at b[i] (the
// quote), the index after it, and whether it held escapes.
func scanString(b []byte, i int) (s []byte, next int, escaped bool, err error) {
	j := i + 1
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			if !escaped && !utf8.Valid(b[i+1:j]) {
				return nil, 0, false, errors.New("not a JSON object: invalid UTF-8 in a string")
			}
			return b[i+1 : j], j + 1, escaped, nil
		case c == '\\':
			escaped = true
			j += 2
			continue
		case c < 0x20:
			return nil, 0, false, errors.New("not a JSON object: control character in a string")
		}
		j++
	}
	return nil, 0, false, errors.New("not a JSON object: unterminated string")
}

func scanValue(b []byte, i int) (any, int, error) {
	if i >= len(b) {
		return nil, 0, errors.New("not a JSON object: missing value")
	}
	switch c := b[i]; {
	case c == '"':
		s, next, escaped, err := scanString(b, i)
		if err != nil {
			return nil, 0, err
		}
		if escaped {
			var v string
			if err := json.Unmarshal(b[i:next], &v); err != nil {
				return nil, 0, fmt.Errorf("not a JSON object: %v", err)
			}
			return v, next, nil
		}
		return string(s), next, nil
	case c == '{' || c == '[':
		end, err := nestedEnd(b, i)
		if err != nil {
			return nil, 0, err
		}
		if !json.Valid(b[i:end]) {
			return nil, 0, errors.New("not a JSON object: invalid nested value")
		}
		return rawJSON(b[i:end]), end, nil
	case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, nil
	case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, nil
	case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
		return nil, i + 4, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
			j++
		}
		n := json.Number(b[i:j])
		if !validNumber(b[i:j]) {
			return nil, 0, fmt.Errorf("not a JSON object: invalid number %q", b[i:j])
		}
		return n, j, nil
	}
	return nil, 0, fmt.Errorf("not a JSON object: unexpected %q", b[i])
}

// nestedEnd finds the end of the object or array starting at b[i],
// skipping strings.
func nestedEnd(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			_, next, _, err := scanString(b, j)
			if err != nil {
				return 0, err
			}
			j = next - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, errors.New("not a JSON object: unterminated nested value")
}

// validNumber checks JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
