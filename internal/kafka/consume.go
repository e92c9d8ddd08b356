package kafka

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeOptions describe one consume run. Consume reads without a
// consumer group: it is for looking at a topic, not for processing it.
type ConsumeOptions struct {
	Topic string
	// From is "start" (default), "end", or an offset applied to every
	// partition.
	From string
	// Max stops after this many records (0: no limit).
	Max int64
	// Envelope writes each record as a JSON object with its topic,
	// partition, offset, timestamp, key, headers and value; otherwise the
	// value alone is written, one per line.
	Envelope bool
	// UntilEnd stops once every partition's end offset at the start has
	// been reached.
	UntilEnd bool
}

// Message is a consumed record as Consume writes it with Envelope.
type Message struct {
	Topic       string            `json:"topic"`
	Partition   int32             `json:"partition"`
	Offset      int64             `json:"offset"`
	TimestampMs int64             `json:"timestamp_ms"`
	Key         *string           `json:"key"`
	Headers     map[string]string `json:"headers,omitempty"`
	Value       *string           `json:"value"`
}

// ConsumerOptions are the kgo options Consume's client needs: pass them
// to NewClient.
func ConsumerOptions(opts ConsumeOptions) ([]kgo.Opt, error) {
	if opts.Topic == "" {
		return nil, fmt.Errorf("%w: consume needs a topic", ErrInvalid)
	}
	var at kgo.Offset
	switch from := strings.ToLower(opts.From); from {
	case "", "start", "beginning", "earliest":
		at = kgo.NewOffset().AtStart()
	case "end", "latest":
		at = kgo.NewOffset().AtEnd()
	default:
		n, err := strconv.ParseInt(from, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: --from %q: use start, end or an offset", ErrInvalid, opts.From)
		}
		at = kgo.NewOffset().At(n)
	}
	return []kgo.Opt{kgo.ConsumeTopics(opts.Topic), kgo.ConsumeResetOffset(at)}, nil
}

// Consume writes records of opts.Topic to w until ctx ends, Max records
// were written, or (UntilEnd) the end offsets seen at the start were
// reached. cl must have been made with ConsumerOptions(opts).
func Consume(ctx context.Context, cl *kgo.Client, w io.Writer, opts ConsumeOptions) (int64, error) {
	var remaining map[int32]int64
	if opts.UntilEnd {
		ends, err := EndOffsets(ctx, cl, opts.Topic)
		if err != nil {
			return 0, err
		}
		remaining = map[int32]int64{}
		for p, end := range ends[opts.Topic] {
			if end > 0 {
				remaining[p] = end
			}
		}
		// Partitions that start at or past their end count as done.
		if from, err := strconv.ParseInt(opts.From, 10, 64); err == nil {
			for p, end := range remaining {
				if from >= end {
					delete(remaining, p)
				}
			}
		}
		if strings.EqualFold(opts.From, "end") || strings.EqualFold(opts.From, "latest") {
			remaining = map[int32]int64{}
		}
	}
	enc := json.NewEncoder(w)
	var n int64
	for {
		if opts.UntilEnd && len(remaining) == 0 {
			return n, nil
		}
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return n, nil
			}
			return n, err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("consume %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return n, ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if opts.UntilEnd {
				end, ok := remaining[r.Partition]
				if !ok {
					continue
				}
				if r.Offset+1 >= end {
					delete(remaining, r.Partition)
				}
			}
			var err error
			if opts.Envelope {
				err = enc.Encode(messageOf(r))
			} else {
				_, err = fmt.Fprintf(w, "%s\n", r.Value)
			}
			if err != nil {
				return n, fmt.Errorf("write record: %w", err)
			}
			n++
			if opts.Max > 0 && n >= opts.Max {
				return n, nil
			}
		}
	}
}

func messageOf(r *kgo.Record) Message {
	m := Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, TimestampMs: r.Timestamp.UnixMilli()}
	if r.Key != nil {
		k := text(r.Key)
		m.Key = &k
	}
	if r.Value != nil {
		v := text(r.Value)
		m.Value = &v
	}
	if len(r.Headers) > 0 {
		m.Headers = map[string]string{}
		for _, h := range r.Headers {
			m.Headers[h.Key] = text(h.Value)
		}
	}
	return m
}

// text renders bytes for JSON output: as is when they are UTF-8, else as
// base64 with a "base64:" prefix, so binary keys survive the round trip.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64Std(b)
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
