package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/render"
)

// fakeExec answers statements by their first word: SELECT returns the
// statement text as a one-row result, FAIL errors, SLOW blocks until
// canceled, anything else reports the upper-cased first two words.
type fakeExec struct {
	mu      sync.Mutex
	stmts   []string
	tables  []string
	started chan struct{}
	closed  int
}

func (f *fakeExec) Exec(ctx context.Context, sql string) (render.Rows, string, error) {
	f.mu.Lock()
	f.stmts = append(f.stmts, sql)
	f.mu.Unlock()
	words := strings.Fields(strings.ToUpper(sql))
	switch words[0] {
	case "SELECT":
		cols := []render.Column{{Name: "sql", Type: "VARCHAR"}}
		return &closingRows{Rows: render.SliceRows(cols, [][]any{{sql}}), f: f}, "", nil
	case "FAIL":
		return nil, "", errors.New("syntax error at FAIL")
	case "SLOW":
		if f.started != nil {
			f.started <- struct{}{}
		}
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	if len(words) > 1 {
		return nil, words[0] + " " + words[1], nil
	}
	return nil, words[0], nil
}

type ctxKey struct{}

func (f *fakeExec) Tables(ctx context.Context) ([]string, error) {
	// Real executors take the caller's identity from the context.
	if ctx.Value(ctxKey{}) == nil {
		return nil, errors.New("no principal in context")
	}
	return f.tables, nil
}

func (f *fakeExec) Describe(_ context.Context, table string) (render.Rows, error) {
	if table != "sales.orders" {
		return nil, fmt.Errorf("table %s does not exist", table)
	}
	cols := []render.Column{{Name: "column_name", Type: "VARCHAR"}, {Name: "column_type", Type: "VARCHAR"}}
	return render.SliceRows(cols, [][]any{{"id", "BIGINT"}, {"amount", "DECIMAL(10,2)"}}), nil
}

func (f *fakeExec) executed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.stmts...)
}

type closingRows struct {
	render.Rows
	f *fakeExec
}

func (c *closingRows) Close() error {
	c.f.mu.Lock()
	c.f.closed++
	c.f.mu.Unlock()
	return nil
}

func newFake() *fakeExec {
	return &fakeExec{tables: []string{"sales.orders", "sales.customers", "ops.events", "a.b.deep"}}
}

func runScript(t *testing.T, ex Executor, script string, format render.Format) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	err = Run(testCtx(), ex, Options{In: strings.NewReader(script), Out: &out, Err: &errw, Format: format})
	return out.String(), errw.String(), err
}

func TestMultiLineStatements(t *testing.T) {
	ex := newFake()
	script := `select 1;
select
  'a;b' as x,
  "weird;name"
from t; create table x (a int);
-- a comment; with a semicolon
select $$ ; $$, /* ; */ 2
;
insert into x values (1), (2);; ;
select 'last' -- no semicolon at the end`
	out, errOut, err := runScript(t, ex, script, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"select 1",
		"select\n  'a;b' as x,\n  \"weird;name\"\nfrom t",
		"create table x (a int)",
		"select $$ ; $$, /* ; */ 2",
		"insert into x values (1), (2)",
		"select 'last'",
	}
	if got := ex.executed(); !reflect.DeepEqual(got, want) {
		t.Errorf("executed\n%q\nwant\n%q", got, want)
	}
	for _, s := range []string{"| select 1 |", "CREATE TABLE\n", "INSERT INTO\n", "(1 row)\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
	if ex.closed != 4 {
		t.Errorf("%d result sets closed, want 4", ex.closed)
	}
}

func TestErrorStopsScript(t *testing.T) {
	ex := newFake()
	out, errOut, err := runScript(t, ex, "create table a (x int);\n\nselect 1;\nfail\n  now;\nselect 2;\n", "")
	if err == nil || !strings.Contains(err.Error(), "line 4: syntax error at FAIL") {
		t.Fatalf("err = %v", err)
	}
	if got := ex.executed(); len(got) != 3 {
		t.Errorf("executed %q; nothing after the failure should run", got)
	}
	if errOut != "" {
		t.Errorf("error printed as well as returned: %q", errOut)
	}
	if !strings.Contains(out, "select 1") {
		t.Errorf("output before the error lost: %q", out)
	}

	ex = newFake()
	_, _, err = runScript(t, ex, "select 1; fail; select 2;\n", "")
	if err == nil || len(ex.executed()) != 2 {
		t.Errorf("err = %v, executed %q", err, ex.executed())
	}

	ex = newFake()
	_, _, err = runScript(t, ex, "select 1;\nfail at end", "")
	if err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("unterminated last statement: err = %v", err)
	}
}

