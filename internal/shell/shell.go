package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/render"
)

// Executor is what the shell runs statements against.
type Executor interface {
	// Exec runs one statement and returns its rows (nil Rows for statements
	// without a result, with a message like "CREATE TABLE" or "INSERT 3").
	Exec(ctx context.Context, sql string) (render.Rows, string, error)
	// Tables lists "namespace.table" names for \d and for tab completion.
	Tables(ctx context.Context) ([]string, error)
	// Describe returns the rows \d ns.t prints.
	Describe(ctx context.Context, table string) (render.Rows, error)
}

// Options configures Run. Zero values get the defaults noted per field.
type Options struct {
	In       io.Reader // statements when not interactive; default os.Stdin
	Out, Err io.Writer // default os.Stdout and os.Stderr
	// HistoryFile keeps line-editing history between sessions when
	// interactive; empty disables it.
	HistoryFile string
	Prompt      string        // default "edp> "
	Format      render.Format // default render.Table
	// Interactive turns on the prompt, line editing, history and Ctrl-C
	// handling, reading from the terminal on standard input. When false,
	// statements come from In and the first error ends Run.
	Interactive bool
}

const (
	defaultPrompt      = "edp> "
	continuationPrompt = "  -> "
)

// errQuit ends the read loop without being an error.
var errQuit = errors.New("quit")

// errCanceled replaces context.Canceled when Ctrl-C stopped a statement, so
// the message says what happened rather than how.
var errCanceled = errors.New("query canceled")

// Run reads statements and backslash commands until \q, end of input, or ctx
// is done. Interactive sessions report errors and carry on; otherwise the
// first failing statement's error is returned, prefixed with its line
// number, and is not printed.
//
// When interactive, Run handles SIGINT itself for as long as it runs: Ctrl-C
// cancels the running statement or clears the half-typed one instead of
// ending the process. For the same reason an interactive Run ignores the
// cancellation of ctx (keeping its values): programs usually cancel their
// root context on SIGINT, and the first Ctrl-C would otherwise end the
// session. It ends on \q, quit, exit or Ctrl-D.
func Run(ctx context.Context, ex Executor, opts Options) error {
	s := newShell(ex, opts)
	if s.interactive && binaryFormat(s.format) {
		return errBinaryTerminal
	}
	if !s.interactive {
		in := opts.In
		if in == nil {
			in = os.Stdin
		}
		return s.run(ctx, newPlainReader(in))
	}
	s.sigs = make(chan os.Signal, 1)
	signal.Notify(s.sigs, os.Interrupt)
	defer signal.Stop(s.sigs)
	return s.run(context.WithoutCancel(ctx), newTerminalReader(s, opts.HistoryFile))
}

func (s *shell) run(ctx context.Context, in lineReader) error {
	s.ctx = ctx
	s.in = in
	defer in.close()
	err := s.loop(ctx)
	if errors.Is(err, errQuit) {
		return nil
	}
	return err
}

var errBinaryTerminal = errors.New("parquet and arrow output are binary and not for a terminal; write them to a file from a non-interactive run")

// binaryFormat reports formats that are one binary document per output:
// not for a terminal, and unable to hold a second result set.
func binaryFormat(f render.Format) bool { return f == render.Parquet || f == render.Arrow }

type shell struct {
	// ctx is Run's context, kept for tab completion, which liner calls
	// without one; executors may need its values, such as the caller's
	// identity.
	ctx         context.Context
	ex          Executor
	out, errw   io.Writer
	prompt      string
	format      render.Format
	timing      bool
	interactive bool
	in          lineReader
	sigs        chan os.Signal

	pending     strings.Builder // text of the statement being typed
	scan        scanner         // state at the end of pending
	scanned     int             // bytes of pending the scanner has seen
	pendingLine int             // input line number where pending starts
	lineNo      int
	histLines   []string
	results     int // result sets written, to keep parquet output a single file

	tablesMu    sync.Mutex
	tablesCache []string
	tablesValid bool
}

