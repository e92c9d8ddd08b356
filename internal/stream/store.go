package stream

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edp-data/edp/internal/metadb"
)

// Errors of the pipeline store.
var (
	ErrNotFound = errors.New("no such pipeline")
	ErrExists   = errors.New("pipeline already exists")
)

// Stored is a pipeline as kept in the metadata database.
type Stored struct {
	Spec      Spec      `json:"spec"`
	Paused    bool      `json:"paused"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps pipeline specifications in the metadata database, so every
// edp replica sharing it runs the same pipelines (and, through the
// consumer group, shares their partitions).
type Store struct {
	db  *metadb.DB
	now func() time.Time
}

const storeComponent = "stream"

var storeMigrations = []metadb.Migration{{
	Version: 1, Name: "stream pipelines",
	SQLite: []string{`CREATE TABLE IF NOT EXISTS edp_stream_pipelines (
		name TEXT PRIMARY KEY,
		spec TEXT NOT NULL,
		paused INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL)`},
	Postgres: []string{`CREATE TABLE IF NOT EXISTS edp_stream_pipelines (
		name TEXT PRIMARY KEY,
		spec TEXT NOT NULL,
		paused BOOLEAN NOT NULL DEFAULT FALSE,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL)`},
}}

// OpenStore migrates the store's table and returns the store.
func OpenStore(ctx context.Context, db *metadb.DB, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := db.Migrate(ctx, storeComponent, storeMigrations); err != nil {
		return nil, fmt.Errorf("stream tables: %w", err)
	}
	return &Store{db: db, now: now}, nil
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.db.Rebind(q), args...)
}

// Create stores a new pipeline (normalized by the caller).
func (s *Store) Create(ctx context.Context, spec Spec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	_, err = s.exec(ctx, `INSERT INTO edp_stream_pipelines (name, spec, paused, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		spec.Name, string(b), false, now, now)
	if err != nil {
		if msg := strings.ToLower(err.Error()); strings.Contains(msg, "unique") || strings.Contains(msg, "duplicate") || strings.Contains(msg, "23505") {
			return fmt.Errorf("%w: %s", ErrExists, spec.Name)
		}
		return fmt.Errorf("create pipeline %s: %w", spec.Name, err)
	}
	return nil
}

// List returns every stored pipeline, by name.
func (s *Store) List(ctx context.Context) ([]Stored, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT spec, paused, created_at, updated_at FROM edp_stream_pipelines ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		st, err := scanStored(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Get returns one pipeline.
func (s *Store) Get(ctx context.Context, name string) (Stored, error) {
	row := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT spec, paused, created_at, updated_at FROM edp_stream_pipelines WHERE name = ?`), name)
	st, err := scanStored(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return st, err
}

func scanStored(row interface{ Scan(...any) error }) (Stored, error) {
	var spec, created, updated string
	var paused bool
	if err := row.Scan(&spec, &paused, &created, &updated); err != nil {
		return Stored{}, err
	}
	var st Stored
	if err := json.Unmarshal([]byte(spec), &st.Spec); err != nil {
		return Stored{}, fmt.Errorf("stored pipeline: %w", err)
	}
	if err := st.Spec.Normalize(0); err != nil {
		return Stored{}, err
	}
	st.Paused = paused
	st.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	st.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return st, nil
}

// SetPaused pauses or resumes a pipeline.
func (s *Store) SetPaused(ctx context.Context, name string, paused bool) error {
	res, err := s.exec(ctx, `UPDATE edp_stream_pipelines SET paused = ?, updated_at = ? WHERE name = ?`, paused, s.now().UTC().Format(time.RFC3339Nano), name)
	return affected(res, err, name)
}

// Delete removes a pipeline; its table and offsets stay.
func (s *Store) Delete(ctx context.Context, name string) error {
	res, err := s.exec(ctx, `DELETE FROM edp_stream_pipelines WHERE name = ?`, name)
	return affected(res, err, name)
}

func affected(res sql.Result, err error, name string) error {
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return nil
}
