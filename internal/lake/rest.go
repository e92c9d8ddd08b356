package lake

import (
	"cmp"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/klauspost/compress/zstd"

	"github.com/edp-data/edp/internal/policy"
)

// This file is the lake's side of the Iceberg REST catalog
// (internal/restcatalog): table metadata built, checked and swapped in the
// catalog as a REST client asks, under the same policy, location rules and
// CommitEvents as edp's own changes.

// ErrCommitFailed marks a change that lost to another writer: a
// requirement of the commit no longer holds, or the table moved between
// read and swap. A retry on fresh metadata may succeed (REST 409).
var ErrCommitFailed = table.ErrCommitFailed

// Operations of changes made through the Iceberg REST catalog that none of
// the other Op* constants describe.
const (
	OpCommit      = "commit"       // table metadata changed in several ways at once, or in ways edp has no name for
	OpCreateView  = "create_view"  // view created
	OpReplaceView = "replace_view" // view metadata committed
	OpDropView    = "drop_view"    // view dropped
	OpRenameView  = "rename_view"  // view renamed or moved
)

// TableChange is one table's part of a commit: requirements checked against
// its current metadata, then updates applied in order (Iceberg REST
// CommitTableRequest).
type TableChange struct {
	Table        Ident
	Requirements []table.Requirement
	Updates      []table.Update
}

// TableState is a table's metadata and the file that holds it.
type TableState struct {
	Metadata         table.Metadata
	MetadataLocation string
}

// writeActions are the updates a plain writer (policy.Write) may commit:
// new snapshots, the branches that point at them and their statistics.
// Everything else changes the table's definition and is policy.Admin.
var writeActions = map[string]bool{
	table.UpdateAddSnapshot: true, table.UpdateSetSnapshotRef: true,
	table.UpdateSetStatistics: true, table.UpdateRemoveStatistics: true,
	table.UpdateSetPartitionStatistics: true, table.UpdateRemovePartitionStatistics: true,
}

// ErrSetAndRemoved refuses a namespace-properties update that both sets
// and removes one key (REST 422); it comes wrapped with ErrInvalid.
var ErrSetAndRemoved = errors.New("property both set and removed")

// StageTable builds the metadata of a new table without committing it: a
// REST create with stage-create, which the client commits later with an
// assert-create requirement. Field ids are assigned afresh (the request's
// partition spec and sort order refer to the request schema's ids). An
// empty location lets edp choose one inside the warehouse; a given one must
// lie inside it, apart from every other table (checked when the table is
// created).
func (l *Lake) StageTable(ctx context.Context, id Ident, schema *iceberg.Schema, spec *iceberg.PartitionSpec, order table.SortOrder, location string, props map[string]string) (table.Metadata, error) {
	if err := validName("namespace", id.Namespace); err != nil {
		return nil, err
	}
	if err := validName("table", id.Name); err != nil {
		return nil, err
	}
	if err := checkProperties(props); err != nil {
		return nil, err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, id.resource()); err != nil {
		return nil, err
	}
	if ok, err := l.cat.CheckNamespaceExists(ctx, table.Identifier{id.Namespace}); err != nil {
		return nil, fmt.Errorf("create table %s: %w", id, err)
	} else if !ok {
		return nil, fmt.Errorf("create table %s: %w: %s", id, ErrNoSuchNamespace, id.Namespace)
	}
	// Iceberg REST spec, createTable: a staged create of an existing name
	// is 409 AlreadyExistsException too, not only its later commit.
	if taken, err := l.nameTaken(ctx, id); err != nil {
		return nil, fmt.Errorf("create table %s: %w", id, err)
	} else if taken {
		return nil, fmt.Errorf("create table %s: %w", id, ErrTableExists)
	}
	loc := strings.TrimSuffix(location, "/")
	if loc == "" {
		var err error
		if loc, err = l.newTableLocation(id); err != nil {
			return nil, err
		}
	} else if !l.insideWarehouse(loc) {
		return nil, fmt.Errorf("%w: table %s: location %q is outside the warehouse %s", ErrInvalid, id, loc, l.whURI)
	}
	p := iceberg.Properties{}
	maps.Copy(p, props)
	// DuckDB, edp's reader, cannot read v3 deletion vectors; a client
	// that needs v3 asks for it explicitly.
	if _, ok := p[table.PropertyFormatVersion]; !ok {
		p[table.PropertyFormatVersion] = "2"
	}
	if spec == nil {
		spec = iceberg.UnpartitionedSpec
	}
	meta, err := table.NewMetadata(schema, spec, order, loc, p)
	if err != nil {
		return nil, fmt.Errorf("%w: create table %s: %w", ErrInvalid, id, err)
	}
	return meta, nil
}