func newShell(ex Executor, opts Options) *shell {
	s := &shell{
		ex:          ex,
		out:         opts.Out,
		errw:        opts.Err,
		prompt:      opts.Prompt,
		format:      opts.Format,
		interactive: opts.Interactive,
		ctx:         context.Background(),
	}
	if s.out == nil {
		s.out = os.Stdout
	}
	if s.errw == nil {
		s.errw = os.Stderr
	}
	if s.prompt == "" {
		s.prompt = defaultPrompt
	}
	if s.format == "" {
		s.format = render.Table
	}
	return s
}

func (s *shell) loop(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		prompt := s.prompt
		if s.pending.Len() > 0 {
			prompt = continuationPrompt
		}
		line, err := s.in.readLine(prompt)
		switch {
		case errors.Is(err, errInterrupted):
			s.reset()
			continue
		case errors.Is(err, io.EOF):
			if s.interactive {
				return nil
			}
			return s.finish(ctx)
		case err != nil:
			return err
		}
		s.lineNo++
		if err := s.handleLine(ctx, line); err != nil {
			if errors.Is(err, errQuit) || !s.interactive {
				return err
			}
			s.report(err)
		}
	}
}

// handleLine runs a command line or adds line to the pending statement,
// running every statement that completes.
func (s *shell) handleLine(ctx context.Context, line string) error {
	if !s.scan.open() {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, `\`) {
			s.remember(trimmed)
			err := s.command(ctx, trimmed)
			if err != nil && !s.interactive && !errors.Is(err, errQuit) {
				err = fmt.Errorf("line %d: %w", s.lineNo, err)
			}
			return err
		}
		if s.pending.Len() == 0 {
			switch strings.ToLower(strings.TrimRight(trimmed, "; \t")) {
			case "quit", "exit":
				return errQuit
			case "help":
				s.remember(trimmed)
				s.help()
				return nil
			}
		}
	}
	if s.pending.Len() == 0 {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		s.pendingLine = s.lineNo
	}
	s.pending.WriteString(line)
	s.pending.WriteByte('\n')
	if s.interactive {
		s.histLines = append(s.histLines, strings.TrimSpace(line))
	}

	buf := s.pending.String()
	stmts, restAt := s.scan.cut(buf, 0, s.scanned)
	s.scanned = len(buf)
	rest := buf[restAt:]
	// An open block comment is blank so far but must still be finished.
	unfinished := !blank(rest) || s.scan.open()
	if len(stmts) == 0 && unfinished {
		return nil
	}
	startLine := s.pendingLine
	s.pending.Reset()
	if unfinished {
		rest = strings.TrimLeft(rest, " \t\r\n")
		s.pending.WriteString(rest)
		s.scanned = len(rest)
		s.pendingLine = s.lineNo
	} else {
		s.scan, s.scanned = scanner{}, 0
		s.flushHistory()
	}
	for _, st := range stmts {
		err := s.execute(ctx, st.text)
		if err == nil {
			continue
		}
		if !s.interactive {
			s.reset()
			line := startLine + strings.Count(buf[:st.offset], "\n")
			return fmt.Errorf("line %d: %w", line, err)
		}
		s.report(err)
		if errors.Is(err, errCanceled) {
			// Ctrl-C means stop, not skip to the next statement.
			s.reset()
			return nil
		}
	}
	return nil
}

// finish runs what is left when input ends without a final semicolon, as
// scripts often do.
func (s *shell) finish(ctx context.Context) error {
	buf := s.pending.String()
	if blank(buf) {
		return nil
	}
	s.reset()
	first, last := tokenSpan(buf)
	if err := s.execute(ctx, buf[first:last]); err != nil {
		return fmt.Errorf("line %d: %w", s.pendingLine+strings.Count(buf[:first], "\n"), err)
	}
	return nil
}

func (s *shell) reset() {
	s.pending.Reset()
	s.scan, s.scanned = scanner{}, 0
	s.histLines = s.histLines[:0]
}

func (s *shell) remember(entry string) {
	if s.pending.Len() == 0 {
		s.in.addHistory(entry)
	}
}

func (s *shell) flushHistory() {
	if len(s.histLines) > 0 {
		s.in.addHistory(strings.Join(s.histLines, " "))
		s.histLines = s.histLines[:0]
	}
}

// diag is where status lines and timings go: next to a table they are part
// of the conversation, but they would corrupt CSV or JSON on stdout.
func (s *shell) diag() io.Writer {
	if s.format == render.Table {
		return s.out
	}
	return s.errw
}

func (s *shell) report(err error) {
	fmt.Fprintf(s.errw, "Error: %v\n", err)
}

func (s *shell) execute(ctx context.Context, sql string) error {
	stmtCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupted := s.watchInterrupt(cancel)
	defer interrupted()

	start := time.Now()
	rows, msg, err := s.ex.Exec(stmtCtx, sql)
	s.invalidateTables()
	if err == nil && rows != nil {
		err = s.print(stmtCtx, rows)
	}
	elapsed := time.Since(start)
	if err != nil {
		if interrupted() && ctx.Err() == nil {
			return errCanceled
		}
		return err
	}
	if msg != "" {
		fmt.Fprintln(s.diag(), msg)
	}
	if s.timing {
		fmt.Fprintf(s.diag(), "Time: %.3f ms\n", float64(elapsed.Microseconds())/1000)
	}
	return nil
}

// print writes one result set. It closes rows that can be closed, since an
// executor's rows may hold a database cursor.
func (s *shell) print(ctx context.Context, rows render.Rows) error {
	if c, ok := rows.(io.Closer); ok {
		defer c.Close()
	}
	if binaryFormat(s.format) && s.results > 0 {
		return fmt.Errorf("%s output holds a single result set; this input produces more than one", s.format)
	}
	s.results++
	_, err := render.Write(s.out, s.format, ctxRows{ctx: ctx, Rows: rows}, render.Options{Footer: true})
	return err
}

// watchInterrupt cancels the running statement on SIGINT. The returned
// function stops watching and reports whether an interrupt arrived.
func (s *shell) watchInterrupt(cancel context.CancelFunc) func() bool {
	if s.sigs == nil {
		return func() bool { return false }
	}
	// A signal that arrived while nothing ran must not cancel this
	// statement.
	for len(s.sigs) > 0 {
		<-s.sigs
	}
	var (
		once  sync.Once
		fired bool
		mu    sync.Mutex
	)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-s.sigs:
			mu.Lock()
			fired = true
			mu.Unlock()
			cancel()
		case <-done:
		}
	}()
	return func() bool {
		once.Do(func() {
			close(done)
			<-exited
		})
		mu.Lock()
		defer mu.Unlock()
		return fired
	}
}

// ctxRows stops rendering once the statement is canceled, even when the
// executor's rows do not watch the context themselves.
type ctxRows struct {
	ctx context.Context
	render.Rows
}

func (r ctxRows) Next() ([]any, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	return r.Rows.Next()
}

func (s *shell) invalidateTables() {
	s.tablesMu.Lock()
	s.tablesValid = false
	s.tablesMu.Unlock()
}

// tables returns the catalog's tables, cached until the next statement
// runs, since completion asks on every Tab press.
func (s *shell) tables(ctx context.Context) ([]string, error) {
	s.tablesMu.Lock()
	defer s.tablesMu.Unlock()
	if s.tablesValid {
		return s.tablesCache, nil
	}
	names, err := s.ex.Tables(ctx)
	if err != nil {
		return nil, err
	}
	s.tablesCache, s.tablesValid = names, true
	return names, nil
}
