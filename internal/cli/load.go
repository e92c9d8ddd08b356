package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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
			l, err := a.openLake()
			if err != nil {
				return err
			}
			if badRows == "" {
				badRows = a.cfg.Load.BadRows
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
			verb := "appended to"
			if res.Created {
				verb = "created"
			}
			rate := float64(res.Rows) / res.Elapsed.Seconds()
			fmt.Fprintf(a.errw, "%s %s: %d rows from %d files in %.2fs (%.0f rows/s)", verb, res.Table, res.Rows, res.Files, res.Elapsed.Seconds(), rate)
			if res.Rejected > 0 {
				fmt.Fprintf(a.errw, "; %d bad rows %s", res.Rejected, map[string]string{"skip": "skipped", "quarantine": "quarantined to " + res.Table.String() + "__rejected"}[badRows])
			}
			fmt.Fprintln(a.errw)
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