// CreateTableMetadata creates a table from staged metadata (StageTable's)
// in one step: writes its first metadata file and adds it to the catalog.
func (l *Lake) CreateTableMetadata(ctx context.Context, id Ident, meta table.Metadata) (TableState, error) {
	start := time.Now()
	st, err := l.create(ctx, id, meta)
	if err != nil {
		err = fmt.Errorf("create table %s: %w", id, err)
	}
	l.emitState(ctx, CommitEvent{Table: id, Operation: OpCreate}, start, st, err)
	return st, err
}

func (l *Lake) create(ctx context.Context, id Ident, meta table.Metadata) (TableState, error) {
	if err := l.checkNewLocation(ctx, id, meta.Location()); err != nil {
		return TableState{}, err
	}
	loc, err := newMetadataLocation(meta, -1)
	if err != nil {
		return TableState{}, err
	}
	if err := l.writeMetadata(ctx, meta, loc); err != nil {
		return TableState{}, err
	}
	if err := l.inCatalogTx(ctx, func(tx *sql.Tx) error { return l.insertRowTx(ctx, tx, id, loc, TableKind) }); err != nil {
		landed, remove := l.settle(ctx, err, map[Ident]string{id: loc})
		if remove {
			l.removeFile(ctx, loc)
		}
		if !landed {
			return TableState{}, err
		}
	}
	return TableState{Metadata: meta, MetadataLocation: loc}, nil
}

