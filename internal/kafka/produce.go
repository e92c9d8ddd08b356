package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Input formats of Produce.
const (
	// FormatLines: each line is one record's value, or, with KeySeparator
	// set, key SEPARATOR value.
	FormatLines = "lines"
	// FormatEnvelope: each line is a JSON object {"key": …, "value": …,
	// "headers": {…}}; a value that is not a string is
	// sent as its JSON text, a null value as a tombstone.
	FormatEnvelope = "envelope"
)

// ProduceOptions describe one produce run.
type ProduceOptions struct {
	Topic        string
	Format       string // FormatLines (default) or FormatEnvelope
	KeySeparator string
	// Headers are added to every record.
	Headers map[string]string
	// MaxLineBytes bounds one input line (default 16 MiB).
	MaxLineBytes int
}

type envelope struct {
	Key     *string           `json:"key"`
	Value   json.RawMessage   `json:"value"`
	Headers map[string]string `json:"headers"`
}

// Produce sends one record per input line and waits until every record
// is acknowledged. It returns how many were sent; the first error stops it.
func Produce(ctx context.Context, cl *kgo.Client, r io.Reader, opts ProduceOptions) (int64, error) {
	if opts.Topic == "" {
		return 0, fmt.Errorf("%w: produce needs a topic", ErrInvalid)
	}
	if opts.Format == "" {
		opts.Format = FormatLines
	}
	if opts.Format != FormatLines && opts.Format != FormatEnvelope {
		return 0, fmt.Errorf("%w: produce format %q: use lines or envelope", ErrInvalid, opts.Format)
	}
	maxLine := opts.MaxLineBytes
	if maxLine <= 0 {
		maxLine = 16 << 20
	}
	var common []kgo.RecordHeader
	for _, k := range sortedKeys(opts.Headers) {
		common = append(common, kgo.RecordHeader{Key: k, Value: []byte(opts.Headers[k])})
	}
	var (
		mu       sync.Mutex
		firstErr error
		sent     int64
		wg       sync.WaitGroup
	)
	done := func(_ *kgo.Record, err error) {
		defer wg.Done()
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		} else if err == nil {
			sent++
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		rec := &kgo.Record{Topic: opts.Topic, Headers: append([]kgo.RecordHeader(nil), common...)}
		switch opts.Format {
		case FormatLines:
			value := text
			if opts.KeySeparator != "" {
				k, v, ok := bytes.Cut(text, []byte(opts.KeySeparator))
				if !ok {
					wg.Wait()
					return sent, fmt.Errorf("%w: line %d has no key separator %q", ErrInvalid, line, opts.KeySeparator)
				}
				rec.Key = bytes.Clone(k)
				value = v
			}
			rec.Value = bytes.Clone(value)
		case FormatEnvelope:
			var e envelope
			if err := json.Unmarshal(text, &e); err != nil {
				wg.Wait()
				return sent, fmt.Errorf("%w: line %d: %v", ErrInvalid, line, err)
			}
			if e.Key != nil {
				rec.Key = []byte(*e.Key)
			}
			switch v := bytes.TrimSpace(e.Value); {
			case len(v) == 0 || string(v) == "null":
				rec.Value = nil
			case v[0] == '"':
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					wg.Wait()
					return sent, fmt.Errorf("%w: line %d: value: %v", ErrInvalid, line, err)
				}
				rec.Value = []byte(s)
			default:
				rec.Value = bytes.Clone(v)
			}
			for _, k := range sortedKeys(e.Headers) {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(e.Headers[k])})
			}
		}
		mu.Lock()
		err := firstErr
		mu.Unlock()
		if err != nil {
			break
		}
		wg.Add(1)
		cl.Produce(ctx, rec, done)
	}
	scanErr := sc.Err()
	if err := cl.Flush(ctx); err != nil && scanErr == nil {
		scanErr = err
	}
	wg.Wait()
	if firstErr != nil {
		return sent, fmt.Errorf("produce to %s: %w", opts.Topic, firstErr)
	}
	if scanErr != nil {
		return sent, fmt.Errorf("produce to %s: read input line %d: %w", opts.Topic, line+1, scanErr)
	}
	return sent, nil
}

// ParseHeaders parses k=v pairs (as given on a command line).
func ParseHeaders(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: header %q: use key=value", ErrInvalid, p)
		}
		out[k] = v
	}
	return out, nil
}
