package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
)

// decimal mimics the driver's DECIMAL value: only its String method is
// meant to be relied on.
type decimal struct {
	value *big.Int
	scale int
}

func (d decimal) String() string {
	s := d.value.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= d.scale {
		s = "0" + s
	}
	s = s[:len(s)-d.scale] + "." + s[len(s)-d.scale:]
	if neg {
		s = "-" + s
	}
	return s
}

func dec(s string) decimal {
	whole, frac, _ := strings.Cut(s, ".")
	v, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		panic(s)
	}
	return decimal{value: v, scale: len(frac)}
}

// The driver's own shapes, rebuilt so the tests need no cgo.
type (
	uuidValue      [16]byte
	intervalValue2 struct {
		Days   int32
		Months int32
		Micros int64
	}
	unionValue struct {
		Value any
		Tag   string
	}
	orderedMapValue struct{ keys, values []any }
)

func (u *uuidValue) String() string      { return "uuid:" + fmt.Sprintf("%x", u[:2]) }
func (m *orderedMapValue) Keys() []any   { return m.keys }
func (m *orderedMapValue) Values() []any { return m.values }
func (m orderedMapValue) String() string { return "OrderedMap{...}" }

var (
	ts1   = time.Date(2024, 3, 5, 14, 7, 9, 123456000, time.UTC)
	ts2   = time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	day1  = time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	huge  = new(big.Int).Lsh(big.NewInt(1), 100)
	above = int64(1)<<53 + 1
)

func trickyColumns() []Column {
	return []Column{
		{"id", "BIGINT"},
		{"name", "VARCHAR"},
		{"price", "DECIMAL(10,2)"},
		{"ok", "BOOLEAN"},
		{"ts", "TIMESTAMP"},
		{"d", "DATE"},
		{"big", "HUGEINT"},
		{"f", "DOUBLE"},
	}
}

func trickyData() [][]any {
	return [][]any{
		{int64(1), "plain", dec("12.50"), true, ts1, day1, huge, 1.5},
		{nil, nil, nil, nil, nil, nil, nil, nil},
		{above, "漢字テスト", dec("-0.05"), false, ts2, day1, big.NewInt(-7), math.NaN()},
		{int64(-42), "line1\nline2, \"quoted\"", dec("99999999.99"), true, ts1, day1, big.NewInt(0), math.Inf(-1)},
	}
}

func render(t *testing.T, f Format, rows Rows, opts Options) (string, int64) {
	t.Helper()
	var buf bytes.Buffer
	n, err := Write(&buf, f, rows, opts)
	if err != nil {
		t.Fatalf("Write(%s): %v", f, err)
	}
	return buf.String(), n
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"table", "CSV", " json ", "JsonL", "parquet", "Arrow"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "auto", "xml", "tsv"} {
		_, err := ParseFormat(s)
		if err == nil {
			t.Errorf("ParseFormat(%q) succeeded", s)
			continue
		}
		for _, f := range Formats() {
			if !strings.Contains(err.Error(), string(f)) {
				t.Errorf("error %q does not list %s", err, f)
			}
		}
	}
	if _, err := Write(io.Discard, "xml", SliceRows(nil, nil), Options{}); err == nil {
		t.Error("Write with an unknown format succeeded")
	}
}

