package maintain

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/lake"
)

// Why edp compacts with DuckDB rather than iceberg-go's RewriteDataFiles
// (v0.7.0): its atomic mode removes every position-delete file attached to
// a rewritten file (CollectSafePositionDeletes) without checking the other
// data files that delete file names. edp writes one delete file per
// partition for a DELETE, naming many data files; rewriting only some of
// them (a large file is skipped, a bin is full) would drop deletes that
// still apply and bring deleted rows back. Its writer is also iceberg-go's
// Arrow Parquet writer, several times slower than DuckDB's (see
// docs/ARCHITECTURE.md). So edp reads each group with duck.ScanSQL (deletes
// applied), writes with duck.WriteData and removes a delete file only when
// every data file it applies to is rewritten.

// maxCompactAttempts bounds re-planning after a concurrent writer added
// deletes to a file being rewritten.
const maxCompactAttempts = 3

// compactGroup is a set of files of one partition rewritten together.
type compactGroup struct {
	tasks []table.FileScanTask
	bytes int64
	rows  int64
}

// compactPlan is what compaction of one table snapshot would do.
type compactPlan struct {
	groups []compactGroup
	// safeDeletes are the delete files every target of which is rewritten.
	safeDeletes []iceberg.DataFile
	// unsupported explains why the table cannot be compacted, if it
	// cannot.
	unsupported string
}

// planCompaction groups the small files and the files carrying deletes of
// each partition (spec and partition values) into bins of about the target
// size. A partition's small files are rewritten only when there are
// MinInputFiles of them; files carrying deletes always are, since their
// deletes cost every read.
func planCompaction(tasks []table.FileScanTask, pol Policy) compactPlan {
	var plan compactPlan
	type partition struct {
		cands      []table.FileScanTask
		hasDeletes bool
	}
	parts := map[string]*partition{}
	var order []string
	seen := map[string]bool{}
	// targets maps each delete file to the data files it applies to.
	targets := map[string]map[string]bool{}
	deleteFiles := map[string]iceberg.DataFile{}
	small := pol.smallFileSize()
	for _, t := range tasks {
		if len(t.EqualityDeleteFiles) > 0 || len(t.DeletionVectorFiles) > 0 {
			plan.unsupported = "the table has equality deletes or deletion vectors, which edp cannot read"
			return plan
		}
		p := t.File.FilePath()
		for _, d := range t.DeleteFiles {
			if targets[d.FilePath()] == nil {
				targets[d.FilePath()] = map[string]bool{}
				deleteFiles[d.FilePath()] = d
			}
			targets[d.FilePath()][p] = true
		}
		// iceberg-go splits large files into byte-range tasks; a file is
		// rewritten whole, once.
		if seen[p] {
			continue
		}
		seen[p] = true
		key := fmt.Sprintf("%d/%v", t.File.SpecID(), sortedPartition(t.File.Partition()))
		part, ok := parts[key]
		if !ok {
			part = &partition{}
			parts[key] = part
			order = append(order, key)
		}
		withDeletes := len(t.DeleteFiles) >= pol.DeleteFileThreshold
		if t.File.FileSizeBytes() < small || withDeletes {
			part.cands = append(part.cands, t)
			part.hasDeletes = part.hasDeletes || withDeletes
		}
	}
	rewritten := map[string]bool{}
	for _, key := range order {
		part := parts[key]
		if len(part.cands) == 0 || (len(part.cands) < pol.MinInputFiles && !part.hasDeletes) {
			continue
		}
		// First-fit decreasing: few bins, each near the target size.
		slices.SortStableFunc(part.cands, func(a, b table.FileScanTask) int {
			return cmp.Compare(b.File.FileSizeBytes(), a.File.FileSizeBytes())
		})
		var bins []compactGroup
		for _, t := range part.cands {
			placed := false
			for i := range bins {
				if bins[i].bytes+t.File.FileSizeBytes() <= pol.TargetFileSize {
					bins[i].tasks = append(bins[i].tasks, t)
					bins[i].bytes += t.File.FileSizeBytes()
					bins[i].rows += t.File.Count()
					placed = true
					break
				}
			}
			if !placed {
				bins = append(bins, compactGroup{tasks: []table.FileScanTask{t}, bytes: t.File.FileSizeBytes(), rows: t.File.Count()})
			}
		}
		for _, b := range bins {
			// Rewriting one file without deletes only copies it.
			if len(b.tasks) == 1 && len(b.tasks[0].DeleteFiles) < pol.DeleteFileThreshold {
				continue
			}
			plan.groups = append(plan.groups, b)
			for _, t := range b.tasks {
				rewritten[t.File.FilePath()] = true
			}
		}
	}
	// The guard against resurrected rows: a delete file goes only when no
	// data file that stays is among its targets.
	for _, dp := range slices.Sorted(maps.Keys(targets)) {
		all := true
		for f := range targets[dp] {
			if !rewritten[f] {
				all = false
				break
			}
		}
		if all {
			plan.safeDeletes = append(plan.safeDeletes, deleteFiles[dp])
		}
	}
	return plan
}

func sortedPartition(p map[int]any) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%d=%v;", k, p[k])
	}
	return b.String()
}

// compact runs compaction, re-planning when a concurrent writer's deletes
// made the commit fail.
func compact(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, pol Policy, rep *Report, progress func(Progress)) error {
	for attempt := 1; ; attempt++ {
		err := compactOnce(ctx, l, id, opts, pol, rep, progress, attempt)
		if err == nil || !lake.IsConflict(err) || attempt == maxCompactAttempts {
			return err
		}
		opts.Logger.Info("compaction lost a race with a concurrent writer; planning again", "table", id.String(), "attempt", attempt, "err", err)
	}
}

