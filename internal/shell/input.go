package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/peterh/liner"
)

// errInterrupted is what readLine returns when Ctrl-C abandons the line.
var errInterrupted = errors.New("interrupted")

// lineReader is where input lines come from: a terminal with line editing,
// or a plain stream.
type lineReader interface {
	// readLine returns the next line without its line ending, io.EOF at
	// the end of input, or errInterrupted after Ctrl-C.
	readLine(prompt string) (string, error)
	addHistory(entry string)
	close() error
}

// plainReader reads scripts. It uses bufio.Reader rather than a Scanner
// because generated INSERT statements easily exceed Scanner's line limit.
type plainReader struct {
	r *bufio.Reader
}

func newPlainReader(r io.Reader) *plainReader {
	return &plainReader{r: bufio.NewReaderSize(r, 64*1024)}
}

func (p *plainReader) readLine(string) (string, error) {
	line, err := p.r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func (p *plainReader) addHistory(string) {}
func (p *plainReader) close() error      { return nil }

// terminalReader edits lines with liner. When liner cannot drive the
// terminal (stdout redirected, TERM=dumb) it hands over to promptReader.
type terminalReader struct {
	s        *shell
	st       *liner.State
	history  string
	fallback lineReader
	warned   bool
}

func newTerminalReader(s *shell, history string) lineReader {
	// liner falls back to printing prompts on stdout when stdout is not a
	// terminal, which would mix them into redirected results.
	if !liner.TerminalSupported() || !isatty.IsTerminal(os.Stdin.Fd()) || !isatty.IsTerminal(os.Stdout.Fd()) {
		return newPromptReader(s)
	}
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetMultiLineMode(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(s.complete)
	t := &terminalReader{s: s, st: st, history: history}
	if history != "" {
		if f, err := os.Open(history); err == nil {
			_, err = st.ReadHistory(f)
			f.Close()
			if err != nil {
				t.warn(err)
			}
		}
	}
	return t
}

func (t *terminalReader) readLine(prompt string) (string, error) {
	if t.fallback != nil {
		return t.fallback.readLine(prompt)
	}
	line, err := t.st.Prompt(prompt)
	switch {
	case errors.Is(err, liner.ErrPromptAborted):
		return "", errInterrupted
	case errors.Is(err, io.EOF):
		// Ctrl-D leaves the cursor after the prompt; end the line so the
		// caller's shell prompt starts on its own.
		fmt.Println()
	case errors.Is(err, liner.ErrNotTerminalOutput):
		t.st.Close()
		t.fallback = newPromptReader(t.s)
		return t.fallback.readLine(prompt)
	}
	return line, err
}

// addHistory also rewrites the history file, so that a shell killed
// rather than quit keeps what was typed.
func (t *terminalReader) addHistory(entry string) {
	if t.fallback != nil || strings.TrimSpace(entry) == "" {
		return
	}
	t.st.AppendHistory(entry)
	if t.history == "" {
		return
	}
	// History can hold credentials typed into statements: owner only.
	f, err := os.OpenFile(t.history, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = t.st.WriteHistory(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.warn(err)
	}
}

func (t *terminalReader) warn(err error) {
	if !t.warned {
		t.warned = true
		fmt.Fprintf(t.s.errw, "Warning: history file %s: %v\n", t.history, err)
	}
}

func (t *terminalReader) close() error {
	if t.fallback != nil {
		return t.fallback.close()
	}
	return t.st.Close()
}

// promptReader serves a terminal without line editing. Lines are read on
// a goroutine so that Ctrl-C, which arrives as SIGINT here, can abandon the
// line being typed.
type promptReader struct {
	s       *shell
	next    chan struct{}
	lines   chan lineResult
	waiting bool // a read was requested and its line has not come back
}

type lineResult struct {
	line string
	err  error
}

func newPromptReader(s *shell) *promptReader {
	p := &promptReader{s: s, next: make(chan struct{}), lines: make(chan lineResult)}
	go func() {
		r := newPlainReader(os.Stdin)
		for range p.next {
			line, err := r.readLine("")
			p.lines <- lineResult{line, err}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *promptReader) readLine(prompt string) (string, error) {
	// The prompt goes to stderr: this path is taken when stdout is
	// redirected, and results there must stay clean.
	fmt.Fprint(p.s.errw, prompt)
	// After Ctrl-C the terminal discards the half-typed line, so a read
	// still outstanding delivers the next line the user types: keep it.
	if !p.waiting {
		p.next <- struct{}{}
		p.waiting = true
	}
	select {
	case r := <-p.lines:
		p.waiting = false
		if errors.Is(r.err, io.EOF) {
			fmt.Fprintln(p.s.errw)
		}
		return r.line, r.err
	case <-p.s.sigs:
		fmt.Fprintln(p.s.errw)
		return "", errInterrupted
	}
}

func (p *promptReader) addHistory(string) {}

func (p *promptReader) close() error {
	if !p.waiting {
		close(p.next)
	}
	return nil
}
