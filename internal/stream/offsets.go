package stream

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/apache/iceberg-go/table"
)

// Offsets are the next offsets to consume, by topic and partition.
type Offsets map[string]map[int32]int64

// Get returns the offset of t/p and whether there is one.
func (o Offsets) Get(t string, p int32) (int64, bool) {
	v, ok := o[t][p]
	return v, ok
}

// Set records the next offset of t/p.
func (o Offsets) Set(t string, p int32, next int64) {
	if o[t] == nil {
		o[t] = map[int32]int64{}
	}
	o[t][p] = next
}

// Clone copies o.
func (o Offsets) Clone() Offsets {
	out := Offsets{}
	for t, ps := range o {
		out[t] = maps.Clone(ps)
	}
	return out
}

// offsetsProperty is the snapshot-summary property holding a pipeline's
// offsets: JSON of topic → partition → next offset, for every partition
// the pipeline has committed (not only those in this snapshot), so the
// newest snapshot carrying it is enough to resume from.
func offsetsProperty(pipeline string) string { return "edp.stream." + pipeline + ".offsets" }

// encodeOffsets renders offsets for a snapshot summary.
func encodeOffsets(o Offsets) string {
	b, _ := json.Marshal(o) // maps of strings and numbers always marshal
	return string(b)
}

// committedOffsets walks back from tbl's current snapshot to the newest
// one carrying the pipeline's offsets property and returns them, with the
// id of that snapshot (0 when none was found). Other writers' snapshots
// (maintenance, SQL) in between are skipped: they do not consume.
func committedOffsets(tbl *table.Table, pipeline string) (Offsets, int64, error) {
	key := offsetsProperty(pipeline)
	for s := tbl.CurrentSnapshot(); s != nil; {
		if s.Summary != nil {
			if v, ok := s.Summary.Properties[key]; ok {
				var o Offsets
				if err := json.Unmarshal([]byte(v), &o); err != nil {
					return nil, 0, fmt.Errorf("snapshot %d: property %s: %w", s.SnapshotID, key, err)
				}
				if o == nil {
					o = Offsets{}
				}
				return o, s.SnapshotID, nil
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		// A parent removed by snapshot expiry ends the walk.
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	// No snapshot in reach carries them (expired, or compaction commits
	// since): the table property written with every commit has them.
	if v, ok := tbl.Properties()[key]; ok {
		var o Offsets
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			return nil, 0, fmt.Errorf("table property %s: %w", key, err)
		}
		return o, -1, nil
	}
	return Offsets{}, 0, nil
}
