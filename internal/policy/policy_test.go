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
	cases := []struct {
		name   string
		roles  []string
		action policy.Action
		allow  bool
	}{
		{"admin drops", []string{auth.RoleAdmin}, policy.Admin, true},
		{"writer writes", []string{auth.RoleWriter}, policy.Write, true},
		{"writer may not drop", []string{auth.RoleWriter}, policy.Admin, false},
		{"reader reads", []string{auth.RoleReader}, policy.Read, true},
		{"reader may not write", []string{auth.RoleReader}, policy.Write, false},
		{"no roles", nil, policy.Read, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "u", Roles: c.roles})
			err := policy.Roles{}.Authorize(ctx, c.action, res)
			if (err == nil) != c.allow {
				t.Fatalf("Authorize(%v, %s) = %v, want allow=%v", c.roles, c.action, err, c.allow)
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