func compactOnce(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, pol Policy, rep *Report, progress func(Progress), attempt int) error {
	// A retry plans from scratch: what an attempt that lost its commit
	// planned was not done and must not be reported.
	rep.Compaction = nil
	start := time.Now()
	tbl, err := l.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		rep.note("compaction: the table is empty")
		return nil
	}
	tasks, err := tbl.Scan(table.WithSnapshotID(snap.SnapshotID)).PlanFiles(ctx)
	if err != nil {
		return fmt.Errorf("plan files: %w", err)
	}
	plan := planCompaction(tasks, pol)
	if plan.unsupported != "" {
		rep.note("compaction skipped: %s", plan.unsupported)
		return nil
	}
	if len(plan.groups) == 0 {
		rep.note("compaction: no partition has enough small files or files with deletes")
		return nil
	}
	cr := &CompactionReport{Groups: len(plan.groups), Attempts: attempt}
	var old []iceberg.DataFile
	for _, g := range plan.groups {
		cr.InputBytes += g.bytes
		cr.InputRows += g.rows
		for _, t := range g.tasks {
			old = append(old, t.File)
		}
	}
	cr.InputFiles = len(old)
	cr.DeleteFilesRemoved = len(plan.safeDeletes)
	for _, d := range plan.safeDeletes {
		cr.DeleteBytesRemoved += d.FileSizeBytes()
	}
	rep.Compaction = cr
	if opts.DryRun {
		for _, g := range plan.groups {
			cr.OutputFiles += int(max(1, (g.bytes+pol.TargetFileSize-1)/pol.TargetFileSize))
		}
		cr.OutputBytes = cr.InputBytes
		rep.After.DataFiles += cr.OutputFiles - cr.InputFiles
		rep.After.DataBytes += cr.OutputBytes - cr.InputBytes
		rep.After.DeleteFiles -= cr.DeleteFilesRemoved
		rep.After.DeleteBytes -= cr.DeleteBytesRemoved
		return nil
	}

	var written atomic.Int64
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: l.LocalDirs(), TempDir: opts.TempDir,
		MemoryLimit: opts.MemoryLimit, Threads: opts.Threads, Progress: &written})
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	defer conn.Close()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				progress(Progress{Step: StepCompact, Done: written.Load(), Total: cr.InputRows, Unit: "rows",
					Message: fmt.Sprintf("rewriting %d files in %d groups", cr.InputFiles, cr.Groups)})
			}
		}
	}()

	var added []iceberg.DataFile
	committed := false
	defer func() {
		if !committed {
			_ = l.RemoveFiles(context.WithoutCancel(ctx), added)
		}
	}()
	resolve := duck.ResolveFor(tbl.Metadata().Schemas())
	for _, g := range plan.groups {
		tasks, fetched, err := scanTasks(ctx, l, g.tasks)
		if err != nil {
			return fmt.Errorf("rewrite files: %w", err)
		}
		q := duck.ScanSQL(tbl.Schema(), tasks, false, resolve)
		files, n, err := duck.WriteData(ctx, conn, tbl, l, q, pol.TargetFileSize)
		fetched.Release()
		if err != nil {
			return fmt.Errorf("rewrite files: %w", err)
		}
		added = append(added, files...)
		cr.OutputRows += n
	}
	for _, f := range added {
		cr.OutputBytes += f.FileSizeBytes()
	}
	cr.OutputFiles = len(added)
	if opts.beforeCommit != nil {
		opts.beforeCommit()
	}
	after, err := l.CommitRewrite(ctx, id, tbl, lake.Rewrite{Job: opts.Job, RemoveData: old, RemoveDeletes: plan.safeDeletes, AddData: added})
	if err != nil {
		// Only a conflict proves nothing was committed; after any other
		// failure the new files may be live, and orphan cleanup takes them
		// if they are not.
		committed = !lake.IsConflict(err)
		return err
	}
	committed = true
	if s := after.CurrentSnapshot(); s != nil {
		cr.SnapshotID = s.SnapshotID
	}
	cr.Duration = time.Since(start)
	progress(Progress{Step: StepCompact, Done: cr.OutputRows, Total: cr.InputRows, Unit: "rows",
		Message: fmt.Sprintf("rewrote %d files into %d", cr.InputFiles, cr.OutputFiles)})
	return nil
}

// scanTasks turns planned files into DuckDB scan tasks over local copies,
// which stay available until the caller releases them.
func scanTasks(ctx context.Context, l *lake.Lake, tasks []table.FileScanTask) ([]duck.Task, *lake.Fetched, error) {
	var refs []lake.FileRef
	for _, t := range tasks {
		refs = append(refs, lake.FileRef{URI: t.File.FilePath(), Size: t.File.FileSizeBytes()})
		for _, d := range t.DeleteFiles {
			refs = append(refs, lake.FileRef{URI: d.FilePath(), Size: d.FileSizeBytes()})
		}
	}
	local, err := l.Fetch(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	out := make([]duck.Task, 0, len(tasks))
	for _, t := range tasks {
		dt := duck.Task{Data: local.Path(t.File.FilePath()), DataURI: t.File.FilePath()}
		if vc := t.File.ValueCounts(); len(vc) > 0 {
			dt.FieldIDs = slices.Collect(maps.Keys(vc))
		}
		for _, d := range t.DeleteFiles {
			dt.Deletes = append(dt.Deletes, local.Path(d.FilePath()))
		}
		out = append(out, dt)
	}
	return out, local, nil
}
