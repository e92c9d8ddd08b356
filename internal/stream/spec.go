package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/edp-data/edp/internal/lake"
)

// ErrInvalid is wrapped by errors about a pipeline's specification.
var ErrInvalid = errors.New("invalid pipeline")

// Formats of record values.
const (
	FormatJSON = "json" // one JSON object per record
	FormatRaw  = "raw"  // key and value kept as bytes, with the record's metadata
	// Confluent wire format through a schema registry.
	FormatAvro       = "avro"
	FormatJSONSchema = "json-schema"
)

// Schema-change policies: what a record (or transform output) with a
// field the table lacks does.
const (
	SchemaEvolve = "evolve" // add the column, in the same commit as the rows
	SchemaFail   = "fail"   // stop the pipeline
	SchemaIgnore = "ignore" // drop the field
)

// Bad-record policies.
const (
	BadDLQ  = "dlq"  // write it to <table>__dlq with its bytes, position and error
	BadSkip = "skip" // drop it (counted)
	BadStop = "stop" // stop the pipeline
)

// Write modes.
const (
	ModeAppend = "append" // every record is a new row
	ModeUpsert = "upsert" // a record replaces the row with its key, a delete removes it
)

// Envelopes of upsert records.
const (
	EnvelopeNone     = "none"     // the value is the row; a tombstone (null value) deletes the key
	EnvelopeDebezium = "debezium" // Debezium change events: op c/r/u upsert "after", d deletes "before"
)

// Start positions for partitions the table has no offsets for yet.
const (
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// Spec declares one pipeline.
type Spec struct {
	Name   string     `json:"name"`
	Topics []string   `json:"topics"`
	Table  lake.Ident `json:"-"`
	// TableName is Table as namespace.table, for JSON.
	TableName string `json:"table"`
	Format    string `json:"format"`
	// Mode is append (default) or upsert; upsert needs Key, the columns
	// that identify a row (long, int or string columns).
	Mode     string   `json:"mode"`
	Key      []string `json:"key,omitempty"`
	Envelope string   `json:"envelope,omitempty"`
	// Transform, if set, is a DuckDB SELECT over the relation "batch"
	// (the decoded records of one micro-batch); its columns fill the
	// table's columns by name.
	Transform      string        `json:"transform,omitempty"`
	OnSchemaChange string        `json:"on_schema_change"`
	OnBadRecord    string        `json:"on_bad_record"`
	StartFrom      string        `json:"start_from"`
	CommitInterval time.Duration `json:"-"` // "commit_interval" in JSON, as a duration string
	// MaxBatchRecords and MaxBatchBytes bound one micro-batch: reaching
	// either commits early, and no more is fetched until the commit is
	// done, which bounds memory.
	MaxBatchRecords int   `json:"max_batch_records"`
	MaxBatchBytes   int64 `json:"max_batch_bytes"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// Normalize fills defaults and checks the spec.
func (s *Spec) Normalize(defaultInterval time.Duration) error {
	if !namePattern.MatchString(s.Name) {
		return fmt.Errorf("%w: name %q: use letters, digits, '_' and '-' (at most 100)", ErrInvalid, s.Name)
	}
	if len(s.Topics) == 0 {
		return fmt.Errorf("%w: pipeline %s has no source topic", ErrInvalid, s.Name)
	}
	for _, t := range s.Topics {
		if t == "" {
			return fmt.Errorf("%w: pipeline %s: empty topic name", ErrInvalid, s.Name)
		}
	}
	if s.TableName != "" {
		id, err := lake.ParseIdent(s.TableName)
		if err != nil {
			return fmt.Errorf("%w: pipeline %s: %v", ErrInvalid, s.Name, err)
		}
		s.Table = id
	}
	if s.Table.Name == "" {
		return fmt.Errorf("%w: pipeline %s has no target table", ErrInvalid, s.Name)
	}
	s.TableName = s.Table.String()
	def := func(v *string, d string, allowed ...string) error {
		if *v == "" {
			*v = d
		}
		if !slices.Contains(allowed, *v) {
			return fmt.Errorf("%w: pipeline %s: %q is not one of %v", ErrInvalid, s.Name, *v, allowed)
		}
		return nil
	}
	if err := errors.Join(
		def(&s.Format, FormatJSON, FormatJSON, FormatRaw, FormatAvro, FormatJSONSchema),
		def(&s.OnSchemaChange, SchemaEvolve, SchemaEvolve, SchemaFail, SchemaIgnore),
		def(&s.OnBadRecord, BadDLQ, BadDLQ, BadSkip, BadStop),
		def(&s.StartFrom, StartEarliest, StartEarliest, StartLatest),
		def(&s.Mode, ModeAppend, ModeAppend, ModeUpsert),
	); err != nil {
		return err
	}
	if s.Mode == ModeUpsert {
		if err := def(&s.Envelope, EnvelopeNone, EnvelopeNone, EnvelopeDebezium); err != nil {
			return err
		}
		if len(s.Key) == 0 {
			return fmt.Errorf("%w: pipeline %s: upsert needs key columns", ErrInvalid, s.Name)
		}
		if s.Transform != "" || s.Format == FormatRaw {
			return fmt.Errorf("%w: pipeline %s: upsert pipelines take JSON or registry records without a transform", ErrInvalid, s.Name)
		}
	} else if len(s.Key) > 0 || (s.Envelope != "" && s.Envelope != EnvelopeNone) {
		return fmt.Errorf("%w: pipeline %s: key and envelope apply to upsert pipelines", ErrInvalid, s.Name)
	}
	if s.CommitInterval <= 0 {
		s.CommitInterval = defaultInterval
	}
	if s.CommitInterval <= 0 {
		s.CommitInterval = time.Second
	}
	if s.MaxBatchRecords <= 0 {
		s.MaxBatchRecords = 500_000
	}
	if s.MaxBatchBytes <= 0 {
		s.MaxBatchBytes = 256 << 20
	}
	return nil
}

// dlqTable names the dead-letter table of a pipeline's target.
func dlqTable(id lake.Ident) lake.Ident {
	return lake.Ident{Namespace: id.Namespace, Name: id.Name + "__dlq"}
}

// MarshalJSON writes the commit interval as a duration string.
func (s Spec) MarshalJSON() ([]byte, error) {
	type plain Spec
	return json.Marshal(struct {
		plain
		CommitInterval string `json:"commit_interval,omitempty"`
	}{plain(s), durationText(s.CommitInterval)})
}

// UnmarshalJSON accepts the commit interval as a duration string.
func (s *Spec) UnmarshalJSON(b []byte) error {
	type plain Spec
	var v struct {
		plain
		CommitInterval string `json:"commit_interval,omitempty"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Spec(v.plain)
	if v.CommitInterval != "" {
		d, err := time.ParseDuration(v.CommitInterval)
		if err != nil {
			return fmt.Errorf("%w: commit_interval %q: %v", ErrInvalid, v.CommitInterval, err)
		}
		s.CommitInterval = d
	}
	return nil
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
