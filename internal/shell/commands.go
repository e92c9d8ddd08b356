package shell

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/edp-data/edp/internal/render"
)

type command struct {
	names []string
	args  string
	help  string
}

// commands drives both \? and completion of backslash commands.
var commands = []command{
	{[]string{`\d`}, "", "list tables"},
	{[]string{`\d`}, "NS.TABLE", "describe a table"},
	{[]string{`\dn`}, "", "list namespaces"},
	{[]string{`\o`, `\format`}, "[FORMAT]", "show or set the output format (" + formatList() + ")"},
	{[]string{`\timing`}, "[on|off]", "toggle printing how long each statement took"},
	{[]string{`\q`, "quit", "exit"}, "", "leave the shell"},
	{[]string{`\?`, "help"}, "", "show this help"},
}

func formatList() string {
	var names []string
	for _, f := range render.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// command runs one backslash command line.
func (s *shell) command(ctx context.Context, line string) error {
	fields := strings.Fields(line)
	name := fields[0]
	args := fields[1:]
	// A trailing semicolon is habit from SQL, not part of the argument.
	if n := len(args); n > 0 {
		args[n-1] = strings.TrimSuffix(args[n-1], ";")
		if args[n-1] == "" {
			args = args[:n-1]
		}
	} else {
		name = strings.TrimSuffix(name, ";")
	}

	switch name {
	case `\q`:
		return errQuit
	case `\?`:
		s.help()
		return nil
	case `\d`:
		if len(args) == 0 {
			return s.listTables(ctx)
		}
		if len(args) > 1 {
			return fmt.Errorf(`\d takes one table name, got %d`, len(args))
		}
		return s.describe(ctx, args[0])
	case `\dn`:
		return s.listNamespaces(ctx)
	case `\o`, `\format`:
		return s.setFormat(args)
	case `\timing`:
		return s.setTiming(args)
	}
	return fmt.Errorf(`unknown command %s; \? lists the commands`, name)
}

func (s *shell) help() {
	var b strings.Builder
	b.WriteString("Statements end with a semicolon and may span lines. Commands:\n")
	for _, c := range commands {
		use := strings.Join(c.names, " | ")
		if c.args != "" {
			use += " " + c.args
		}
		fmt.Fprintf(&b, "  %-22s %s\n", use, c.help)
	}
	b.WriteString("Ctrl-C cancels the running statement or clears the input; Ctrl-D leaves.\n")
	fmt.Fprint(s.diag(), b.String())
}

func (s *shell) listTables(ctx context.Context) error {
	names, err := s.ex.Tables(ctx)
	if err != nil {
		return err
	}
	sort.Strings(names)
	data := make([][]any, len(names))
	for i, n := range names {
		ns, table := splitTable(n)
		data[i] = []any{ns, table}
	}
	cols := []render.Column{{Name: "namespace", Type: "VARCHAR"}, {Name: "table", Type: "VARCHAR"}}
	return s.print(ctx, render.SliceRows(cols, data))
}

func (s *shell) listNamespaces(ctx context.Context) error {
	cols := []render.Column{{Name: "namespace", Type: "VARCHAR"}}
	names, err := s.ex.Tables(ctx)
	if err != nil {
		return err
	}
	var data [][]any
	for _, ns := range namespaces(names) {
		data = append(data, []any{ns})
	}
	return s.print(ctx, render.SliceRows(cols, data))
}

func (s *shell) describe(ctx context.Context, table string) error {
	rows, err := s.ex.Describe(ctx, table)
	if err != nil {
		return err
	}
	return s.print(ctx, rows)
}

func (s *shell) setFormat(args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(s.diag(), "Output format is %s.\n", s.format)
		return nil
	}
	f, err := render.ParseFormat(strings.Join(args, " "))
	if err != nil {
		return err
	}
	if binaryFormat(f) && s.interactive {
		return errBinaryTerminal
	}
	s.format = f
	fmt.Fprintf(s.diag(), "Output format is %s.\n", s.format)
	return nil
}

func (s *shell) setTiming(args []string) error {
	switch {
	case len(args) == 0:
		s.timing = !s.timing
	case len(args) == 1 && strings.EqualFold(args[0], "on"):
		s.timing = true
	case len(args) == 1 && strings.EqualFold(args[0], "off"):
		s.timing = false
	default:
		return fmt.Errorf(`\timing takes on or off, got %q`, strings.Join(args, " "))
	}
	state := "off"
	if s.timing {
		state = "on"
	}
	fmt.Fprintf(s.diag(), "Timing is %s.\n", state)
	return nil
}

// splitTable separates "ns.table" at its last dot, since Iceberg
// namespaces may themselves contain dots.
func splitTable(name string) (ns, table string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

func namespaces(tables []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tables {
		ns, _ := splitTable(t)
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}
