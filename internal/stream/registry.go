package stream

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/avro"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// registry turns values in the Confluent wire format (a zero byte, a
// 4-byte schema id, the encoded value) into JSON objects for the
// decoder, fetching each schema once from a Confluent-compatible schema
// registry through franz-go's sr client. A field a newer writer schema
// adds shows up as a new JSON field, so schema evolution works as it does
// for JSON.
type registry struct {
	cl *sr.Client

	mu      sync.Mutex
	schemas map[int]*avro.Schema
}

func newRegistry(cl *sr.Client) *registry {
	return &registry{cl: cl, schemas: map[int]*avro.Schema{}}
}

// errWireFormat is wrapped by errors about a value that is not in the
// Confluent wire format; such a record is bad, not the pipeline.
var errWireFormat = errors.New("not a schema-registry value")

// toJSON decodes one value of format (avro or json-schema).
func (r *registry) toJSON(ctx context.Context, format string, v []byte) ([]byte, error) {
	if len(v) < 5 || v[0] != 0 {
		return nil, fmt.Errorf("%w: no magic byte and schema id", errWireFormat)
	}
	id := int(binary.BigEndian.Uint32(v[1:5]))
	body := v[5:]
	switch format {
	case FormatJSONSchema:
		// The value is the JSON itself; the schema validated it at the
		// producer and its fields are read from the JSON.
		return body, nil
	case FormatAvro:
		s, err := r.avroSchema(ctx, id)
		if err != nil {
			return nil, err
		}
		var out any
		rest, err := s.Decode(body, &out)
		if err != nil {
			return nil, fmt.Errorf("%w: avro value for schema %d: %v", errWireFormat, id, err)
		}
		if len(rest) > 0 {
			return nil, fmt.Errorf("%w: %d bytes after the avro value", errWireFormat, len(rest))
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errWireFormat, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("format %q does not use a schema registry", format)
}

func (r *registry) avroSchema(ctx context.Context, id int) (*avro.Schema, error) {
	r.mu.Lock()
	s, ok := r.schemas[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	got, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		// Unknown ids are the record's problem; an unreachable registry is
		// the pipeline's, and the commit is retried.
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return nil, fmt.Errorf("%w: schema %d is not in the registry", errWireFormat, id)
		}
		return nil, fmt.Errorf("schema registry: schema %d: %w", id, err)
	}
	if got.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: schema %d is %s, not Avro", errWireFormat, id, got.Type)
	}
	if s, err = avro.Parse(got.Schema); err != nil {
		return nil, fmt.Errorf("%w: schema %d: %v", errWireFormat, id, err)
	}
	r.mu.Lock()
	r.schemas[id] = s
	r.mu.Unlock()
	return s, nil
}

// fromRegistry decodes the records of a registry-format pipeline into
// copies carrying JSON values; records that are not in the wire format,
// or name a schema the registry lacks, are bad.
func (p *Pipeline) fromRegistry(ctx context.Context, recs []*kgo.Record) ([]*kgo.Record, []badRecord, error) {
	if p.reg == nil {
		return nil, nil, fmt.Errorf("%w: format %s needs a schema registry (kafka.schema_registry)", ErrStopped, p.spec.Format)
	}
	out := make([]*kgo.Record, 0, len(recs))
	var bad []badRecord
	// Dead letters keep the bytes as they came, not the JSON made here.
	p.original = map[*kgo.Record]*kgo.Record{}
	for _, r := range recs {
		if r.Value == nil {
			// A tombstone deletes by its key, which a registry-aware
			// producer writes in the wire format too. Debezium's
			// tombstones are not read at all.
			if p.spec.Mode != ModeUpsert || p.spec.Envelope == EnvelopeDebezium || len(r.Key) < 5 || r.Key[0] != 0 {
				out = append(out, r)
				continue
			}
			k, err := p.reg.toJSON(ctx, p.spec.Format, r.Key)
			if errors.Is(err, errWireFormat) {
				bad = append(bad, badRecord{rec: r, stage: "decode", err: "key: " + err.Error()})
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			c := *r
			c.Key = k
			out = append(out, &c)
			p.original[&c] = r
			continue
		}
		j, err := p.reg.toJSON(ctx, p.spec.Format, r.Value)
		if errors.Is(err, errWireFormat) {
			bad = append(bad, badRecord{rec: r, stage: "decode", err: err.Error()})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		c := *r
		c.Value = j
		out = append(out, &c)
		p.original[&c] = r
	}
	return out, bad, nil
}