// CommitTables commits changes to one or more tables atomically: each
// change's requirements are checked against its table's current metadata
// and its updates applied; the new metadata files are written; then one
// catalog transaction swaps every table's metadata location, each only if
// it is still the one that was read. Either all tables change or none
// does. A change whose table does not exist creates it when it requires
// assert-create (the second step of a staged create).
//
// A failed requirement or a lost race is ErrCommitFailed; an update the
// table cannot take is ErrInvalid. Updates that move files outside the
// table's own directory are refused: a new location, properties naming
// paths, or snapshots whose files lie elsewhere.
func (l *Lake) CommitTables(ctx context.Context, changes []TableChange) ([]TableState, error) {
	if len(changes) == 0 {
		return nil, fmt.Errorf("%w: a commit needs at least one table change", ErrInvalid)
	}
	seen := map[Ident]bool{}
	for _, c := range changes {
		if err := validName("namespace", c.Table.Namespace); err != nil {
			return nil, err
		}
		if err := validName("table", c.Table.Name); err != nil {
			return nil, err
		}
		if seen[c.Table] {
			return nil, fmt.Errorf("%w: table %s appears twice in one commit", ErrInvalid, c.Table)
		}
		seen[c.Table] = true
		// Every commit writes; whether it needs more is known once the
		// updates are applied (see staged.action).
		if err := l.authz.Authorize(ctx, policy.Write, c.Table.resource()); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	staged := make([]*stagedChange, len(changes))
	var err error
	for i, c := range changes {
		if staged[i], err = l.stageChange(ctx, c); err != nil {
			break
		}
	}
	if err == nil {
		if l.beforeSwap != nil {
			l.beforeSwap()
		}
		err = l.swap(ctx, staged)
	}
	remove := true
	if err != nil {
		rows := map[Ident]string{}
		for _, s := range staged {
			if s != nil && s.written {
				rows[s.id] = s.after.MetadataLocation
			}
		}
		var landed bool
		if landed, remove = l.settle(ctx, err, rows); landed {
			err = nil
		}
	}
	out := make([]TableState, len(changes))
	for i, c := range changes {
		s := staged[i]
		ev := CommitEvent{Table: c.Table, Operation: OpCommit}
		var st TableState
		if s != nil {
			ev = s.event(c.Table)
			st = s.after
		}
		cerr := err
		if cerr != nil {
			if errors.Is(cerr, ErrCommitFailed) {
				ev.Conflicts = 1
			}
			cerr = fmt.Errorf("commit %s: %w", c.Table, cerr)
			st = TableState{}
		}
		if s != nil || cerr != nil && !errors.Is(cerr, policy.ErrDenied) {
			l.emitState(ctx, ev, start, st, cerr)
		}
		out[i] = st
	}
	if err != nil {
		for _, s := range staged {
			if remove && s != nil && s.written {
				l.removeFile(ctx, s.after.MetadataLocation)
			}
		}
		if len(changes) == 1 {
			return nil, fmt.Errorf("commit %s: %w", changes[0].Table, err)
		}
		return nil, fmt.Errorf("commit transaction: %w", err)
	}
	return out, nil
}

// stagedChange is one table's change, checked and written, waiting for the
// catalog swap.
type stagedChange struct {
	id      Ident
	before  *table.Table // nil when the commit creates the table
	after   TableState
	updates []table.Update
	noop    bool // the updates changed nothing: nothing to write or swap
	written bool // after's metadata file exists and must go if the swap fails
}

func (l *Lake) stageChange(ctx context.Context, c TableChange) (*stagedChange, error) {
	s := &stagedChange{id: c.Table, updates: c.Updates}
	cur, err := l.cat.LoadTable(ctx, c.Table.iceberg())
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace):
		if !requiresCreate(c.Requirements) {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchTable, c.Table)
		}
	case err != nil:
		return nil, err
	default:
		s.before = cur
	}
	var curMeta table.Metadata
	base := table.Metadata(nil)
	baseLoc := ""
	if s.before != nil {
		curMeta, base, baseLoc = s.before.Metadata(), s.before.Metadata(), s.before.MetadataLocation()
	} else {
		// A staged create starts from empty metadata, as iceberg-go's own
		// catalogs do; the updates carry the whole table.
		if base, err = table.NewMetadata(iceberg.NewSchema(0), nil, table.UnsortedSortOrder, "", nil); err != nil {
			return nil, err
		}
	}
	// Iceberg REST spec, CommitTableRequest: "if any requirement is not
	// met, the commit fails with 409".
	for _, r := range c.Requirements {
		if err := r.Validate(curMeta); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCommitFailed, err)
		}
	}
	next, err := table.UpdateTableMetadata(base, c.Updates, baseLoc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if s.before != nil && next.Equals(curMeta) {
		s.noop, s.after = true, TableState{Metadata: curMeta, MetadataLocation: baseLoc}
		return s, nil
	}
	if err := l.checkChange(ctx, s, curMeta, next); err != nil {
		return nil, err
	}
	if s.before == nil {
		if err := l.authz.Authorize(ctx, policy.Admin, c.Table.resource()); err != nil {
			return nil, err
		}
	} else if action := s.action(curMeta, next); action != policy.Write {
		if err := l.authz.Authorize(ctx, action, c.Table.resource()); err != nil {
			return nil, err
		}
	}
	version := -1
	if s.before != nil {
		version = metadataVersion(baseLoc)
	}
	loc, err := newMetadataLocation(next, version)
	if err != nil {
		return nil, err
	}
	if err := l.writeMetadata(ctx, next, loc); err != nil {
		return nil, err
	}
	s.written, s.after = true, TableState{Metadata: next, MetadataLocation: loc}
	return s, nil
}

func requiresCreate(reqs []table.Requirement) bool {
	for _, r := range reqs {
		if r.GetType() == "assert-create" {
			return true
		}
	}
	return false
}

// action is the policy action a change needs: Write when it only adds
// snapshots and points branches at them, Admin for anything else:
// moving a branch back to an older snapshot (a rollback), creating,
// moving or retyping a tag, or setting any ref's retention — expiry
// honours per-ref retention, so a writer could otherwise expire history.
func (s *stagedChange) action(before, after table.Metadata) policy.Action {
	for _, u := range s.updates {
		if !writeActions[u.Action()] {
			return policy.Admin
		}
	}
	for name, ref := range after.Refs() {
		old, had := refOf(before, name)
		if had && old.Equals(ref) {
			continue
		}
		if ref.SnapshotRefType != table.BranchRef {
			return policy.Admin
		}
		// A new branch has no retention of its own; a moved one keeps its
		// type and retention as they were.
		if !had {
			old = table.SnapshotRef{SnapshotID: ref.SnapshotID, SnapshotRefType: table.BranchRef}
		}
		moved := ref
		moved.SnapshotID = old.SnapshotID
		if !old.Equals(moved) {
			return policy.Admin
		}
		if before.SnapshotByID(ref.SnapshotID) != nil {
			return policy.Admin
		}
	}
	return policy.Write
}

