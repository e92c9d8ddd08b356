package maintain

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"slices"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
)

// rewriteManifests merges the current snapshot's data manifests once there
// are ManifestRewriteMin of them: planning reads every manifest, so many
// small ones slow every query.
func rewriteManifests(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, pol Policy, rep *Report) error {
	tbl, err := l.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	n, err := dataManifests(tbl)
	if err != nil {
		return err
	}
	if n < pol.ManifestRewriteMin {
		rep.note("manifests: %d data manifests, fewer than the %d that warrant a rewrite", n, pol.ManifestRewriteMin)
		return nil
	}
	mr := &ManifestReport{Before: n, After: n}
	rep.Manifests = mr
	if opts.DryRun {
		return nil
	}
	after, err := l.CommitMaintenance(ctx, id, tbl, lake.Maintenance{Op: lake.OpRewriteManifests, Job: opts.Job,
		Stage: func(ctx context.Context, tx *table.Transaction) error {
			// A no-op stages nothing and the commit then changes nothing.
			_, err := tx.RewriteManifests(ctx)
			return err
		}})
	if err != nil {
		return err
	}
	if mr.After, err = dataManifests(after); err != nil {
		return err
	}
	if s := after.CurrentSnapshot(); s != nil && mr.After != mr.Before {
		mr.SnapshotID = s.SnapshotID
	}
	return nil
}

// expire removes old snapshots from the metadata and then deletes the
// files only they referenced. iceberg-go would delete those files itself
// after the commit; edp does it so that a dry run can report them and the
// report can say what was freed.
func expire(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, pol Policy, rep *Report) error {
	if !pol.GCEnabled {
		rep.note("expiry skipped: %s is false", PropGCEnabled)
		return nil
	}
	before, err := l.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	er := &ExpiryReport{OlderThan: pol.MaxSnapshotAge, RetainLast: pol.MinSnapshotsToKeep}
	if opts.ExpireOlderThan > 0 {
		er.OlderThan = opts.ExpireOlderThan
	}
	if opts.RetainLast > 0 {
		er.RetainLast = opts.RetainLast
	}
	stage := func(_ context.Context, tx *table.Transaction) error {
		return tx.ExpireSnapshots(table.WithOlderThan(er.OlderThan), table.WithRetainLast(er.RetainLast), table.WithPostCommit(false))
	}
	// Plan on a transaction that is never committed, to learn what expires.
	tx := before.NewTransaction()
	if err := stage(ctx, tx); err != nil {
		return fmt.Errorf("plan expiry: %w", err)
	}
	staged, err := tx.StagedTable()
	if err != nil {
		return fmt.Errorf("plan expiry: %w", err)
	}
	after := staged.Table
	if len(expiredIDs(before, after)) == 0 {
		er.Kept = len(before.Metadata().Snapshots())
		rep.Expiry = er
		return nil
	}
	if !opts.DryRun {
		if after, err = l.CommitMaintenance(ctx, id, before, lake.Maintenance{Op: lake.OpExpire, Job: opts.Job, Stage: stage}); err != nil {
			return err
		}
	}
	er.Expired = expiredIDs(before, after)
	er.Kept = len(after.Metadata().Snapshots())
	files, err := expiredFiles(ctx, before, after)
	if err != nil {
		return err
	}
	// Expiry deletes what the old metadata names; TableFS refuses files
	// outside the table's directory, which a client's commit may name.
	fs, err := l.TableFS(ctx, before)
	if err != nil {
		return err
	}
	for _, f := range files {
		size := fileSize(fs, f)
		if !opts.DryRun {
			if err := fs.Remove(f); err != nil && !errors.Is(err, iofs.ErrNotExist) {
				// The metadata no longer names the file, so orphan cleanup
				// removes it later; one outside the table's directory
				// (refused by TableFS) is not the table's to delete.
				opts.Logger.Warn("could not delete a file of an expired snapshot", "table", id.String(), "file", f, "err", err)
				continue
			}
		}
		er.FilesDeleted++
		er.BytesDeleted += size
	}
	rep.Expiry = er
	rep.After.Snapshots = er.Kept
	return nil
}

