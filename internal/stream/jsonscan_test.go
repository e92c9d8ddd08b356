package stream

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestScanObjectMatchesEncodingJSON checks the hand-written scanner
// against encoding/json: the same members and values for valid objects,
// an error for everything encoding/json refuses as an object.
func TestScanObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { "a" : 1 } `, `{"a":-1.5e3,"b":"x","c":true,"d":false,"e":null}`,
		`{"esc\"aped":"line\nbreak \u00e9 \ud83d\ude00"}`, `{"n":{"x":[1,{"y":"}"}]},"arr":[1,"]",null]}`,
		`{"a":0}`, `{"a":-0.0}`, `{"a":1E+2}`, `{"dup":1,"dup":2}`, `{"u":"ünïcödé"}`,
		// Refused:
		``, `null`, `[1]`, `"s"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
		`{"a":+1}`, `{"a":1e}`, `{"a":tru}`, `{"a":"x}`, `{"a":"\x01"}`, `{"a":1} x`, `{"a":[1,}`, `{'a':1}`,
		`{"a":"\q"}`, "{\"a\":\"\xff\"}", `{"a":{"b":1}`, `{"a":1}{"b":2}`,
	} {
		t.Run(in, func(t *testing.T) {
			var want map[string]any
			d := json.NewDecoder(strings.NewReader(in))
			d.UseNumber()
			wantErr := d.Decode(&want)
			if wantErr == nil && (want == nil || d.More()) {
				wantErr = fmt.Errorf("not an object")
			}
			if !utf8.ValidString(in) {
				// Stricter on purpose: encoding/json replaces invalid
				// UTF-8, DuckDB would refuse it in a VARCHAR.
				wantErr = fmt.Errorf("invalid UTF-8")
			}
			got := map[string]any{}
			err := scanObject([]byte(in), func(k []byte, v any) error {
				if r, ok := v.(rawJSON); ok {
					var x any
					dec := json.NewDecoder(strings.NewReader(string(r)))
					dec.UseNumber()
					if err := dec.Decode(&x); err != nil {
						return err
					}
					v = x
				}
				got[string(k)] = v
				return nil
			})
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("scanObject(%q) error = %v, encoding/json error = %v", in, err, wantErr)
			}
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("scanObject(%q) = %v, want %v", in, got, want)
			}
		})
	}
}
