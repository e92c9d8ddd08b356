package telemetry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/edp-data/edp/internal/telemetry"
)

func TestNewLoggerAddsRequestID(t *testing.T) {
	tests := []struct {
		format string
		json   bool
	}{
		{"json", true},
		{"JSON", true},
		{"text", false},
		{"logfmt", false}, // unknown formats fall back to text
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log := telemetry.NewLogger(&buf, tt.format, slog.LevelInfo)
			ctx := telemetry.WithRequestID(context.Background(), "req-42")
			log.InfoContext(ctx, "with id", "k", "v")
			log.Info("without context")
			log.InfoContext(context.Background(), "without id")
			log.DebugContext(ctx, "below level")

			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("NewLogger(%q) wrote %d lines, want 3:\n%s", tt.format, len(lines), buf.String())
			}
			for i, line := range lines {
				wantID := i == 0
				var got bool
				if tt.json {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
					}
					got = rec["request_id"] == "req-42"
					if i == 0 && rec["k"] != "v" {
						t.Errorf("line %d lost attribute k: %s", i, line)
					}
				} else {
					if strings.HasPrefix(line, "{") {
						t.Fatalf("NewLogger(%q) wrote JSON, want text: %s", tt.format, line)
					}
					got = strings.Contains(line, "request_id=req-42")
				}
				if got != wantID {
					t.Errorf("NewLogger(%q) line %d has request_id = %v, want %v: %s", tt.format, i, got, wantID, line)
				}
			}
		})
	}
}

// The request id belongs at the top level even inside groups, so that log
// queries find it in one place.
func TestNewLoggerRequestIDOutsideGroups(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, "json", slog.LevelInfo).
		With("component", "api").WithGroup("db").With("table", "orders")
	ctx := telemetry.WithRequestID(context.Background(), "req-7")
	log.InfoContext(ctx, "read", "rows", 3)
	log.Info("no context", "rows", 4)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("wrote %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var rec struct {
		RequestID string `json:"request_id"`
		Component string `json:"component"`
		DB        struct {
			Table     string  `json:"table"`
			Rows      float64 `json:"rows"`
			RequestID string  `json:"request_id"`
		} `json:"db"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestID != "req-7" || rec.DB.RequestID != "" {
		t.Errorf("request_id = %q at top level, %q in group; want it at top level only: %s", rec.RequestID, rec.DB.RequestID, lines[0])
	}
	if rec.Component != "api" || rec.DB.Table != "orders" || rec.DB.Rows != 3 {
		t.Errorf("attributes misplaced: %s", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("record without context has a request_id: %s", lines[1])
	}
}

func TestNewLoggerAddsTraceID(t *testing.T) {
	tp := sdktrace.NewTracerProvider() // samples everything, exports nowhere
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	var buf bytes.Buffer
	telemetry.NewLogger(&buf, "json", slog.LevelInfo).InfoContext(ctx, "traced")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if want := span.SpanContext().TraceID().String(); rec["trace_id"] != want {
		t.Errorf("trace_id = %v, want %v", rec["trace_id"], want)
	}
}

func TestRequestID(t *testing.T) {
	if got := telemetry.RequestID(context.Background()); got != "" {
		t.Errorf("RequestID(empty context) = %q, want \"\"", got)
	}
	ctx := telemetry.WithRequestID(context.Background(), "abc")
	if got := telemetry.RequestID(ctx); got != "abc" {
		t.Errorf("RequestID(WithRequestID(ctx, %q)) = %q, want %q", "abc", got, "abc")
	}
}

func TestNewRequestID(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := telemetry.NewRequestID()
		if len(id) != 22 {
			t.Fatalf("NewRequestID() = %q, %d characters, want 22", id, len(id))
		}
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) != 16 {
			t.Fatalf("NewRequestID() = %q: decodes to %d bytes (%v), want 16 bytes of base64url", id, len(raw), err)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}
