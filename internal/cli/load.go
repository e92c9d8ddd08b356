package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/client"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
)

func (a *app) loadCmd() *cobra.Command {
	var (
		tableName, format, badRows, delim, quote string
		partitionBy, nulls, props                []string
		evolve, header, noHeader                 bool
	)
	c := &cobra.Command{
		Use:   "load --table NS.TABLE FILE...",
		Short: "Load CSV, JSON or Parquet files into a table, atomically",
		Long: `Load files (paths or glob patterns) into a table in one commit. CSV may be
gzip or zstd compressed; JSON may be newline-delimited or an array. A missing
table is created with a schema inferred from the files; an existing one is
appended to after a schema check (--evolve adds new columns).

By default one bad row fails the whole load and nothing is committed; the
error names its file, line and column. --bad-rows=skip drops bad rows and
--bad-rows=quarantine also writes them, with the reason, to NS.TABLE__rejected
(CSV, and newline-delimited JSON, which is then read line by line in memory).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			id, err := lake.ParseIdent(tableName)
			if err != nil {
				return err
			}
			if badRows == "" {
				badRows = a.cfg.Load.BadRows
			}
			if a.remote() {
				var h *bool
				if header || noHeader {
					v := header && !noHeader
					h = &v
				}
				return a.remoteLoad(id, files, client.LoadOptions{Format: format, PartitionBy: partitionBy, Evolve: evolve,
					BadRows: badRows, Delimiter: delim, Quote: quote, Header: h, Nulls: nulls, Properties: props})
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			opts := ingest.Options{
				Table: id, Files: files, Format: format, PartitionBy: partitionBy, Evolve: evolve, BadRows: badRows,
				CSV:            ingest.CSVOptions{Delimiter: delim, Quote: quote, Nulls: nulls},
				TargetFileSize: a.cfg.Load.TargetFileSize, TempDir: a.tempDir(), MemoryLimit: a.cfg.Query.MemoryLimit,
			}
			if len(props) > 0 {
				opts.Properties = map[string]string{}
				for _, p := range props {
					k, v, ok := strings.Cut(p, "=")
					if !ok || k == "" {
						return fmt.Errorf("--property %q: use KEY=VALUE", p)
					}
					opts.Properties[k] = v
				}
			}
			if header || noHeader {
				h := header && !noHeader
				opts.CSV.Header = &h
			}
			if isTerminal(a.errw) {
				opts.Progress = progressPrinter(a.errw)
			}
			res, err := ingest.Load(a.ctx(), l, opts)
			if err != nil {
				return err
			}
			a.printLoad(res.Table.String(), res.Created, res.Rows, res.Rejected, res.Files, res.Elapsed, badRows)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&tableName, "table", "t", "", "target table, as namespace.table (required)")
	c.MarkFlagRequired("table")
	f.StringVar(&format, "format", "", "input format: csv, json or parquet (default: from the file extension)")
	f.StringSliceVar(&partitionBy, "partition-by", nil, "partition a new table, e.g. day(ts), bucket(16, id), region (repeatable)")
	f.BoolVar(&evolve, "evolve", false, "add columns the files have and the table lacks")
	f.StringSliceVar(&props, "property", nil, "table property for a new table, KEY=VALUE, e.g. write.parquet.compression-codec=snappy (repeatable)")
	f.StringVar(&badRows, "bad-rows", "", "what to do with rows that cannot be read: fail, skip or quarantine (default from config load.bad_rows)")
	f.StringVar(&delim, "delimiter", "", `CSV field delimiter (default: detected; "\t" for tab)`)
	f.StringVar(&quote, "quote", "", "CSV quote character (default: detected)")
	f.BoolVar(&header, "header", false, "CSV files have a header row (default: detected)")
	f.BoolVar(&noHeader, "no-header", false, "CSV files have no header row")
	f.StringSliceVar(&nulls, "null", nil, "CSV strings that mean NULL (repeatable)")
	return c
}

// printLoad reports a committed load the same way whether it ran here or
// on a server.
func (a *app) printLoad(table string, created bool, rows, rejected int64, files int, elapsed time.Duration, badRows string) {
	verb := "appended to"
	if created {
		verb = "created"
	}
	rate := float64(rows) / max(elapsed.Seconds(), 0.001)
	fmt.Fprintf(a.errw, "%s %s: %d rows from %d files in %.2fs (%.0f rows/s)", verb, table, rows, files, elapsed.Seconds(), rate)
	if rejected > 0 {
		fmt.Fprintf(a.errw, "; %d bad rows %s", rejected, map[string]string{"skip": "skipped", "quarantine": "quarantined to " + table + "__rejected"}[badRows])
	}
	fmt.Fprintln(a.errw)
}

func (a *app) remoteLoad(id lake.Ident, patterns []string, o client.LoadOptions) error {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if len(m) == 0 {
			return fmt.Errorf("no file matches %s", p)
		}
		files = append(files, m...)
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := c.Load(a.ctx(), id.Namespace, id.Name, files, o)
	if err != nil {
		return err
	}
	a.printLoad(res.Table, res.Created, res.Rows, res.Rejected, res.Files, time.Since(start), o.BadRows)
	return nil
}

// progressPrinter draws a one-line progress report on a terminal.
func progressPrinter(w io.Writer) func(ingest.Progress) {
	return func(p ingest.Progress) {
		rate := float64(p.Rows) / max(p.Elapsed.Seconds(), 0.001)
		line := fmt.Sprintf("loading %s: %d rows (%.0f rows/s) from %d files (%s), %s written, %.1fs",
			p.Table, p.Rows, rate, p.Files, bytes(p.InputBytes), bytes(p.WrittenBytes), p.Elapsed.Seconds())
		if p.Done {
			fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", len(line)+2))
			return
		}
		fmt.Fprintf(w, "\r%s", line)
	}
}

func bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
