package query

import (
	"bytes"
	"encoding/json"
)

// jsonString re-encodes a parse tree without HTML escaping, so SQL text
// with <, > and & round-trips unchanged.
func jsonString(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return b.String(), nil
}
