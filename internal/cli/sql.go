package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/render"
	"github.com/edp-data/edp/internal/shell"
)

func (a *app) sqlCmd() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "sql [STATEMENTS]",
		Short: "Run SQL, or start an interactive SQL shell",
		Long: `Run one or more SQL statements (separated by ';') against edp tables,
referenced as namespace.table. With no argument and a terminal, start an
interactive shell; with no argument and piped input, read statements from
standard input.

Time travel: SELECT … FROM ns.t FOR VERSION AS OF <snapshot-id>
             SELECT … FROM ns.t FOR TIMESTAMP AS OF '2026-01-01 00:00:00'
             (DuckDB's AT (VERSION => …) / AT (TIMESTAMP => …) work too)`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			script := ""
			switch {
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				script = string(b)
			case len(args) == 1:
				script = args[0]
			case a.remote():
				if isTerminal(a.in) {
					return errors.New("the interactive shell runs on a local data directory; with --server pass statements as an argument, with -f FILE or on standard input")
				}
				b, err := io.ReadAll(a.in)
				if err != nil {
					return err
				}
				script = string(b)
			}
			if a.remote() {
				return a.remoteSQL(script)
			}
			e, err := a.openEngine()
			if err != nil {
				return err
			}
			format, err := a.format()
			if err != nil {
				return err
			}
			if script == "" && file == "" && len(args) == 0 {
				interactive := isTerminal(a.in) && isTerminal(a.out)
				if interactive && a.cfg.Output == "auto" {
					format = render.Table
				}
				hist := ""
				if dir, err := filepath.Abs(a.cfg.DataDir); err == nil {
					hist = filepath.Join(dir, ".edp_history")
				}
				return shell.Run(a.ctx(), shellExec{e}, shell.Options{
					In: a.in, Out: a.out, Err: a.errw, HistoryFile: hist, Format: format, Interactive: interactive,
				})
			}
			return e.ExecScript(a.ctx(), script, a.printResult)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "read statements from this file")
	return c
}

// shellExec adapts the engine to the interactive shell.
type shellExec struct{ e *query.Engine }

func (s shellExec) Exec(ctx context.Context, sql string) (render.Rows, string, error) {
	res, err := s.e.Exec(ctx, sql)
	if err != nil {
		return nil, "", err
	}
	if res.Rows == nil {
		res.Close()
		return nil, res.Status, nil
	}
	// The table footer already says how many rows came back.
	return &closingRows{Rows: res.Rows, res: res}, "", nil
}

func (s shellExec) Tables(ctx context.Context) ([]string, error) {
	ids, err := s.e.Lake().ListTables(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out, nil
}

func (s shellExec) Describe(ctx context.Context, name string) (render.Rows, error) {
	id, err := lake.ParseIdent(strings.TrimSpace(name))
	if err != nil {
		return nil, err
	}
	res, err := s.e.Describe(ctx, id)
	if err != nil {
		return nil, err
	}
	return res.Rows, nil
}

// closingRows releases the statement's connection once its rows are read.
type closingRows struct {
	render.Rows
	res *query.Result
}

func (c *closingRows) Next() ([]any, error) {
	row, err := c.Rows.Next()
	if err != nil {
		c.res.Close()
		if err != io.EOF {
			return nil, err
		}
	}
	return row, err
}
