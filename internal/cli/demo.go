package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/demo"
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
			start := time.Now()
			out := a.out
			fmt.Fprintf(out, "edp demo: data directory %s\n\n", a.cfg.DataDir)
			scale := demo.DefaultScale()
			if small {
				scale = demo.Scale{Customers: 200, Products: 50, Orders: 1000, Events: 5000}
			}
			if err := demo.Install(a.ctx(), e, demo.InstallOptions{Scale: scale, Seed: seed, TempDir: a.tempDir(), Out: out}); err != nil {
				return err
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

func (a *app) tempDir() string {
	dir, _ := filepath.Abs(a.cfg.DataDir)
	return filepath.Join(dir, "tmp")
}
