package maintain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/jobs"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/policy"
)

// ErrBusy is returned when maintenance of a table is already running in
// this process.
var ErrBusy = errors.New("maintenance of this table is already running")

// Steps of a maintenance run, in the order they run; Progress.Step names
// one.
const (
	StepCompact   = "compact"
	StepManifests = "manifests"
	StepExpire    = "expire"
	StepOrphans   = "orphans"
)

// Options tune one Run. The zero value follows the table's policy.
type Options struct {
	// DryRun plans every step and reports what it would do, changing
	// nothing.
	DryRun bool
	// ExpireOlderThan and RetainLast override the policy's snapshot
	// retention when positive.
	ExpireOlderThan time.Duration
	RetainLast      int
	// OrphansOlderThan overrides the policy's orphan minimum age when
	// positive. Below MinOrphanAge it is refused unless AllowYoungOrphans.
	OrphansOlderThan  time.Duration
	AllowYoungOrphans bool
	// Skip* leave a step out.
	SkipCompaction, SkipManifests, SkipExpiry, SkipOrphans bool
	// Job names the run in snapshot summaries; empty means the ID of the
	// job running it, or "maintain".
	Job string
	// TempDir, MemoryLimit and Threads configure the DuckDB that rewrites
	// files; TempDir defaults to "tmp" beside the warehouse.
	TempDir     string
	MemoryLimit string
	Threads     int
	Logger      *slog.Logger

	// beforeCommit, when set by a test, runs after compaction has written
	// its files and before it commits them, to let a concurrent writer in.
	beforeCommit func()
}

// Progress is how far a run has got.
type Progress struct {
	Step    string // one of the Step* constants
	Done    int64
	Total   int64  // 0 while unknown
	Unit    string // "rows", "files"
	Message string
}

// FileStats describes the live files of a table's current snapshot.
type FileStats struct {
	Snapshots   int   `json:"snapshots"`
	Manifests   int   `json:"manifests"`
	DataFiles   int   `json:"data_files"`
	DataBytes   int64 `json:"data_bytes"`
	DeleteFiles int   `json:"delete_files"`
	DeleteBytes int64 `json:"delete_bytes"`
	Rows        int64 `json:"rows"` // records in data files, deleted ones included
}

// CompactionReport is what compaction did (or, in a dry run, would do;
// output figures are then estimates).
type CompactionReport struct {
	Groups      int   `json:"groups"`
	InputFiles  int   `json:"input_files"`
	InputBytes  int64 `json:"input_bytes"`
	InputRows   int64 `json:"input_rows"`
	OutputFiles int   `json:"output_files"`
	OutputBytes int64 `json:"output_bytes"`
	OutputRows  int64 `json:"output_rows"`
	// DeleteFilesRemoved are position-delete files folded into the new
	// files; delete files that also apply to a file not rewritten stay.
	DeleteFilesRemoved int   `json:"delete_files_removed"`
	DeleteBytesRemoved int64 `json:"delete_bytes_removed"`
	Attempts           int   `json:"attempts"`
	SnapshotID         int64 `json:"snapshot_id,omitempty"`
	// Duration is the time spent reading, writing and committing.
	Duration time.Duration `json:"duration"`
}

// ManifestReport is what the manifest rewrite did.
type ManifestReport struct {
	Before     int   `json:"before"`
	After      int   `json:"after"`
	SnapshotID int64 `json:"snapshot_id,omitempty"`
}

// ExpiryReport is what snapshot expiry did.
type ExpiryReport struct {
	OlderThan  time.Duration `json:"older_than"`
	RetainLast int           `json:"retain_last"`
	Expired    []int64       `json:"expired"`
	Kept       int           `json:"kept"`
	// FilesDeleted and BytesDeleted are the files only expired snapshots
	// referenced: manifest lists, manifests, data and delete files.
	FilesDeleted int   `json:"files_deleted"`
	BytesDeleted int64 `json:"bytes_deleted"`
}

// OrphanReport is what orphan cleanup did.
type OrphanReport struct {
	MinAge time.Duration `json:"min_age"`
	Files  []string      `json:"files"`
	Bytes  int64         `json:"bytes"`
}