func refOf(m table.Metadata, name string) (table.SnapshotRef, bool) {
	for n, r := range m.Refs() {
		if n == name {
			return r, true
		}
	}
	return table.SnapshotRef{}, false
}

// checkChange keeps edp's guarantees for changes edp did not write itself:
// a table's files stay in its own directory inside the warehouse, so that
// purge, orphan cleanup and DuckDB's sandbox see every file.
func (l *Lake) checkChange(ctx context.Context, s *stagedChange, before, after table.Metadata) error {
	if before == nil {
		if err := l.checkNewLocation(ctx, s.id, after.Location()); err != nil {
			return err
		}
	} else if after.Location() != before.Location() {
		return fmt.Errorf("%w: table %s: the location cannot change: edp places table files inside the warehouse", ErrInvalid, s.id)
	}
	changed := map[string]string{}
	for k, v := range after.Properties() {
		if before == nil || before.Properties()[k] != v {
			changed[k] = v
		}
	}
	if err := checkProperties(changed); err != nil {
		return err
	}
	if err := l.checkNewStatistics(s.id, before, after); err != nil {
		return err
	}
	return l.checkNewSnapshots(ctx, s.id, before, after)
}

// checkNewStatistics refuses statistics and partition-statistics files
// outside the table's directory: a purge deletes every statistics file the
// metadata names, even with gc.enabled=false, since they are not data.
func (l *Lake) checkNewStatistics(id Ident, before, after table.Metadata) error {
	old := map[string]bool{}
	if before != nil {
		for f := range before.Statistics() {
			old[f.StatisticsPath] = true
		}
		for f := range before.PartitionStatistics() {
			old[f.StatisticsPath] = true
		}
	}
	var paths []string
	for f := range after.Statistics() {
		paths = append(paths, f.StatisticsPath)
	}
	for f := range after.PartitionStatistics() {
		paths = append(paths, f.StatisticsPath)
	}
	for _, p := range paths {
		if !old[p] && !l.ownsFile(after.Location(), p) {
			return fmt.Errorf("%w: table %s: statistics file %s is outside the table's directory", ErrInvalid, id, p)
		}
	}
	return nil
}

// checkNewLocation accepts a new table's location only inside the
// warehouse and apart from every other table's directory.
func (l *Lake) checkNewLocation(ctx context.Context, id Ident, loc string) error {
	if loc == "" || !l.insideWarehouse(loc) {
		return fmt.Errorf("%w: table %s: location %q is outside the warehouse %s", ErrInvalid, id, loc, l.whURI)
	}
	other, err := l.SharedLocation(ctx, id, loc)
	if err != nil {
		return err
	}
	if other != "" {
		return fmt.Errorf("%w: table %s: location %q overlaps table %s's", ErrInvalid, id, loc, other)
	}
	return nil
}