// expiredIDs lists the snapshots of before that after no longer has.
func expiredIDs(before, after *table.Table) []int64 {
	keep := map[int64]bool{}
	for _, s := range after.Metadata().Snapshots() {
		keep[s.SnapshotID] = true
	}
	var out []int64
	for _, s := range before.Metadata().Snapshots() {
		if !keep[s.SnapshotID] {
			out = append(out, s.SnapshotID)
		}
	}
	return out
}

// expiredFiles lists the files the snapshots before had and after lacks
// referenced and no snapshot of after references: their manifest lists,
// manifests and the data and delete files in them. It follows iceberg-go's
// own post-commit cleanup (removeSnapshotsUpdate.PostCommit): a file a
// retained manifest lists as live, or as existing, stays.
func expiredFiles(ctx context.Context, before, after *table.Table) ([]string, error) {
	fs, err := before.FS(ctx)
	if err != nil {
		return nil, err
	}
	retainedManifests := map[string]iceberg.ManifestFile{}
	retainedLists := map[string]bool{}
	for _, s := range after.Metadata().Snapshots() {
		retainedLists[s.ManifestList] = true
		mans, err := s.Manifests(fs)
		if err != nil {
			return nil, fmt.Errorf("read manifests of snapshot %d: %w", s.SnapshotID, err)
		}
		for _, m := range mans {
			retainedManifests[m.FilePath()] = m
		}
	}
	candidates := map[string]bool{}
	visited := map[string]bool{}
	kept := map[int64]bool{}
	for _, s := range after.Metadata().Snapshots() {
		kept[s.SnapshotID] = true
	}
	for _, s := range before.Metadata().Snapshots() {
		if kept[s.SnapshotID] {
			continue
		}
		if !retainedLists[s.ManifestList] {
			candidates[s.ManifestList] = true
		}
		mans, err := s.Manifests(fs)
		if err != nil {
			return nil, fmt.Errorf("read manifests of snapshot %d: %w", s.SnapshotID, err)
		}
		for _, m := range mans {
			if _, ok := retainedManifests[m.FilePath()]; ok || visited[m.FilePath()] {
				continue
			}
			visited[m.FilePath()] = true
			candidates[m.FilePath()] = true
			for e, err := range m.Entries(fs, false) {
				if err != nil {
					return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
				}
				candidates[e.DataFile().FilePath()] = true
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	for _, m := range retainedManifests {
		for e, err := range m.Entries(fs, false) {
			if err != nil {
				return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			if e.Status() != iceberg.EntryStatusDELETED {
				delete(candidates, e.DataFile().FilePath())
			}
		}
	}
	return slices.Sorted(maps.Keys(candidates)), nil
}

// removeOrphans deletes files under the table's location that no snapshot
// or metadata file references and that are older than minAge — younger
// ones may be the files of a write that has not committed yet.
func removeOrphans(ctx context.Context, l *lake.Lake, id lake.Ident, opts Options, minAge time.Duration, pol Policy, rep *Report) error {
	if !pol.GCEnabled {
		rep.note("orphan cleanup skipped: %s is false", PropGCEnabled)
		return nil
	}
	tbl, err := l.LoadTable(ctx, id)
	if err != nil {
		return err
	}
	// A file under this table's directory that it does not reference may
	// be another table's, when the two share a directory (tables made
	// before locations were unique, one renamed and another created under
	// the old name).
	if other, err := l.SharedLocation(ctx, id, tbl.Location()); err != nil {
		return err
	} else if other != "" {
		rep.note("orphan cleanup skipped: %s shares its directory with table %s", id, other)
		return nil
	}
	res, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(minAge), table.WithDryRun(opts.DryRun))
	if err != nil {
		return fmt.Errorf("remove orphan files: %w", err)
	}
	or := &OrphanReport{MinAge: minAge}
	sizes := map[string]int64{}
	for _, f := range res.OrphanFiles {
		sizes[f.Path] = f.SizeBytes
	}
	gone := res.OrphanFileLocations
	if !opts.DryRun {
		gone = res.DeletedFiles
	}
	for _, f := range gone {
		or.Files = append(or.Files, f)
		or.Bytes += sizes[f]
	}
	if n := len(res.OrphanFileLocations) - len(gone); n > 0 {
		rep.note("orphan cleanup: %d orphan files could not be deleted", n)
	}
	slices.Sort(or.Files)
	rep.Orphans = or
	return nil
}
