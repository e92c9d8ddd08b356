package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/maintain"
)

func (a *app) maintainCmd() *cobra.Command {
	var o maintain.Options
	c := &cobra.Command{
		Use:   "maintain NS.TABLE",
		Short: "Compact small files and deletes, merge manifests, expire snapshots and remove orphan files of a table",
		Long: `maintain runs every maintenance step on one table once, as its properties
(edp.maintain.*, history.expire.*) say, and reports what it did. With
--dry-run it only reports what it would do. The flags override the table's
retention for this run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if a.remote() {
				return fmt.Errorf("maintain works on a local data directory and does not take --server (EDP_SERVER); run it where the data directory is")
			}
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			o.TempDir = a.tempDir()
			o.MemoryLimit = a.cfg.Query.MemoryLimit
			o.Threads = a.cfg.Query.Threads
			o.Logger = a.log
			var progress func(maintain.Progress)
			var mu sync.Mutex
			if isTerminal(a.errw) {
				// Progress arrives from the compaction's own goroutine too.
				progress = func(p maintain.Progress) {
					mu.Lock()
					defer mu.Unlock()
					line := p.Step
					if p.Total > 0 {
						line += fmt.Sprintf(" %d/%d %s", p.Done, p.Total, p.Unit)
					}
					if p.Message != "" && p.Message != p.Step {
						line += " — " + p.Message
					}
					fmt.Fprintf(a.errw, "\r\033[K%s", line)
				}
			}
			rep, err := maintain.Run(a.ctx(), l, id, o, progress)
			if progress != nil {
				mu.Lock()
				fmt.Fprint(a.errw, "\r\033[K")
				mu.Unlock()
			}
			if err != nil {
				return err
			}
			printReport(a.out, rep)
			return nil
		},
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "report what would be done and change nothing")
	c.Flags().DurationVar(&o.ExpireOlderThan, "expire-older-than", 0, "expire snapshots older than this (default: the table's history.expire.max-snapshot-age-ms, else 120h)")
	c.Flags().IntVar(&o.RetainLast, "retain-last", 0, "always keep this many newest snapshots (default: history.expire.min-snapshots-to-keep, else 1)")
	c.Flags().DurationVar(&o.OrphansOlderThan, "orphans-older-than", 0, "remove unreferenced files older than this, at least 1h (default: edp.maintain.orphan-min-age, else 72h)")
	return c
}

// printReport writes a maintenance report as plain lines.
func printReport(w io.Writer, r *maintain.Report) {
	verb := ""
	if r.DryRun {
		verb = " (dry run: nothing changed; figures are what would happen)"
	}
	fmt.Fprintf(w, "maintain %s%s\n", r.Table, verb)
	fmt.Fprintf(w, "  files before: %d data (%s), %d delete (%s), %d manifests, %d snapshots\n",
		r.Before.DataFiles, bytesText(r.Before.DataBytes), r.Before.DeleteFiles, bytesText(r.Before.DeleteBytes), r.Before.Manifests, r.Before.Snapshots)
	if c := r.Compaction; c != nil {
		out := fmt.Sprintf("%d files (%s, %d live rows)", c.OutputFiles, bytesText(c.OutputBytes), c.OutputRows)
		if r.DryRun {
			out = fmt.Sprintf("about %d files", c.OutputFiles)
		}
		fmt.Fprintf(w, "  compaction: %d files (%s, %d rows) in %d bin(s) → %s; %d delete files (%s) folded in",
			c.InputFiles, bytesText(c.InputBytes), c.InputRows, c.Groups, out, c.DeleteFilesRemoved, bytesText(c.DeleteBytesRemoved))
		if c.Duration > 0 {
			fmt.Fprintf(w, " in %s", c.Duration.Round(time.Millisecond))
		}
		if c.Attempts > 1 {
			fmt.Fprintf(w, " (%d attempts)", c.Attempts)
		}
		fmt.Fprintln(w)
	}
	if m := r.Manifests; m != nil {
		if r.DryRun {
			fmt.Fprintf(w, "  manifests: %d data manifests would be merged\n", m.Before)
		} else {
			fmt.Fprintf(w, "  manifests: %d → %d\n", m.Before, m.After)
		}
	}
	if e := r.Expiry; e != nil {
		fmt.Fprintf(w, "  expiry (older than %s, keeping the last %d): %d snapshots expired, %d kept; %d files (%s) deleted\n",
			e.OlderThan, e.RetainLast, len(e.Expired), e.Kept, e.FilesDeleted, bytesText(e.BytesDeleted))
	}
	if o := r.Orphans; o != nil {
		fmt.Fprintf(w, "  orphans (older than %s): %d files (%s) removed\n", o.MinAge, len(o.Files), bytesText(o.Bytes))
		for _, f := range o.Files {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "  files after: %d data (%s), %d delete (%s), %d manifests, %d snapshots\n",
		r.After.DataFiles, bytesText(r.After.DataBytes), r.After.DeleteFiles, bytesText(r.After.DeleteBytes), r.After.Manifests, r.After.Snapshots)
	fmt.Fprintf(w, "  reclaimed: %s in %s\n", bytesText(r.ReclaimedBytes), r.Duration.Round(time.Millisecond))
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
