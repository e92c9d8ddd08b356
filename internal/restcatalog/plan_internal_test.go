package restcatalog

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestPlanStoreBounds: plans were capped only in number, globally, by
// evicting the oldest — one reader could hold unbounded memory or evict
// other principals' plans mid-scan (review finding 7). A store now
// refuses (503) a principal beyond its plans and everyone beyond the
// tasks held, and never drops another principal's plan to make room.
func TestPlanStoreBounds(t *testing.T) {
	ps := &planStore{plans: map[string]*plan{}, maxPlans: 10, maxPerPrincipal: 2, maxTasks: 100}
	now := time.Now()
	n := 0
	put := func(who string, tasks int) error {
		n++
		return ps.put(&plan{id: fmt.Sprint(who, n), principal: who, tasks: tasks, created: now})
	}
	steps := []struct {
		who   string
		tasks int
		want  error
	}{
		{"rita", 10, nil},
		{"rita", 10, nil},
		{"rita", 10, errPlanStoreFull}, // her third plan
		{"bob", 50, nil},               // others are unaffected
		{"bob", 31, errPlanStoreFull},  // 101 tasks held in all
		{"bob", 30, nil},
	}
	for i, s := range steps {
		if err := put(s.who, s.tasks); !errors.Is(err, s.want) {
			t.Errorf("step %d: put(%s, %d tasks) = %v, want %v", i, s.who, s.tasks, err, s.want)
		}
	}
	if len(ps.plans) != 4 || ps.tasks != 100 {
		t.Errorf("store holds %d plans, %d tasks; want 4 and 100 (none evicted)", len(ps.plans), ps.tasks)
	}
	ps.remove("rita1")
	if err := put("rita", 10); err != nil || ps.tasks != 100 {
		t.Errorf("put after a cancel = %v with %d tasks held, want nil and 100", err, ps.tasks)
	}
	if m, _ := classify(fmt.Errorf("plan: %w", errPlanStoreFull)); m.Code != http.StatusServiceUnavailable || m.Type != "ServiceUnavailableException" {
		t.Errorf("classify(errPlanStoreFull) = %d %s, want 503 ServiceUnavailableException", m.Code, m.Type)
	}
}
