package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/demo"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

func (a *app) demoCmd() *cobra.Command {
	var seed uint64
	var small bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Load a sample e-commerce lakehouse (bronze → silver → gold) and show queries to try",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			e, err := a.openEngine()
			if err != nil {
				return err
			}
			l := e.Lake()
			ctx := a.ctx()
			start := time.Now()
			out := a.out
			fmt.Fprintf(out, "edp demo: data directory %s\n\n", a.cfg.DataDir)
			for _, ns := range []string{"bronze", "silver", "gold"} {
				if err := l.DropNamespace(ctx, ns, true, true); err != nil {
					return err
				}
				if err := l.CreateNamespace(ctx, ns, map[string]string{"comment": "demo " + ns + " layer"}, false); err != nil {
					return err
				}
			}
			dir := filepath.Join(a.tempDir(), "demo-files")
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			scale := demo.DefaultScale()
			if small {
				scale = demo.Scale{Customers: 200, Products: 50, Orders: 1000, Events: 5000}
			}
			files, err := demo.Generate(dir, scale, seed)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "1. bronze: raw files loaded as they arrived")
			for _, f := range files {
				id, err := lake.ParseIdent(f.Table)
				if err != nil {
					return err
				}
				res, err := ingest.Load(ctx, l, ingest.Options{Table: id, Files: []string{f.Path}, Format: formatName(f.Format),
					TempDir: a.tempDir(), Job: "demo:load"})
				if err != nil {
					return fmt.Errorf("load %s: %w", f.Table, err)
				}
				fmt.Fprintf(out, "   %-24s %7d rows  from %s\n", f.Table, res.Rows, filepath.Base(f.Path))
			}
			fmt.Fprintln(out, "\n2. silver and gold: built with SQL")
			for _, st := range demo.Steps() {
				var status string
				if err := e.ExecScript(ctx, st.SQL, func(r *query.Result) error { status = r.Status; return nil }); err != nil {
					return fmt.Errorf("%s: %w", st.Name, err)
				}
				fmt.Fprintf(out, "   %-32s %s — %s\n", st.Name, status, st.Doc)
			}
			fmt.Fprintf(out, "\nDone in %.1fs. Open the SQL shell with `edp sql` (or `go run ./cmd/edp sql`) and try:\n\n", time.Since(start).Seconds())
			for _, q := range demo.TryQueries() {
				fmt.Fprintf(out, "  -- %s\n  %s;\n\n", q.Doc, strings.ReplaceAll(q.SQL, "\n", "\n  "))
			}
			fmt.Fprintln(out, "  -- every write is a snapshot; list them, then time-travel to one:")
			fmt.Fprintln(out, "  SHOW SNAPSHOTS silver.orders;")
			fmt.Fprintln(out, "  SELECT count(*) FROM silver.orders FOR VERSION AS OF <snapshot_id>;")
			return nil
		},
	}
	c.Flags().Uint64Var(&seed, "seed", 1, "random seed: the same seed gives the same data")
	c.Flags().BoolVar(&small, "small", false, "a smaller sample, for a quick look")
	return c
}

func formatName(f string) string {
	if f == "ndjson" {
		return "json"
	}
	return f
}

func (a *app) tempDir() string {
	dir, _ := filepath.Abs(a.cfg.DataDir)
	return filepath.Join(dir, "tmp")
}