// checkNewSnapshots reads the manifests a commit adds and refuses files
// outside the table's directory: a snapshot naming another table's files,
// or any file on the server, would make them readable under this table's
// permissions and let a later purge or expiry delete them. A manifest is
// new unless the snapshot's parent listed it — whatever snapshot it claims
// to come from — and every entry is checked, of any status (purge and
// expiry delete DELETED and EXISTING entries' files too), with the data
// file a delete file refers to.
func (l *Lake) checkNewSnapshots(ctx context.Context, id Ident, before, after table.Metadata) error {
	inside := func(p string) bool { return l.ownsFile(after.Location(), p) }
	var fs iceio.IO
	known := map[int64]map[string]bool{} // manifests by the snapshot that listed them
	checked := map[string]bool{}
	listed := func(snapID int64) (map[string]bool, error) {
		if m, ok := known[snapID]; ok {
			return m, nil
		}
		m := map[string]bool{}
		if snap := before.SnapshotByID(snapID); snap != nil {
			mans, err := snap.Manifests(fs)
			if err != nil {
				return nil, fmt.Errorf("table %s: snapshot %d: read manifest list: %w", id, snapID, err)
			}
			for _, mf := range mans {
				m[mf.FilePath()] = true
			}
		}
		known[snapID] = m
		return m, nil
	}
	for _, snap := range after.Snapshots() {
		if before != nil && before.SnapshotByID(snap.SnapshotID) != nil {
			continue
		}
		if !inside(snap.ManifestList) {
			return fmt.Errorf("%w: table %s: snapshot %d's manifest list %s is outside the table's directory", ErrInvalid, id, snap.SnapshotID, snap.ManifestList)
		}
		if fs == nil {
			var err error
			if fs, err = l.fileIO(ctx, after); err != nil {
				return err
			}
		}
		manifests, err := snap.Manifests(fs)
		if err != nil {
			return fmt.Errorf("%w: table %s: snapshot %d: read manifest list: %w", ErrInvalid, id, snap.SnapshotID, err)
		}
		carried := map[string]bool{}
		if before != nil && snap.ParentSnapshotID != nil {
			if carried, err = listed(*snap.ParentSnapshotID); err != nil {
				return err
			}
		}
		for _, m := range manifests {
			if carried[m.FilePath()] || checked[m.FilePath()] {
				continue // the parent listed it (checked when it was new), or this call has
			}
			checked[m.FilePath()] = true
			if !inside(m.FilePath()) {
				return fmt.Errorf("%w: table %s: manifest %s is outside the table's directory", ErrInvalid, id, m.FilePath())
			}
			entries, err := m.FetchEntries(fs, false)
			if err != nil {
				return fmt.Errorf("%w: table %s: read manifest %s: %w", ErrInvalid, id, m.FilePath(), err)
			}
			for _, e := range entries {
				df := e.DataFile()
				if !inside(df.FilePath()) {
					return fmt.Errorf("%w: table %s: file %s is outside the table's directory", ErrInvalid, id, df.FilePath())
				}
				if ref := df.ReferencedDataFile(); ref != nil && !inside(*ref) {
					return fmt.Errorf("%w: table %s: delete file %s refers to %s, outside the table's directory", ErrInvalid, id, df.FilePath(), *ref)
				}
			}
		}
	}
	return nil
}

// swap makes every staged change current in one catalog transaction.
// Rows are updated in one order (by name) whatever the request's, so two
// transactions over the same tables lock them alike on PostgreSQL rather
// than deadlock.
func (l *Lake) swap(ctx context.Context, staged []*stagedChange) error {
	ordered := slices.SortedFunc(slices.Values(staged), func(a, b *stagedChange) int {
		return cmp.Or(cmp.Compare(a.id.Namespace, b.id.Namespace), cmp.Compare(a.id.Name, b.id.Name))
	})
	return l.inCatalogTx(ctx, func(tx *sql.Tx) error {
		for _, s := range ordered {
			switch {
			case s.noop:
				// Its requirements were checked at staging, outside this
				// transaction: the row must still be the one they were
				// checked on. Setting it to itself locks it until commit.
				res, err := tx.ExecContext(ctx, l.db.Rebind(`UPDATE iceberg_tables SET metadata_location = metadata_location
					WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?`),
					l.cat.Name(), s.id.Namespace, s.id.Name, s.before.MetadataLocation())
				if err := oneRow(res, err); err != nil {
					return fmt.Errorf("check metadata of %s: %w", s.id, err)
				}
			case s.before == nil:
				if err := l.insertRowTx(ctx, tx, s.id, s.after.MetadataLocation, TableKind); err != nil {
					if errors.Is(err, ErrTableExists) {
						return fmt.Errorf("%w: %w", ErrCommitFailed, err)
					}
					return err
				}
			default:
				res, err := tx.ExecContext(ctx, l.db.Rebind(`UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ?
					WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?`),
					s.after.MetadataLocation, s.before.MetadataLocation(), l.cat.Name(), s.id.Namespace, s.id.Name, s.before.MetadataLocation())
				if err := oneRow(res, err); err != nil {
					return fmt.Errorf("swap metadata of %s: %w", s.id, err)
				}
			}
		}
		return nil
	})
}