// Report is the outcome of one Run. A nil step report means the step did
// not run; Notes say why.
type Report struct {
	Table      string            `json:"table"`
	DryRun     bool              `json:"dry_run"`
	Policy     Policy            `json:"policy"`
	Before     FileStats         `json:"before"`
	After      FileStats         `json:"after"` // estimated in a dry run
	Compaction *CompactionReport `json:"compaction,omitempty"`
	Manifests  *ManifestReport   `json:"manifests,omitempty"`
	Expiry     *ExpiryReport     `json:"expiry,omitempty"`
	Orphans    *OrphanReport     `json:"orphans,omitempty"`
	// ReclaimedBytes is the storage freed (or, dry, that would be): files
	// of expired snapshots and orphans.
	ReclaimedBytes int64         `json:"reclaimed_bytes"`
	Notes          []string      `json:"notes,omitempty"`
	Duration       time.Duration `json:"duration"`
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Run maintains one table once: compaction, manifest rewrite, snapshot
// expiry and orphan cleanup, each as the table's policy and opts say. It
// asks policy for an admin action on the table first. progress, if not
// nil, is called as the run advances, possibly from another goroutine.
// Run does not serialize runs on a table; Scheduler does.
func Run(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, progress func(Progress)) (*Report, error) {
	start := time.Now()
	if progress == nil {
		progress = func(Progress) {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Job == "" {
		opts.Job = "maintain"
		if jid, ok := jobs.IDFromContext(ctx); ok {
			opts.Job = jid
		}
	}
	if opts.TempDir == "" {
		opts.TempDir = l.ScratchDir()
	}
	if err := l.Authorize(ctx, policy.Admin, policy.Resource{Namespace: id.Namespace, Table: id.Name}); err != nil {
		return nil, err
	}
	tbl, err := l.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	pol, err := PolicyFor(tbl.Properties())
	if err != nil {
		return nil, fmt.Errorf("maintain %s: %w", id, err)
	}
	orphanAge := pol.OrphanMinAge
	if opts.OrphansOlderThan > 0 {
		orphanAge = opts.OrphansOlderThan
	}
	if orphanAge < MinOrphanAge && !opts.AllowYoungOrphans && !opts.SkipOrphans {
		return nil, fmt.Errorf("%w: orphan files younger than %s may belong to a write in progress; refusing to remove files only %s old", lake.ErrInvalid, MinOrphanAge, orphanAge)
	}
	if opts.ExpireOlderThan < 0 || opts.RetainLast < 0 {
		return nil, fmt.Errorf("%w: expiry age and retained snapshot count must not be negative", lake.ErrInvalid)
	}
	rep := &Report{Table: id.String(), DryRun: opts.DryRun, Policy: pol}
	if rep.Before, err = fileStats(ctx, tbl); err != nil {
		return nil, fmt.Errorf("maintain %s: %w", id, err)
	}
	rep.After = rep.Before

	steps := []struct {
		name string
		skip bool
		run  func() error
	}{
		{StepCompact, opts.SkipCompaction, func() error { return compact(ctx, l, id, opts, pol, rep, progress) }},
		{StepManifests, opts.SkipManifests, func() error { return rewriteManifests(ctx, l, id, opts, pol, rep) }},
		{StepExpire, opts.SkipExpiry, func() error { return expire(ctx, l, id, opts, pol, rep) }},
		{StepOrphans, opts.SkipOrphans, func() error { return removeOrphans(ctx, l, id, opts, orphanAge, pol, rep) }},
	}
	for _, s := range steps {
		if s.skip {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("maintain %s: %w", id, err)
		}
		progress(Progress{Step: s.name, Message: s.name})
		if err := s.run(); err != nil {
			rep.Duration = time.Since(start)
			return rep, fmt.Errorf("maintain %s: %s: %w", id, s.name, err)
		}
	}
	if !opts.DryRun {
		if tbl, err = l.LoadTable(ctx, id); err != nil {
			return rep, err
		}
		if rep.After, err = fileStats(ctx, tbl); err != nil {
			return rep, fmt.Errorf("maintain %s: %w", id, err)
		}
	}
	if rep.Expiry != nil {
		rep.ReclaimedBytes += rep.Expiry.BytesDeleted
	}
	if rep.Orphans != nil {
		rep.ReclaimedBytes += rep.Orphans.Bytes
	}
	rep.Duration = time.Since(start)
	opts.Logger.Info("maintained table", "table", id.String(), "dry_run", opts.DryRun,
		"data_files_before", rep.Before.DataFiles, "data_files_after", rep.After.DataFiles,
		"reclaimed_bytes", rep.ReclaimedBytes, "duration", rep.Duration)
	return rep, nil
}

// fileStats counts the live files of tbl's current snapshot from its
// manifests.
func fileStats(ctx context.Context, tbl *table.Table) (FileStats, error) {
	st := FileStats{Snapshots: len(tbl.Metadata().Snapshots())}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return st, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return st, err
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return st, fmt.Errorf("read manifests: %w", err)
	}
	st.Manifests = len(mans)
	for _, m := range mans {
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return st, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			df := e.DataFile()
			if df.ContentType() == iceberg.EntryContentData {
				st.DataFiles++
				st.DataBytes += df.FileSizeBytes()
				st.Rows += df.Count()
			} else {
				st.DeleteFiles++
				st.DeleteBytes += df.FileSizeBytes()
			}
		}
	}
	return st, nil
}

// dataManifests counts the data manifests of tbl's current snapshot.
func dataManifests(tbl *table.Table) (int, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return 0, nil
	}
	fs, err := tbl.FS(context.Background())
	if err != nil {
		return 0, err
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return 0, fmt.Errorf("read manifests: %w", err)
	}
	n := 0
	for _, m := range mans {
		if m.ManifestContent() == iceberg.ManifestContentData {
			n++
		}
	}
	return n, nil
}

// fileSize is the size of a table file, 0 if it is gone or cannot be
// told.
func fileSize(fsys icebergio.IO, uri string) int64 {
	st, ok := fsys.(icebergio.StatIO)
	if !ok {
		return 0
	}
	fi, err := st.Stat(uri)
	if err != nil {
		return 0
	}
	return fi.Size()
}
