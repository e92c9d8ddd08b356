package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/config"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
	"github.com/edp-data/edp/internal/render"
	"github.com/edp-data/edp/internal/server"
	"github.com/edp-data/edp/internal/telemetry"
)

// Version is set at build time with -ldflags "-X …/cli.Version=…".
var Version = "dev"

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

// app holds what a command needs, opened lazily.
type app struct {
	cmd    *cobra.Command
	in     io.Reader
	out    io.Writer
	errw   io.Writer
	cfg    *config.Config
	plat   *server.Platform
	engine *query.Engine
	log    *slog.Logger
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{in: stdin, out: stdout, errw: stderr}
	root := &cobra.Command{
		Use:   "edp",
		Short: "edp — a governed lakehouse in one binary",
		Long: `edp gives a team Apache Iceberg tables with SQL over embedded DuckDB,
batch loading and zero setup: data lives in ./edp-data unless told otherwise.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load("", os.Environ(), cmd.Flags())
			if err != nil {
				return err
			}
			a.cfg = cfg
			a.cmd = cmd
			if cfg.Server != "" && localOnly(cmd) {
				return fmt.Errorf("%q works on a local data directory and does not take --server (EDP_SERVER); run it where the server's data directory is", cmd.CommandPath())
			}
			a.log = telemetry.NewLogger(stderr, cfg.Log.Format, cfg.SlogLevel())
			return nil
		},
		PersistentPostRunE: func(*cobra.Command, []string) error { return a.close() },
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	config.Bind(root.PersistentFlags())
	root.AddCommand(a.sqlCmd(), a.loadCmd(), a.demoCmd(), a.configCmd(), a.namespaceCmd(), a.tableCmd(),
		a.serveCmd(), a.userCmd(), a.apikeyCmd(), a.auditCmd(), a.loginCmd(), a.logoutCmd(),
		a.backupCmd(), a.restoreCmd(), a.maintainCmd(), a.catalogCmd(), a.kafkaCmd(), a.streamCmd())
	return root
}

// localOnlyCommands act on the data directory itself, never on a server.
var localOnlyCommands = map[string]bool{"serve": true, "demo": true, "user": true, "apikey": true, "audit": true,
	"backup": true, "restore": true, "maintain": true, "catalog": true, "kafka": true}

func localOnly(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if localOnlyCommands[c.Name()] && c.Parent() != nil && c.Parent().Parent() == nil {
			return true
		}
	}
	return false
}

// ctx returns the command's context carrying the local operator: whoever
// can read the data directory on disk already holds every file in it.
func (a *app) ctx() context.Context {
	return auth.WithPrincipal(a.cmd.Context(), auth.LocalOperator())
}

// openPlatform opens the data directory's lake, accounts and audit log;
// commits made through it are audited like the server's.
func (a *app) openPlatform() (*server.Platform, error) {
	if a.plat != nil {
		return a.plat, nil
	}
	p, err := server.Open(a.ctx(), a.cfg, server.Deps{Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.plat = p
	return p, nil
}

func (a *app) openLake() (*lake.Lake, error) {
	p, err := a.openPlatform()
	if err != nil {
		return nil, err
	}
	return p.Lake, nil
}

func (a *app) openEngine() (*query.Engine, error) {
	if a.engine != nil {
		return a.engine, nil
	}
	l, err := a.openLake()
	if err != nil {
		return nil, err
	}
	dataDir, _ := filepath.Abs(a.cfg.DataDir)
	e, err := query.New(a.ctx(), l, query.Options{
		MemoryLimit:    a.cfg.Query.MemoryLimit,
		Threads:        a.cfg.Query.Threads,
		TempDir:        filepath.Join(dataDir, "tmp"),
		TargetFileSize: a.cfg.Load.TargetFileSize,
		Logger:         a.log,
	})
	if err != nil {
		return nil, err
	}
	a.engine = e
	return e, nil
}

func (a *app) close() error {
	var errs []error
	if a.engine != nil {
		errs = append(errs, a.engine.Close())
	}
	if a.plat != nil {
		errs = append(errs, a.plat.Close())
	}
	return errors.Join(errs...)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// format resolves the output format: "auto" is an aligned table on a
// terminal and CSV otherwise.
func (a *app) format() (render.Format, error) {
	if a.cfg.Output == config.OutputAuto {
		if isTerminal(a.out) {
			return render.Table, nil
		}
		return render.CSV, nil
	}
	return render.ParseFormat(a.cfg.Output)
}

func (a *app) configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Inspect configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration and where each value came from",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return a.cfg.Show(a.out) },
	})
	return c
}
