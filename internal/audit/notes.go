package audit

import (
	"context"
	"maps"
	"sync"
)

// Notes carry what a handler learned about its request to whoever writes
// the request's audit entry: a protocol served behind the API (the Iceberg
// REST catalog) names the resource it acted on and adds details, without
// depending on the API that records them.
type Notes struct {
	mu        sync.Mutex
	resource  string
	principal string
	details   map[string]any
}

type notesKey struct{}

// WithNotes returns a context carrying fresh Notes, and the Notes.
func WithNotes(ctx context.Context) (context.Context, *Notes) {
	n := &Notes{}
	return context.WithValue(ctx, notesKey{}, n), n
}

// NotesFrom returns the Notes in ctx; without any it returns Notes that
// nobody reads, so handlers can note unconditionally.
func NotesFrom(ctx context.Context) *Notes {
	if n, ok := ctx.Value(notesKey{}).(*Notes); ok {
		return n
	}
	return &Notes{}
}

// SetResource names the resource the request acted on.
func (n *Notes) SetResource(r string) {
	n.mu.Lock()
	n.resource = r
	n.mu.Unlock()
}

// SetPrincipal names who the request was for when it carried no
// credentials to authenticate (a token request names its client).
func (n *Notes) SetPrincipal(p string) {
	n.mu.Lock()
	n.principal = p
	n.mu.Unlock()
}

// Detail adds a detail to the entry.
func (n *Notes) Detail(k string, v any) {
	n.mu.Lock()
	if n.details == nil {
		n.details = map[string]any{}
	}
	n.details[k] = v
	n.mu.Unlock()
}

// Read returns what was noted.
func (n *Notes) Read() (resource, principal string, details map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.resource, n.principal, maps.Clone(n.details)
}