func TestTable(t *testing.T) {
	cols := []Column{{"id", "BIGINT"}, {"name", "VARCHAR"}, {"price", "DECIMAL(10,2)"}}
	data := [][]any{
		{int64(1), "alice", dec("3.50")},
		{int64(1000), "漢字", nil},
		{nil, "two\nlines", dec("-12.00")},
	}
	got, n := render(t, Table, SliceRows(cols, data), Options{Footer: true})
	want := `+------+------------+--------+
|   id | name       |  price |
+------+------------+--------+
|    1 | alice      |   3.50 |
| 1000 | 漢字       |   NULL |
| NULL | two\nlines | -12.00 |
+------+------------+--------+
(3 rows)
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if n != 3 {
		t.Errorf("n = %d, want 3", n)
	}
	assertAligned(t, got)
}

func TestTableTrickyValuesAligned(t *testing.T) {
	got, n := render(t, Table, SliceRows(trickyColumns(), trickyData()), Options{Footer: true, NullString: "∅"})
	if n != 4 {
		t.Errorf("n = %d", n)
	}
	assertAligned(t, got)
	for _, want := range []string{
		"2024-03-05 14:07:09.123456", "2024-02-29 ", "1267650600228229401496703205376",
		"9007199254740993", "漢字テスト", `line1\nline2, "quoted"`, " nan ", " -inf ", "99999999.99", "∅",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "(4 rows)\n") {
		t.Errorf("footer missing:\n%s", got)
	}
}

func TestTableFooter(t *testing.T) {
	cols := []Column{{"x", "INTEGER"}}
	got, _ := render(t, Table, SliceRows(cols, [][]any{{int32(1)}}), Options{Footer: true})
	if !strings.HasSuffix(got, "(1 row)\n") {
		t.Errorf("got %q", got)
	}
	got, _ = render(t, Table, SliceRows(cols, nil), Options{Footer: true})
	if got != "+---+\n| x |\n+---+\n+---+\n(0 rows)\n" {
		t.Errorf("got %q", got)
	}
	got, _ = render(t, Table, SliceRows(cols, nil), Options{})
	if strings.Contains(got, "rows") {
		t.Errorf("footer printed without Footer: %q", got)
	}
}

func TestTableTruncates(t *testing.T) {
	cols := []Column{{"s", "VARCHAR"}}
	got, _ := render(t, Table, SliceRows(cols, [][]any{{"abcdefghij"}, {"漢字漢字漢字"}}), Options{MaxColWidth: 5})
	if !strings.Contains(got, "| abcd… |") {
		t.Errorf("not truncated:\n%s", got)
	}
	assertAligned(t, got)

	got, _ = render(t, Table, SliceRows(cols, [][]any{{strings.Repeat("x", 100)}}), Options{MaxColWidth: -1})
	if !strings.Contains(got, strings.Repeat("x", 100)) {
		t.Errorf("negative MaxColWidth still truncated:\n%s", got)
	}
	got, _ = render(t, Table, SliceRows(cols, [][]any{{strings.Repeat("x", 100)}}), Options{})
	if !strings.Contains(got, strings.Repeat("x", DefaultMaxColWidth-1)+"…") {
		t.Errorf("default width not applied:\n%s", got)
	}
}

func TestTableUntypedAlignment(t *testing.T) {
	cols := []Column{{"n", ""}, {"mixed", ""}}
	got, _ := render(t, Table, SliceRows(cols, [][]any{{int64(5), int64(1)}, {int64(123), "x"}}), Options{})
	if !strings.Contains(got, "|   5 | 1     |") {
		t.Errorf("unexpected alignment:\n%s", got)
	}
}

// genRows produces n rows lazily and records how many were pulled.
type genRows struct {
	n, pulled int
	value     func(i int) string
}

func (g *genRows) Columns() []Column { return []Column{{"i", "BIGINT"}, {"s", "VARCHAR"}} }

func (g *genRows) Next() ([]any, error) {
	if g.pulled >= g.n {
		return nil, io.EOF
	}
	g.pulled++
	return []any{int64(g.pulled), g.value(g.pulled)}, nil
}

type firstWrite struct {
	w       bytes.Buffer
	g       *genRows
	atFirst int
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if f.w.Len() == 0 {
		f.atFirst = f.g.pulled
	}
	return f.w.Write(p)
}

func TestTableStreamsAfterLookahead(t *testing.T) {
	g := &genRows{n: TableLookahead + 5000, value: func(i int) string {
		if i > TableLookahead {
			return "much wider than anything seen before"
		}
		return "short"
	}}
	out := &firstWrite{g: g}
	n, err := Write(out, Table, g, Options{Footer: true})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(g.n) {
		t.Errorf("n = %d, want %d", n, g.n)
	}
	if out.atFirst > TableLookahead+1 {
		t.Errorf("first output after %d rows; the table should stop looking ahead at %d", out.atFirst, TableLookahead)
	}
	s := out.w.String()
	assertAligned(t, s)
	if !strings.Contains(s, "| much… |") {
		t.Errorf("late wide rows not truncated to the computed width")
	}
	if !strings.HasSuffix(s, fmt.Sprintf("(%d rows)\n", g.n)) {
		t.Errorf("wrong footer: %q", s[len(s)-30:])
	}
}

// assertAligned checks that every grid line has the same display width.
func assertAligned(t *testing.T, s string) {
	t.Helper()
	width := -1
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "(") {
			continue
		}
		w := runewidth.StringWidth(line)
		if width < 0 {
			width = w
		} else if w != width {
			t.Errorf("line %q is %d wide, want %d", line, w, width)
		}
	}
}

func TestCSV(t *testing.T) {
	got, n := render(t, CSV, SliceRows(trickyColumns(), trickyData()), Options{})
	if n != 4 {
		t.Errorf("n = %d", n)
	}
	recs, err := csv.NewReader(strings.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("output is not valid CSV: %v\n%s", err, got)
	}
	want := [][]string{
		{"id", "name", "price", "ok", "ts", "d", "big", "f"},
		{"1", "plain", "12.50", "true", "2024-03-05 14:07:09.123456", "2024-02-29", "1267650600228229401496703205376", "1.5"},
		{"", "", "", "", "", "", "", ""},
		{"9007199254740993", "漢字テスト", "-0.05", "false", "1999-12-31 23:59:59", "2024-02-29", "-7", "nan"},
		{"-42", "line1\nline2, \"quoted\"", "99999999.99", "true", "2024-03-05 14:07:09.123456", "2024-02-29", "0", "-inf"},
	}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Errorf("got  %q\nwant %q", recs, want)
	}

	got, _ = render(t, CSV, SliceRows([]Column{{"a", "VARCHAR"}}, [][]any{{nil}}), Options{NullString: `\N`})
	if got != "a\n\\N\n" {
		t.Errorf("NullString ignored: %q", got)
	}
}

func TestJSON(t *testing.T) {
	cols := append(trickyColumns(), Column{"tz", "TIMESTAMP WITH TIME ZONE"}, Column{"blob", "BLOB"}, Column{"id", "INTEGER"})
	data := trickyData()
	est := time.FixedZone("EST", -5*3600)
	extra := [][]any{
		{ts1.In(est), []byte{0, 1, 2, 0xff}, int32(7)},
		{nil, nil, nil},
		{ts2, []byte("hi"), int32(8)},
		{ts1, []byte{}, int32(9)},
	}
	for i := range data {
		data[i] = append(data[i], extra[i]...)
	}
	got, n := render(t, JSON, SliceRows(cols, data), Options{})
	if n != 4 {
		t.Errorf("n = %d", n)
	}
	dec := json.NewDecoder(strings.NewReader(got))
	dec.UseNumber()
	var objs []map[string]any
	if err := dec.Decode(&objs); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, got)
	}
	if len(objs) != 4 {
		t.Fatalf("%d objects", len(objs))
	}
	checks := []struct {
		row  int
		key  string
		want any
	}{
		{0, "id", json.Number("1")},
		{0, "price", json.Number("12.50")},
		{0, "ok", true},
		{0, "ts", "2024-03-05T14:07:09.123456Z"},
		{0, "d", "2024-02-29"},
		{0, "big", json.Number("1267650600228229401496703205376")},
		{0, "f", json.Number("1.5")},
		{0, "tz", "2024-03-05T09:07:09.123456-05:00"},
		{0, "blob", "AAEC/w=="},
		{0, "id_1", json.Number("7")},
		{1, "id", nil},
		{1, "name", nil},
		{2, "id", json.Number("9007199254740993")},
		{2, "name", "漢字テスト"},
		{2, "f", nil},
		{3, "name", "line1\nline2, \"quoted\""},
		{3, "f", nil},
		{3, "blob", ""},
	}
	for _, c := range checks {
		if got := objs[c.row][c.key]; got != c.want {
			t.Errorf("row %d %s = %#v, want %#v", c.row, c.key, got, c.want)
		}
	}
	// Keys follow column order, which a map cannot show.
	first := strings.SplitN(got, "\n", 3)[1]
	if !strings.HasPrefix(first, `{"id":1,"name":"plain","price":12.50,`) {
		t.Errorf("key order lost: %s", first)
	}

	got, _ = render(t, JSON, SliceRows(cols, nil), Options{})
	if got != "[]\n" {
		t.Errorf("empty result: %q", got)
	}
}

func TestJSONL(t *testing.T) {
	got, n := render(t, JSONL, SliceRows(trickyColumns(), trickyData()), Options{})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if n != 4 || len(lines) != 4 {
		t.Fatalf("n = %d, %d lines:\n%s", n, len(lines), got)
	}
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid line %s", line)
		}
	}
	if lines[1] != `{"id":null,"name":null,"price":null,"ok":null,"ts":null,"d":null,"big":null,"f":null}` {
		t.Errorf("null row: %s", lines[1])
	}
}

func TestJSONStringEscapes(t *testing.T) {
	s := "a\"b\\c\n\t\x01<>&\u2028é\xff"
	got := string(appendJSONString(nil, s))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
		t.Errorf("round trip %q, want %q", back, want)
	}
	if !strings.Contains(got, "<>&") {
		t.Errorf("HTML characters escaped: %s", got)
	}
}

func TestDriverShapes(t *testing.T) {
	uuid := []byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	cols := []Column{
		{"u", "UUID"}, {"iv", "INTERVAL"}, {"un", "UNION(a INTEGER, b VARCHAR)"},
		{"m", "MAP(VARCHAR, INTEGER)"}, {"l", "VARCHAR[]"}, {"st", "STRUCT(a INTEGER, b VARCHAR)"},
		{"raw", "UUID"}, {"j", "JSON"}, {"dur", ""}, {"gm", "MAP(INTEGER, VARCHAR)"},
	}
	om := orderedMapValue{keys: []any{"z", "a"}, values: []any{int32(1), nil}}
	row := []any{
		uuid,
		intervalValue2{Months: 14, Days: 3, Micros: 3_723_500_000},
		unionValue{Tag: "b", Value: "x"},
		om,
		[]any{"a, b", nil, "it's"},
		map[string]any{"b": "x", "a": int32(1)},
		uuidValue{0xab, 0xcd},
		`{"k": [1, 2]}`,
		90 * time.Second,
		map[any]any{int32(2): "two", int32(1): "one"},
	}
	wantText := []string{
		"550e8400-e29b-41d4-a716-446655440000",
		"1 year 2 months 3 days 01:02:03.5",
		"x",
		"{'z'=1, 'a'=NULL}",
		"['a, b', NULL, 'it''s']",
		"{'a': 1, 'b': 'x'}",
		"uuid:abcd",
		`{"k": [1, 2]}`,
		"1m30s",
		"{1='one', 2='two'}",
	}
	types := parseTypes(cols)
	for i, v := range row {
		if got := text(v, types[i]); got != wantText[i] {
			t.Errorf("text(%s) = %q, want %q", cols[i].Name, got, wantText[i])
		}
	}
	got, _ := render(t, JSONL, SliceRows(cols, [][]any{row}), Options{})
	want := `{"u":"550e8400-e29b-41d4-a716-446655440000","iv":"1 year 2 months 3 days 01:02:03.5","un":"x",` +
		`"m":{"z":1,"a":null},"l":["a, b",null,"it's"],"st":{"a":1,"b":"x"},"raw":"uuid:abcd","j":{"k":[1,2]},` +
		`"dur":"1m30s","gm":{"1":"one","2":"two"}}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestIntervalText(t *testing.T) {
	cases := map[intervalValue]string{
		{}:                         "00:00:00",
		{days: 1}:                  "1 day",
		{months: 12}:               "1 year",
		{months: -1, micros: -1e6}: "-1 month -00:00:01",
		{micros: 36_000_000_000}:   "10:00:00",
		{days: 2, micros: 1}:       "2 days 00:00:00.000001",
	}
	for iv, want := range cases {
		if got := intervalText(iv); got != want {
			t.Errorf("intervalText(%+v) = %q, want %q", iv, got, want)
		}
	}
}

func TestParseType(t *testing.T) {
	cases := map[string]colType{
		"BIGINT":                   {kind: kindInt64},
		"integer":                  {kind: kindInt32},
		"DECIMAL(10,2)":            {kind: kindDecimal, precision: 10, scale: 2},
		"DECIMAL":                  {kind: kindDecimal, precision: 18, scale: 3},
		"NUMERIC(5)":               {kind: kindDecimal, precision: 5},
		"TIMESTAMP WITH TIME ZONE": {kind: kindTimestampTZ},
		"TIMESTAMPTZ":              {kind: kindTimestampTZ},
		"VARCHAR(20)":              {kind: kindVarchar},
		"INTEGER[]":                {kind: kindNested},
		"STRUCT(a INTEGER)":        {kind: kindNested},
		"ENUM('a', 'b')":           {kind: kindOther},
		"MYSTERY":                  {kind: kindOther},
		"":                         {kind: kindUnknown},
	}
	for in, want := range cases {
		if got := parseType(in); got != want {
			t.Errorf("parseType(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestUniqueNames(t *testing.T) {
	got := uniqueNames([]Column{{Name: "a"}, {Name: "a"}, {Name: ""}, {Name: "a_1"}})
	want := []string{"a", "a_2", "column2", "a_1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type failingRows struct {
	Rows
	after int
}

var errBoom = errors.New("boom")

func (f *failingRows) Next() ([]any, error) {
	if f.after == 0 {
		return nil, errBoom
	}
	f.after--
	return f.Rows.Next()
}

func TestErrorsPropagate(t *testing.T) {
	for _, f := range Formats() {
		rows := &failingRows{Rows: SliceRows(trickyColumns(), trickyData()), after: 2}
		_, err := Write(io.Discard, f, rows, Options{})
		if !errors.Is(err, errBoom) {
			t.Errorf("%s: err = %v, want boom", f, err)
		}
		bad := SliceRows([]Column{{"a", "INTEGER"}}, [][]any{{int32(1), int32(2)}})
		if _, err := Write(io.Discard, f, bad, Options{}); err == nil {
			t.Errorf("%s: a row wider than its columns went unnoticed", f)
		}
	}
}

func TestFloatText(t *testing.T) {
	cases := []struct {
		f    float64
		bits int
		want string
	}{
		{6, 64, "6.0"},
		{1.5, 64, "1.5"},
		{-0.25, 64, "-0.25"},
		{1e21, 64, "1e+21"},
		{1e-7, 64, "1e-07"},
		{123456789012, 64, "123456789012.0"},
		{float64(float32(0.1)), 32, "0.1"},
		{math.NaN(), 64, "nan"},
		{math.Inf(1), 64, "inf"},
	}
	for _, c := range cases {
		if got := floatText(c.f, c.bits); got != c.want {
			t.Errorf("floatText(%v, %d) = %q, want %q", c.f, c.bits, got, c.want)
		}
	}
}
