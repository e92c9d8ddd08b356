package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

// Namespaces are the layers Install builds, bronze first.
var Namespaces = []string{"bronze", "silver", "gold"}

// InstallOptions tune Install.
type InstallOptions struct {
	Scale   Scale
	Seed    uint64
	TempDir string    // raw files are generated here, inside the data dir, and removed after
	Out     io.Writer // one progress line per table; nil for none
}

// Install (re)builds the demo lakehouse through e: it replaces the bronze,
// silver and gold namespaces, loads generated raw files into bronze and
// refines them with the SQL of Steps. The Principal in ctx must be allowed
// to create namespaces.
func Install(ctx context.Context, e *query.Engine, opts InstallOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	l := e.Lake()
	for _, ns := range Namespaces {
		if err := l.DropNamespace(ctx, ns, true, true); err != nil {
			return err
		}
		if err := l.CreateNamespace(ctx, ns, map[string]string{"comment": "demo " + ns + " layer"}, false); err != nil {
			return err
		}
	}
	dir := filepath.Join(opts.TempDir, "demo-files")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files, err := Generate(dir, opts.Scale, opts.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "1. bronze: raw files loaded as they arrived")
	for _, f := range files {
		id, err := lake.ParseIdent(f.Table)
		if err != nil {
			return err
		}
		format := f.Format
		if format == "ndjson" {
			format = "json"
		}
		res, err := ingest.Load(ctx, l, ingest.Options{Table: id, Files: []string{f.Path}, Format: format,
			TempDir: opts.TempDir, Job: "demo:load"})
		if err != nil {
			return fmt.Errorf("load %s: %w", f.Table, err)
		}
		fmt.Fprintf(out, "   %-24s %7d rows  from %s\n", f.Table, res.Rows, filepath.Base(f.Path))
	}
	fmt.Fprintln(out, "\n2. silver and gold: built with SQL")
	for _, st := range Steps() {
		var status string
		if err := e.ExecScript(ctx, st.SQL, func(r *query.Result) error { status = r.Status; return nil }); err != nil {
			return fmt.Errorf("%s: %w", st.Name, err)
		}
		fmt.Fprintf(out, "   %-32s %s — %s\n", st.Name, status, st.Doc)
	}
	return nil
}