// oneRow checks that a guarded UPDATE matched its row: none means another
// writer changed it first.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: the table was changed by another writer", ErrCommitFailed)
	}
	return nil
}

// errCommitUnknown marks an error from a catalog transaction's COMMIT
// itself (a lost connection, say): the commit may have landed.
var errCommitUnknown = errors.New("catalog commit outcome unknown")

// settle decides, after a catalog transaction that was to point each
// table of rows at its new metadata file failed, whether the change
// landed and whether the new files may be deleted. An error before COMMIT
// changed nothing. After one from COMMIT the rows are read again: the
// transaction was atomic, so one row without its new file (neither
// current nor, after a later writer, previous) means none landed; a read
// that fails leaves the outcome unknown and the files in place, for orphan
// cleanup to judge later.
func (l *Lake) settle(ctx context.Context, err error, rows map[Ident]string) (landed, remove bool) {
	if !errors.Is(err, errCommitUnknown) {
		return false, true
	}
	for id, loc := range rows {
		var n int
		if err := l.db.QueryRowContext(ctx, l.db.Rebind(`SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?
			AND (metadata_location = ? OR previous_metadata_location = ?)`), l.cat.Name(), id.Namespace, id.Name, loc, loc).Scan(&n); err != nil {
			l.log.Warn("catalog commit outcome unknown; keeping its metadata files", "table", id.String(), "err", err)
			return false, false
		}
		if n == 0 {
			return false, true
		}
	}
	return true, false
}

// event describes a staged change for the audit log and metrics: the
// operation is the snapshot's when the change added one, else the kind of
// metadata it changed.
func (s *stagedChange) event(id Ident) CommitEvent {
	ev := CommitEvent{Table: id, Operation: OpCommit}
	if s.before == nil {
		ev.Operation = OpCreate
		return ev
	}
	kinds := map[string]bool{}
	for _, u := range s.updates {
		switch u.Action() {
		case table.UpdateAddSnapshot:
			kinds["snapshot"] = true
		case table.UpdateAddSchema, table.UpdateSetCurrentSchema:
			kinds[OpSchema] = true
		case table.UpdateAddSpec, table.UpdateSetDefaultSpec:
			kinds[OpPartitioning] = true
		case table.UpdateSetProperties, table.UpdateRemoveProperties:
			kinds[OpProperties] = true
		case table.UpdateSetSnapshotRef:
			// a branch moved along with a new snapshot is part of it
		default:
			kinds[OpCommit] = true
		}
	}
	if kinds["snapshot"] && s.after.Metadata != nil {
		if snap := s.after.Metadata.CurrentSnapshot(); snap != nil && snap.Summary != nil {
			ev.Operation = string(snap.Summary.Operation)
			p := snap.Summary.Properties
			ev.Job = p[SummaryJob]
			ev.AddedFiles, _ = strconv.Atoi(p["added-data-files"])
			ev.DeleteFiles, _ = strconv.Atoi(p["added-delete-files"])
			ev.AddedRows, _ = strconv.ParseInt(p["added-records"], 10, 64)
		}
		if len(kinds) > 1 {
			ev.Operation = OpCommit
		}
		return ev
	}
	if len(kinds) == 1 {
		for k := range kinds {
			ev.Operation = k
		}
	}
	return ev
}

// emitState is emit for changes that produce metadata rather than a
// *table.Table.
func (l *Lake) emitState(ctx context.Context, ev CommitEvent, start time.Time, st TableState, err error) {
	if err == nil && st.Metadata != nil {
		if s := st.Metadata.CurrentSnapshot(); s != nil {
			ev.SnapshotID = s.SnapshotID
		}
	}
	l.emit(ctx, ev, start, nil, err)
}

// metadataVersion reads the version from a metadata file name
// (NNNNN-<uuid>.metadata.json or vN.metadata.json); -1 when it has none.
func metadataVersion(loc string) int {
	name := path.Base(loc)
	name = strings.TrimPrefix(name, "v")
	digits := name
	if i := strings.IndexAny(name, "-."); i >= 0 {
		digits = name[:i]
	}
	v, err := strconv.Atoi(digits)
	if err != nil {
		return -1
	}
	return v
}

