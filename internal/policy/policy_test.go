package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/policy"
)

func TestRoles(t *testing.T) {
	res := policy.Resource{Namespace: "sales", Table: "orders"}
	sys := func(name string) policy.Resource { return policy.Resource{System: name} }
	cases := []struct {
		name   string
		roles  []string
		action policy.Action
		res    policy.Resource
		allow  bool
	}{
		{"admin drops", []string{auth.RoleAdmin}, policy.Admin, res, true},
		{"writer writes", []string{auth.RoleWriter}, policy.Write, res, true},
		{"writer may not drop", []string{auth.RoleWriter}, policy.Admin, res, false},
		{"reader reads", []string{auth.RoleReader}, policy.Read, res, true},
		{"reader may not write", []string{auth.RoleReader}, policy.Write, res, false},
		{"no roles", nil, policy.Read, res, false},
		{"admin manages users", []string{auth.RoleAdmin}, policy.Admin, sys(policy.SystemUsers), true},
		{"writer may not list users", []string{auth.RoleWriter}, policy.Read, sys(policy.SystemUsers), false},
		{"reader may not read audit", []string{auth.RoleReader}, policy.Read, sys(policy.SystemAudit), false},
		{"reader manages own account", []string{auth.RoleReader}, policy.Write, sys(policy.SystemSelf), true},
		{"reader reads metrics", []string{auth.RoleReader}, policy.Read, sys(policy.SystemMetrics), true},
		{"writer may not see all jobs", []string{auth.RoleWriter}, policy.Read, sys(policy.SystemJobs), false},
		{"no roles, own account", nil, policy.Write, sys(policy.SystemSelf), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "u", Roles: c.roles})
			err := policy.Roles{}.Authorize(ctx, c.action, c.res)
			if (err == nil) != c.allow {
				t.Fatalf("Authorize(%v, %s, %s) = %v, want allow=%v", c.roles, c.action, c.res, err, c.allow)
			}
			if err != nil && !errors.Is(err, policy.ErrDenied) {
				t.Fatalf("Authorize error %v does not wrap ErrDenied", err)
			}
		})
	}
	if err := (policy.Roles{}).Authorize(context.Background(), policy.Read, res); !errors.Is(err, policy.ErrDenied) {
		t.Fatalf("Authorize without principal = %v, want ErrDenied", err)
	}
}
