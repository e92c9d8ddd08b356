package maintain

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/edp-data/edp/internal/lake"
)

// Table properties that set a table's maintenance policy. The history.*
// and gc.enabled names are Iceberg's own, so other engines read the same
// retention; the edp.maintain.* names are edp's.
const (
	PropEnabled             = "edp.maintain.enabled"
	PropTargetFileSize      = "edp.maintain.target-file-size"
	PropMinInputFiles       = "edp.maintain.min-input-files"
	PropSmallFileRatio      = "edp.maintain.small-file-ratio"
	PropDeleteFileThreshold = "edp.maintain.delete-file-threshold"
	PropOrphanMinAge        = "edp.maintain.orphan-min-age"
	PropManifestRewriteMin  = "edp.maintain.manifest-rewrite-min-manifests"
	PropMaxSnapshotAgeMs    = table.MaxSnapshotAgeMsKey   // history.expire.max-snapshot-age-ms
	PropMinSnapshotsToKeep  = table.MinSnapshotsToKeepKey // history.expire.min-snapshots-to-keep
	PropGCEnabled           = table.GCEnabledKey          // gc.enabled
)

// Policy defaults.
const (
	DefaultMinInputFiles       = 5
	DefaultSmallFileRatio      = 0.75
	DefaultDeleteFileThreshold = 1
	DefaultOrphanMinAge        = 72 * time.Hour
	DefaultManifestRewriteMin  = 10
	DefaultMaxSnapshotAge      = 5 * 24 * time.Hour
	DefaultMinSnapshotsToKeep  = 1
	// MinOrphanAge is the youngest a file may be and still be removed as
	// an orphan: a file younger than this may belong to a write that has
	// not committed yet. Options.AllowYoungOrphans lifts it, for tests.
	MinOrphanAge = time.Hour
)

// Policy is what maintenance does to one table, read from its properties.
type Policy struct {
	// Enabled lets the Scheduler maintain the table; an explicit run
	// (edp maintain) ignores it.
	Enabled bool `json:"enabled"`
	// TargetFileSize is the size compaction writes files toward.
	TargetFileSize int64 `json:"target_file_size"`
	// MinInputFiles is how many small files a partition needs before they
	// are worth compacting; files carrying deletes are compacted anyway.
	MinInputFiles int `json:"min_input_files"`
	// SmallFileRatio: a file smaller than SmallFileRatio*TargetFileSize is
	// small.
	SmallFileRatio float64 `json:"small_file_ratio"`
	// DeleteFileThreshold: a data file with at least this many position
	// delete files is rewritten whatever its size.
	DeleteFileThreshold int `json:"delete_file_threshold"`
	// MaxSnapshotAge and MinSnapshotsToKeep: snapshots older than the age
	// expire, except the newest MinSnapshotsToKeep.
	MaxSnapshotAge     time.Duration `json:"max_snapshot_age"`
	MinSnapshotsToKeep int           `json:"min_snapshots_to_keep"`
	// OrphanMinAge is how old an unreferenced file must be to be removed.
	OrphanMinAge time.Duration `json:"orphan_min_age"`
	// ManifestRewriteMin is the number of data manifests in the current
	// snapshot at which they are merged.
	ManifestRewriteMin int `json:"manifest_rewrite_min"`
	// GCEnabled is Iceberg's gc.enabled: when false no file is ever
	// deleted, so expiry and orphan cleanup are skipped.
	GCEnabled bool `json:"gc_enabled"`
}

// PolicyFor reads the maintenance policy from table properties, with
// defaults for what they do not set. A malformed value is an error naming
// the property.
func PolicyFor(props map[string]string) (Policy, error) {
	p := Policy{
		Enabled:             true,
		TargetFileSize:      table.WriteTargetFileSizeBytesDefault,
		MinInputFiles:       DefaultMinInputFiles,
		SmallFileRatio:      DefaultSmallFileRatio,
		DeleteFileThreshold: DefaultDeleteFileThreshold,
		MaxSnapshotAge:      DefaultMaxSnapshotAge,
		MinSnapshotsToKeep:  DefaultMinSnapshotsToKeep,
		OrphanMinAge:        DefaultOrphanMinAge,
		ManifestRewriteMin:  DefaultManifestRewriteMin,
		GCEnabled:           true,
	}
	var errs []string
	bad := func(k, want string) { errs = append(errs, fmt.Sprintf("%s = %q: want %s", k, props[k], want)) }
	boolProp := func(k string, dst *bool) {
		if v, ok := props[k]; ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				bad(k, "true or false")
				return
			}
			*dst = b
		}
	}
	intProp := func(k string, min int64, dst func(int64)) {
		if v, ok := props[k]; ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < min {
				bad(k, fmt.Sprintf("an integer of at least %d", min))
				return
			}
			dst(n)
		}
	}
	boolProp(PropEnabled, &p.Enabled)
	boolProp(PropGCEnabled, &p.GCEnabled)
	// The write target is the compaction target unless maintenance says
	// otherwise: compaction should make the files a good write would.
	intProp(table.WriteTargetFileSizeBytesKey, 1, func(n int64) { p.TargetFileSize = n })
	intProp(PropTargetFileSize, 1, func(n int64) { p.TargetFileSize = n })
	intProp(PropMinInputFiles, 1, func(n int64) { p.MinInputFiles = int(n) })
	intProp(PropDeleteFileThreshold, 1, func(n int64) { p.DeleteFileThreshold = int(n) })
	intProp(PropManifestRewriteMin, 2, func(n int64) { p.ManifestRewriteMin = int(n) })
	intProp(PropMaxSnapshotAgeMs, 0, func(n int64) { p.MaxSnapshotAge = time.Duration(n) * time.Millisecond })
	intProp(PropMinSnapshotsToKeep, 1, func(n int64) { p.MinSnapshotsToKeep = int(n) })
	if v, ok := props[PropSmallFileRatio]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || f > 1 {
			bad(PropSmallFileRatio, "a number in (0, 1]")
		} else {
			p.SmallFileRatio = f
		}
	}
	if v, ok := props[PropOrphanMinAge]; ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < MinOrphanAge {
			bad(PropOrphanMinAge, "a duration of at least "+MinOrphanAge.String())
		} else {
			p.OrphanMinAge = d
		}
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("%w: maintenance policy: %s", lake.ErrInvalid, strings.Join(errs, "; "))
	}
	return p, nil
}

// smallFileSize is the size below which a file is small.
func (p Policy) smallFileSize() int64 { return int64(float64(p.TargetFileSize) * p.SmallFileRatio) }
