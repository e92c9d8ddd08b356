package auth_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

// TestStorePrincipal pins what makes stateless tokens safe: the roles and
// state read on every request are the user's current ones.
func TestStorePrincipal(t *testing.T) { eachEngine(t, testStorePrincipal) }

func testStorePrincipal(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleWriter, auth.RoleReader)

	want := auth.Principal{Name: "alice", Roles: []string{"reader", "writer"}, Method: auth.MethodToken}
	if p, err := s.Principal(ctx, "alice"); err != nil || !reflect.DeepEqual(p, want) {
		t.Fatalf("Principal(alice) = %+v, %v, want %+v", p, err, want)
	}

	if err := s.SetRoles(ctx, "alice", []string{auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Principal(ctx, "alice"); err != nil || !reflect.DeepEqual(p.Roles, []string{"admin"}) {
		t.Fatalf("Principal(alice) after SetRoles(admin) = %+v, %v, want roles [admin]", p, err)
	}

	if err := s.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	_, err := s.Principal(ctx, "alice")
	wantBadCredentials(t, err, "disabled")

	if err := s.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Principal(ctx, "alice"); err != nil {
		t.Fatalf("Principal(alice) after re-enabling: %v", err)
	}

	if err := s.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Principal(ctx, "alice")
	wantBadCredentials(t, err, "no longer exists")

	_, err = s.Principal(ctx, "nobody")
	wantBadCredentials(t, err, "no longer exists")
}

func TestSetRolesRejects(t *testing.T) { eachEngine(t, testSetRolesRejects) }

func testSetRolesRejects(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	if err := s.SetRoles(ctx, "alice", []string{"owner"}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("SetRoles(owner) = %v, want ErrInvalid", err)
	}
	if err := s.SetRoles(ctx, "alice", nil); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("SetRoles(none) = %v, want ErrInvalid", err)
	}
	if err := s.SetRoles(ctx, "bob", []string{auth.RoleReader}); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("SetRoles(unknown user) = %v, want ErrNotFound", err)
	}
	if p, err := s.Principal(ctx, "alice"); err != nil || !reflect.DeepEqual(p.Roles, []string{"reader"}) {
		t.Errorf("after refused SetRoles: %+v, %v, want roles [reader]", p, err)
	}
}

// TestPrincipalMethod pins the Method each way of authenticating sets.
func TestPrincipalMethod(t *testing.T) { eachEngine(t, testPrincipalMethod) }

func testPrincipalMethod(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	key, _, err := s.CreateAPIKey(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		get  func() (auth.Principal, error)
		want string
	}{
		{"password", func() (auth.Principal, error) { return s.Authenticate(ctx, "alice", alicePW) }, auth.MethodPassword},
		{"api key", func() (auth.Principal, error) { return s.AuthenticateAPIKey(ctx, key) }, auth.MethodAPIKey},
		{"local", func() (auth.Principal, error) { return auth.LocalOperator(), nil }, auth.MethodLocal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.get()
			if err != nil {
				t.Fatal(err)
			}
			if p.Method != c.want {
				t.Errorf("Method = %q, want %q", p.Method, c.want)
			}
		})
	}
}