// newMetadataLocation names the metadata file after version (-1: the
// first file of a table) under the table's metadata directory.
func newMetadataLocation(meta metadataFile, version int) (string, error) {
	prov, err := table.LoadLocationProvider(meta.Location(), meta.Properties())
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	loc, err := prov.NewTableMetadataFileLocation(version + 1)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return loc, nil
}

// fileIO opens the file system a table's files live on. Local warehouses
// need no properties; object-store warehouses will pass theirs here.
func (l *Lake) fileIO(ctx context.Context, meta table.Metadata) (iceio.IO, error) {
	fs, err := iceio.LoadFS(ctx, l.ioProps, meta.Location())
	if err != nil {
		return nil, fmt.Errorf("open file system for %s: %w", meta.Location(), err)
	}
	return fs, nil
}

// metadataFile is table or view metadata: what writeMetadata needs to
// place and encode it.
type metadataFile interface {
	Properties() iceberg.Properties
	Location() string
}

// writeMetadata writes meta as JSON to loc, compressed as the table's
// write.metadata.compression-codec says (the file name already does).
func (l *Lake) writeMetadata(ctx context.Context, meta metadataFile, loc string) (err error) {
	fs, err := iceio.LoadFS(ctx, l.ioProps, meta.Location())
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	wfs, ok := fs.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("write metadata: %s cannot be written", meta.Location())
	}
	out, err := wfs.Create(loc)
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write metadata: %w", cerr)
		}
	}()
	var w io.WriteCloser
	switch codec := meta.Properties().Get(table.MetadataCompressionKey, table.MetadataCompressionDefault); codec {
	case table.MetadataCompressionCodecNone:
		return json.NewEncoder(out).Encode(meta)
	case table.MetadataCompressionCodecGzip:
		w = gzip.NewWriter(out)
	case table.MetadataCompressionCodecZstd:
		if w, err = zstd.NewWriter(out); err != nil {
			return fmt.Errorf("write metadata: %w", err)
		}
	default:
		return fmt.Errorf("%w: %s = %q: use none, gzip or zstd", ErrInvalid, table.MetadataCompressionKey, codec)
	}
	if err := json.NewEncoder(w).Encode(meta); err != nil {
		w.Close()
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// removeFile deletes a metadata file a failed commit wrote; a leftover is
// harmless (orphan cleanup finds it), so errors are only logged.
func (l *Lake) removeFile(ctx context.Context, loc string) {
	fs, err := iceio.LoadFS(ctx, l.ioProps, loc)
	if err == nil {
		err = fs.Remove(loc)
	}
	if err != nil {
		l.log.Debug("could not remove the metadata file of a failed commit", "file", loc, "err", err)
	}
}

// NamespaceExists reports whether ns exists.
func (l *Lake) NamespaceExists(ctx context.Context, ns string) (bool, error) {
	if err := l.authz.Authorize(ctx, policy.Read, policy.Resource{Namespace: ns}); err != nil {
		return false, err
	}
	return l.cat.CheckNamespaceExists(ctx, table.Identifier{ns})
}

// UpdateNamespaceProperties removes and sets namespace properties; the
// summary says which keys were removed, updated, or asked to be removed
// but missing.
func (l *Lake) UpdateNamespaceProperties(ctx context.Context, ns string, removals []string, updates map[string]string) (catalog.PropertiesUpdateSummary, error) {
	if err := checkProperties(updates); err != nil {
		return catalog.PropertiesUpdateSummary{}, err
	}
	if err := l.authz.Authorize(ctx, policy.Admin, policy.Resource{Namespace: ns}); err != nil {
		return catalog.PropertiesUpdateSummary{}, err
	}
	for _, k := range removals {
		if _, ok := updates[k]; ok {
			return catalog.PropertiesUpdateSummary{}, fmt.Errorf("%w: %w: property %q", ErrInvalid, ErrSetAndRemoved, k)
		}
	}
	sum, err := l.cat.UpdateNamespaceProperties(ctx, table.Identifier{ns}, removals, updates)
	if err != nil {
		return sum, fmt.Errorf("update namespace %s: %w", ns, err)
	}
	return sum, nil
}