func TestBackslashCommands(t *testing.T) {
	ex := newFake()
	out, _, err := runScript(t, ex, `\d
\dn
\d sales.orders;
\timing
select 1;
\timing off
\?
help
\q
select 'never';
`, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"| sales     | orders    |", "| a.b       | deep      |", // \d
		"| namespace |\n+-----------+\n| a.b       |\n| ops       |\n| sales     |", // \dn
		"| amount      | DECIMAL(10,2) |",                                           // \d sales.orders
		"Timing is on.", "Time: ", "Timing is off.",
		`\timing [on|off]`, "list namespaces",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Count(out, "list namespaces") != 2 {
		t.Errorf("help not printed twice (\\? and help)")
	}
	if got := ex.executed(); !reflect.DeepEqual(got, []string{"select 1"}) {
		t.Errorf("executed %q", got)
	}
}

func TestQuitWords(t *testing.T) {
	for _, word := range []string{`\q`, "quit", "exit", "EXIT;", `\q;`} {
		ex := newFake()
		if _, _, err := runScript(t, ex, word+"\nselect 1;\n", ""); err != nil {
			t.Errorf("%s: %v", word, err)
		}
		if len(ex.executed()) != 0 {
			t.Errorf("%s did not quit", word)
		}
	}
	// Inside a statement, "exit" is just a column name.
	ex := newFake()
	runScript(t, ex, "select\nexit\n;\n", "")
	if got := ex.executed(); !reflect.DeepEqual(got, []string{"select\nexit"}) {
		t.Errorf("executed %q", got)
	}
}

func TestBackslashInsideString(t *testing.T) {
	ex := newFake()
	_, _, err := runScript(t, ex, "select 'a\n\\d\n';\n", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ex.executed(); !reflect.DeepEqual(got, []string{"select 'a\n\\d\n'"}) {
		t.Errorf("executed %q", got)
	}
}

func TestCommandErrors(t *testing.T) {
	for script, want := range map[string]string{
		`\x` + "\n":                  `unknown command \x`,
		`\o xml` + "\n":              "want one of table, csv, json, jsonl, parquet",
		`\d nope.t` + "\n":           "table nope.t does not exist",
		`\timing maybe` + "\n":       `\timing takes on or off`,
		"select 1;\n\\d a b\n":       "line 2: ",
		"select 1;\n\\d a b\nsel;\n": `\d takes one table name`,
	} {
		_, _, err := runScript(t, newFake(), script, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", script, err, want)
		}
	}
}

func TestFormatSwitch(t *testing.T) {
	ex := newFake()
	out, errOut, err := runScript(t, ex, `\o csv
select 1;
\format json
select 'x';
create table t (a int);
\o
\o TABLE
select 2;
`, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "sql\nselect 1\n" + "[\n{\"sql\":\"select 'x'\"}\n]\n" + "Output format is table.\n" +
		"+----------+\n| sql      |\n+----------+\n| select 2 |\n+----------+\n(1 row)\n"
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
	// With a machine-readable format, chatter goes to stderr.
	wantErr := "Output format is csv.\nOutput format is json.\nCREATE TABLE\nOutput format is json.\n"
	if errOut != wantErr {
		t.Errorf("stderr %q, want %q", errOut, wantErr)
	}
}

func TestStartFormat(t *testing.T) {
	out, _, err := runScript(t, newFake(), "select 1;\n", render.JSONL)
	if err != nil || out != "{\"sql\":\"select 1\"}\n" {
		t.Errorf("out %q, err %v", out, err)
	}
}

func TestParquetSingleResult(t *testing.T) {
	out, _, err := runScript(t, newFake(), "select 1;\n", render.Parquet)
	if err != nil || !strings.HasPrefix(out, "PAR1") {
		t.Fatalf("err %v", err)
	}
	_, _, err = runScript(t, newFake(), "select 1;\nselect 2;\n", render.Parquet)
	if err == nil || !strings.Contains(err.Error(), "single result set") {
		t.Errorf("second parquet result: err = %v", err)
	}
	err = Run(context.Background(), newFake(), Options{Interactive: true, Format: render.Parquet, Out: io.Discard, Err: io.Discard})
	if !errors.Is(err, errBinaryTerminal) {
		t.Errorf("interactive parquet: err = %v", err)
	}
}

// scriptReader feeds lines as a terminal would, including Ctrl-C.
type scriptReader struct {
	lines   []string
	prompts []string
	history []string
}

const ctrlC = "\x03"

func (r *scriptReader) readLine(prompt string) (string, error) {
	r.prompts = append(r.prompts, prompt)
	if len(r.lines) == 0 {
		return "", io.EOF
	}
	line := r.lines[0]
	r.lines = r.lines[1:]
	if line == ctrlC {
		return "", errInterrupted
	}
	return line, nil
}

func (r *scriptReader) addHistory(e string) { r.history = append(r.history, e) }
func (r *scriptReader) close() error        { return nil }

func testCtx() context.Context {
	return context.WithValue(context.Background(), ctxKey{}, "tester")
}

func interactiveShell(ex Executor) (*shell, *bytes.Buffer, *bytes.Buffer) {
	var out, errw bytes.Buffer
	s := newShell(ex, Options{Out: &out, Err: &errw, Interactive: true})
	s.ctx = testCtx()
	return s, &out, &errw
}

func TestInteractiveSession(t *testing.T) {
	ex := newFake()
	s, out, errw := interactiveShell(ex)
	in := &scriptReader{lines: []string{
		"select 1;",
		"fail;",
		"select",
		"  2",
		ctrlC,
		"select 3; fail; select 4;",
		`\o nope`,
		`\o parquet`,
		"select",
		"  5;",
		`\d`,
	}}
	if err := s.run(testCtx(), in); err != nil {
		t.Fatal(err)
	}
	if got, want := ex.executed(), []string{"select 1", "fail", "select 3", "fail", "select 4", "select\n  5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("executed %q, want %q", got, want)
	}
	if n := strings.Count(errw.String(), "Error: "); n != 4 {
		t.Errorf("%d errors reported, want 4:\n%s", n, errw)
	}
	if !strings.Contains(errw.String(), "Error: parquet and arrow output are binary") {
		t.Errorf("parquet not refused:\n%s", errw)
	}
	wantPrompts := []string{"edp> ", "edp> ", "edp> ", "  -> ", "  -> ", "edp> ", "edp> ", "edp> ", "edp> ", "  -> ", "edp> ", "edp> "}
	if !reflect.DeepEqual(in.prompts, wantPrompts) {
		t.Errorf("prompts %q, want %q", in.prompts, wantPrompts)
	}
	wantHistory := []string{"select 1;", "fail;", "select 3; fail; select 4;", `\o nope`, `\o parquet`, "select 5;", `\d`}
	if !reflect.DeepEqual(in.history, wantHistory) {
		t.Errorf("history %q, want %q", in.history, wantHistory)
	}
	if !strings.Contains(out.String(), "| select 4 |") || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestCtrlCCancelsStatement(t *testing.T) {
	ex := newFake()
	ex.started = make(chan struct{})
	s, _, errw := interactiveShell(ex)
	s.sigs = make(chan os.Signal, 1)
	go func() {
		<-ex.started
		s.sigs <- os.Interrupt
	}()
	in := &scriptReader{lines: []string{"slow; select 'skipped';", "select 'after';"}}
	done := make(chan error)
	go func() { done <- s.run(testCtx(), in) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-C did not cancel the statement")
	}
	if !strings.Contains(errw.String(), "Error: query canceled") {
		t.Errorf("stderr: %q", errw)
	}
	if got, want := ex.executed(), []string{"slow", "select 'after'"}; !reflect.DeepEqual(got, want) {
		t.Errorf("executed %q, want %q", got, want)
	}
}

func TestStaleInterruptIgnored(t *testing.T) {
	ex := newFake()
	s, _, errw := interactiveShell(ex)
	s.sigs = make(chan os.Signal, 1)
	s.sigs <- os.Interrupt
	if err := s.run(testCtx(), &scriptReader{lines: []string{"select 1;"}}); err != nil {
		t.Fatal(err)
	}
	if errw.Len() != 0 {
		t.Errorf("a signal from before the statement canceled it: %q", errw)
	}
}

func TestContextCancelEndsRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, newFake(), Options{In: strings.NewReader("select 1;\n"), Out: io.Discard, Err: io.Discard})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestCompletion(t *testing.T) {
	s, _, _ := interactiveShell(newFake())
	cases := []struct {
		line string
		pos  int
		head string
		want []string
		tail string
	}{
		{"sel", 3, "", []string{"select"}, ""},
		{"SEL", 3, "", []string{"SELECT"}, ""},
		{"select * from sales.o", 21, "select * from ", []string{"sales.orders"}, ""},
		{"select * from sa where", 16, "select * from ", []string{"sales", "sales.customers", "sales.orders"}, " where"},
		{"select * from ord", 17, "select * from ", []string{"order", "orders"}, ""},
		{"select * from ", 14, "select * from ", nil, ""},
		{`\ti`, 3, "", []string{`\timing`}, ""},
		{`\d`, 2, "", []string{`\d`, `\dn`}, ""},
		{`\o js`, 5, `\o `, []string{"json", "jsonl"}, ""},
		{`\d o`, 4, `\d `, []string{"ops.events"}, ""},
		{"select 漢字 fr", 12, "select 漢字 ", []string{"from"}, ""},
	}
	for _, c := range cases {
		head, got, tail := s.complete(c.line, c.pos)
		if head != c.head || tail != c.tail || !reflect.DeepEqual(got, c.want) {
			t.Errorf("complete(%q, %d) = %q, %q, %q; want %q, %q, %q", c.line, c.pos, head, got, tail, c.head, c.want, c.tail)
		}
	}
}

func TestTablesCachedUntilNextStatement(t *testing.T) {
	ex := &countingTables{fakeExec: newFake()}
	s, _, _ := interactiveShell(ex)
	s.complete("sa", 2)
	s.complete("sa", 2)
	if ex.calls != 1 {
		t.Errorf("%d Tables calls, want 1", ex.calls)
	}
	s.run(testCtx(), &scriptReader{lines: []string{"create table x (a int);"}})
	s.complete("sa", 2)
	if ex.calls != 2 {
		t.Errorf("%d Tables calls after a statement, want 2", ex.calls)
	}
}

type countingTables struct {
	*fakeExec
	calls int
}

func (c *countingTables) Tables(ctx context.Context) ([]string, error) {
	c.calls++
	return c.fakeExec.Tables(ctx)
}

func TestOpenCommentSpansLines(t *testing.T) {
	ex := newFake()
	if _, _, err := runScript(t, ex, "/* start\n; still a comment */ select 1;\n", ""); err != nil {
		t.Fatal(err)
	}
	if got := ex.executed(); !reflect.DeepEqual(got, []string{"select 1"}) {
		t.Errorf("executed %q", got)
	}
}

// A long generated INSERT must not make the shell rescan its buffer on
// every line.
func TestLongStatementIsLinear(t *testing.T) {
	const lines = 200_000
	var b strings.Builder
	b.WriteString("insert into t values\n")
	for i := range lines {
		fmt.Fprintf(&b, "  (%d, 'row; %d'),\n", i, i)
	}
	b.WriteString("  (0, 'end');\nselect 1;\n")
	ex := newFake()
	start := time.Now()
	if _, _, err := runScript(t, ex, b.String(), ""); err != nil {
		t.Fatal(err)
	}
	if got := ex.executed(); len(got) != 2 || strings.Count(got[0], "\n") != lines+1 {
		t.Fatalf("executed %d statements", len(got))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
