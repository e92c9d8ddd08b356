package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/pbkdf2"

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/metadb"
	"github.com/edp-data/edp/internal/metadb/metadbtest"
)

const (
	alicePW = "alice's long passphrase"
	bobPW   = "bob's even longer passphrase"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDB opens a fresh metadata database on eng the way lake.Open does.
func openDB(t *testing.T, eng metadbtest.Engine) *metadb.DB {
	t.Helper()
	return metadbtest.Open(t, eng.URI(t))
}

// eachEngine runs test once per metadata database engine.
func eachEngine(t *testing.T, test func(*testing.T, metadbtest.Engine)) {
	for _, eng := range metadbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) { test(t, eng) })
	}
}

// newStore opens a Store with cheap hashing and a clock at base.
func newStore(t *testing.T, eng metadbtest.Engine) (*auth.Store, *metadb.DB, *clock) {
	t.Helper()
	auth.UseCheapHashing(t)
	db := openDB(t, eng)
	clk := &clock{t: base}
	s, err := auth.OpenStore(context.Background(), db, auth.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	return s, db, clk
}

func mustAddUser(t *testing.T, s *auth.Store, name, pw string, roles ...string) {
	t.Helper()
	if err := s.AddUser(context.Background(), name, pw, roles); err != nil {
		t.Fatal(err)
	}
}

func wantBadCredentials(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error %q does not give the reason %q", err, reason)
	}
}

func TestStoreUsers(t *testing.T) { eachEngine(t, testStoreUsers) }

func testStoreUsers(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, db, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleWriter, auth.RoleReader, auth.RoleWriter)
	mustAddUser(t, s, "bob@example.com", bobPW, auth.RoleAdmin)

	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []auth.User{
		{Name: "alice", Roles: []string{"reader", "writer"}, CreatedAt: base},
		{Name: "bob@example.com", Roles: []string{"admin"}, CreatedAt: base},
	}
	if !reflect.DeepEqual(users, want) {
		t.Fatalf("ListUsers = %+v, want %+v", users, want)
	}

	var stored string
	if err := db.QueryRow(`SELECT password_hash FROM edp_users WHERE name = 'alice'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$") || strings.Contains(stored, alicePW) {
		t.Fatalf("stored password %q is not an argon2id hash", stored)
	}

	p, err := s.Authenticate(ctx, "alice", alicePW)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "alice" || !p.HasRole(auth.RoleWriter) || !p.HasRole(auth.RoleReader) || p.HasRole(auth.RoleAdmin) {
		t.Fatalf("Principal = %+v", p)
	}
	_, err = s.Authenticate(ctx, "alice", bobPW)
	wantBadCredentials(t, err, "")

	if err := s.SetPassword(ctx, "alice", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("old password after SetPassword: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice", "a brand new passphrase"); err != nil {
		t.Fatalf("new password after SetPassword: %v", err)
	}
	if err := s.SetPassword(ctx, "alice", "short"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("SetPassword(short) = %v, want ErrInvalid", err)
	}
	if err := s.SetPassword(ctx, "carol", alicePW); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("SetPassword(unknown) = %v, want ErrNotFound", err)
	}

	if err := s.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", "a brand new passphrase"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("removed user authenticated: %v", err)
	}
	if err := s.RemoveUser(ctx, "alice"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("RemoveUser twice = %v, want ErrNotFound", err)
	}
	if users, _ := s.ListUsers(ctx); len(users) != 1 || users[0].Name != "bob@example.com" {
		t.Fatalf("after removal ListUsers = %+v", users)
	}

	// Opening again over existing tables keeps the data.
	s2, err := auth.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Authenticate(ctx, "bob@example.com", bobPW); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

func TestAddUserRejects(t *testing.T) { eachEngine(t, testAddUserRejects) }

func testAddUserRejects(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)

	err := s.AddUser(ctx, "alice", bobPW, []string{auth.RoleAdmin})
	if !errors.Is(err, auth.ErrExists) {
		t.Fatalf("duplicate AddUser = %v, want ErrExists", err)
	}
	// The failed add must not have changed the existing user.
	if p, err := s.Authenticate(ctx, "alice", alicePW); err != nil || p.HasRole(auth.RoleAdmin) {
		t.Fatalf("after duplicate add: %+v, %v", p, err)
	}

	cases := []struct {
		name, user, pw string
		roles          []string
		msg            string
	}{
		{"unknown role", "bob", bobPW, []string{"reader", "owner"}, `unknown role "owner"`},
		{"role case", "bob", bobPW, []string{"Admin"}, "unknown role"},
		{"no roles", "bob", bobPW, nil, "at least one role"},
		{"short password", "bob", "tooshort", []string{"reader"}, "at least 12 characters"},
		{"empty name", "", bobPW, []string{"reader"}, "user name"},
		{"comma in name", "bob,eve", bobPW, []string{"reader"}, "user name"},
		{"space in name", "bob smith", bobPW, []string{"reader"}, "user name"},
		{"leading dash", "-bob", bobPW, []string{"reader"}, "user name"},
		{"long name", strings.Repeat("b", 65), bobPW, []string{"reader"}, "user name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.AddUser(ctx, c.user, c.pw, c.roles)
			if !errors.Is(err, auth.ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("AddUser = %v, want ErrInvalid mentioning %q", err, c.msg)
			}
		})
	}
	if users, _ := s.ListUsers(ctx); len(users) != 1 {
		t.Fatalf("rejected users were stored: %+v", users)
	}
}

func TestAddUserConcurrentDuplicates(t *testing.T) { eachEngine(t, testAddUserConcurrentDuplicates) }

func testAddUserConcurrentDuplicates(t *testing.T, eng metadbtest.Engine) {
	s, _, _ := newStore(t, eng)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.AddUser(context.Background(), "alice", alicePW, []string{auth.RoleReader}) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, auth.ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent adds of one name succeeded, want 1", ok)
	}
}

func TestAuthenticateSameErrorAndCost(t *testing.T) { eachEngine(t, testAuthenticateSameErrorAndCost) }

func testAuthenticateSameErrorAndCost(t *testing.T, eng metadbtest.Engine) {
	// Real parameters, so the unknown-user path has work worth timing.
	ctx := context.Background()
	s, err := auth.OpenStore(ctx, openDB(t, eng))
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	_, _ = s.Authenticate(ctx, "nobody", alicePW) // makes the dummy hash

	start := time.Now()
	_, errWrongPW := s.Authenticate(ctx, "alice", "not alice's password")
	wrongPW := time.Since(start)
	start = time.Now()
	_, errNoUser := s.Authenticate(ctx, "mallory", "not alice's password")
	noUser := time.Since(start)

	if !errors.Is(errWrongPW, auth.ErrBadCredentials) || !errors.Is(errNoUser, auth.ErrBadCredentials) {
		t.Fatalf("errors %v and %v, want ErrBadCredentials", errWrongPW, errNoUser)
	}
	if errWrongPW != errNoUser || errWrongPW.Error() != errNoUser.Error() {
		t.Fatalf("wrong password gives %q, unknown user %q: they must not differ", errWrongPW, errNoUser)
	}
	// Loose bound: both verify one argon2id hash, so an unknown user must
	// not come back markedly faster. A real leak would be 100x, not 4x.
	if noUser < wrongPW/4 {
		t.Errorf("unknown user took %v, wrong password %v: the difference reveals which names exist", noUser, wrongPW)
	}
}

func TestAuthenticateDisabled(t *testing.T) { eachEngine(t, testAuthenticateDisabled) }

func testAuthenticateDisabled(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	if err := s.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	_, err := s.Authenticate(ctx, "alice", alicePW)
	wantBadCredentials(t, err, "disabled")
	// With a wrong password a disabled account looks like any other.
	_, err = s.Authenticate(ctx, "alice", bobPW)
	if err != auth.ErrBadCredentials {
		t.Fatalf("disabled user, wrong password: %v, want plain ErrBadCredentials", err)
	}
	if users, _ := s.ListUsers(ctx); !users[0].Disabled {
		t.Fatal("ListUsers does not show the user disabled")
	}
	if err := s.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", alicePW); err != nil {
		t.Fatalf("re-enabled user: %v", err)
	}
	if err := s.SetDisabled(ctx, "nobody", true); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("SetDisabled(unknown) = %v, want ErrNotFound", err)
	}
}

func TestAuthenticateUpgradesImportedHash(t *testing.T) {
	eachEngine(t, testAuthenticateUpgradesImportedHash)
}

func testAuthenticateUpgradesImportedHash(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, db, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	key := pbkdf2.Key([]byte(alicePW), []byte("importedsalt"), 1000, 32, sha256.New)
	imported := "pbkdf2_sha256$1000$importedsalt$" + base64.StdEncoding.EncodeToString(key)
	if _, err := db.Exec(db.Rebind(`UPDATE edp_users SET password_hash = ? WHERE name = 'alice'`), imported); err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		var h string
		if err := db.QueryRow(`SELECT password_hash FROM edp_users WHERE name = 'alice'`).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}

	if _, err := s.Authenticate(ctx, "alice", bobPW); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("wrong password against imported hash: %v", err)
	}
	if stored() != imported {
		t.Fatal("a failed login replaced the hash")
	}
	if _, err := s.Authenticate(ctx, "alice", alicePW); err != nil {
		t.Fatalf("imported hash: %v", err)
	}
	if h := stored(); !strings.HasPrefix(h, "$argon2id$") || auth.NeedsRehash(h) {
		t.Fatalf("after login the hash is %q, want a current argon2id hash", h)
	}
	if _, err := s.Authenticate(ctx, "alice", alicePW); err != nil {
		t.Fatalf("after upgrade: %v", err)
	}

	// A stored hash edp cannot read is a server fault, not bad credentials.
	if _, err := db.Exec(`UPDATE edp_users SET password_hash = 'md5$x$y' WHERE name = 'alice'`); err != nil {
		t.Fatal(err)
	}
	_, err := s.Authenticate(ctx, "alice", alicePW)
	if !errors.Is(err, auth.ErrHashFormat) || errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("unreadable stored hash: %v, want ErrHashFormat only", err)
	}
}

func TestAPIKeys(t *testing.T) { eachEngine(t, testAPIKeys) }

func testAPIKeys(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, db, clk := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleWriter)

	forever, foreverInfo, err := s.CreateAPIKey(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	hourly, hourlyInfo, err := s.CreateAPIKey(ctx, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if foreverInfo != (auth.APIKeyInfo{ID: forever[4:12], User: "alice", CreatedAt: base}) {
		t.Fatalf("info = %+v", foreverInfo)
	}
	wantExpiry := base.Add(time.Minute + time.Hour)
	if hourlyInfo.ID != hourly[4:12] || !hourlyInfo.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("info = %+v, want expiry %v", hourlyInfo, wantExpiry)
	}

	// Only the id and the hash are stored.
	var storedHash []byte
	if err := db.QueryRow(db.Rebind(`SELECT hash FROM edp_api_keys WHERE id = ?`), foreverInfo.ID).Scan(&storedHash); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(forever)); string(storedHash) != string(sum[:]) {
		t.Fatalf("stored %x, want the SHA-256 of the key", storedHash)
	}

	for _, key := range []string{forever, hourly} {
		p, err := s.AuthenticateAPIKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "alice" || !reflect.DeepEqual(p.Roles, []string{"writer"}) {
			t.Fatalf("Principal = %+v", p)
		}
	}

	keys, err := s.ListAPIKeys(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keys, []auth.APIKeyInfo{foreverInfo, hourlyInfo}) {
		t.Fatalf("ListAPIKeys = %+v", keys)
	}
	if keys, _ := s.ListAPIKeys(ctx, "bob"); len(keys) != 0 {
		t.Fatalf("ListAPIKeys(bob) = %+v", keys)
	}

	// Expiry: valid until the instant it names, refused from then on.
	clk.advance(time.Hour - time.Nanosecond)
	if _, err := s.AuthenticateAPIKey(ctx, hourly); err != nil {
		t.Fatalf("a nanosecond before expiry: %v", err)
	}
	clk.advance(time.Nanosecond)
	_, err = s.AuthenticateAPIKey(ctx, hourly)
	wantBadCredentials(t, err, "expired")
	if _, err := s.AuthenticateAPIKey(ctx, forever); err != nil {
		t.Fatalf("key without expiry: %v", err)
	}

	// Revocation is immediate and idempotent.
	revokedAt := clk.now()
	if err := s.RevokeAPIKey(ctx, foreverInfo.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(ctx, forever)
	wantBadCredentials(t, err, "revoked")
	clk.advance(time.Hour)
	if err := s.RevokeAPIKey(ctx, foreverInfo.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	keys, _ = s.ListAPIKeys(ctx, "alice")
	if !keys[0].RevokedAt.Equal(revokedAt) || !keys[1].RevokedAt.IsZero() {
		t.Fatalf("after revoking: %+v, want the first revoked at %v", keys, revokedAt)
	}
	if err := s.RevokeAPIKey(ctx, "nokey123"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("RevokeAPIKey(unknown) = %v, want ErrNotFound", err)
	}

	// Keys that were never issued, or are damaged.
	unknown, _, _, _ := auth.NewAPIKey()
	_, err = s.AuthenticateAPIKey(ctx, unknown)
	wantBadCredentials(t, err, "unknown")
	_, err = s.AuthenticateAPIKey(ctx, hourly[:len(hourly)-2])
	wantBadCredentials(t, err, "malformed")
	_, err = s.AuthenticateAPIKey(ctx, alicePW)
	wantBadCredentials(t, err, "malformed")

	// A key whose id is known but whose secret differs.
	third, thirdInfo, err := s.CreateAPIKey(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(db.Rebind(`UPDATE edp_api_keys SET hash = ? WHERE id = ?`), make([]byte, 32), thirdInfo.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(ctx, third)
	wantBadCredentials(t, err, "does not match")

	// A user deleted behind the store's back (RemoveUser revokes) still
	// cannot use a key.
	if _, err := db.Exec(`DELETE FROM edp_users WHERE name = 'alice'`); err != nil {
		t.Fatal(err)
	}
	thirdSum := sha256.Sum256([]byte(third))
	if _, err := db.Exec(db.Rebind(`UPDATE edp_api_keys SET hash = ? WHERE id = ?`), thirdSum[:], thirdInfo.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(ctx, third)
	wantBadCredentials(t, err, "no longer exists")

	// No refusal repeats the secret part of a key.
	for _, key := range []string{forever, hourly, unknown, third} {
		_, err := s.AuthenticateAPIKey(ctx, key)
		if err == nil || strings.Contains(err.Error(), key[12:]) {
			t.Errorf("refusal %v leaks the key", err)
		}
	}
}

func TestCreateAPIKeyRejects(t *testing.T) { eachEngine(t, testCreateAPIKeyRejects) }

func testCreateAPIKeyRejects(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "alice", alicePW, auth.RoleReader)
	if _, _, err := s.CreateAPIKey(ctx, "nobody", 0); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "alice", -time.Second); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("negative ttl: %v, want ErrInvalid", err)
	}
	if err := s.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "alice", 0); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("disabled user: %v, want ErrInvalid", err)
	}
}

func TestAPIKeyOfDisabledOrRemovedUser(t *testing.T) {
	eachEngine(t, testAPIKeyOfDisabledOrRemovedUser)
}

func testAPIKeyOfDisabledOrRemovedUser(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, _ := newStore(t, eng)
	mustAddUser(t, s, "bob", bobPW, auth.RoleAdmin)
	key, info, err := s.CreateAPIKey(ctx, "bob", 0)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(ctx, key)
	wantBadCredentials(t, err, "disabled")
	if err := s.SetDisabled(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, key); err != nil {
		t.Fatalf("re-enabled user's key: %v", err)
	}

	if err := s.RemoveUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateAPIKey(ctx, key)
	wantBadCredentials(t, err, "revoked")
	keys, err := s.ListAPIKeys(ctx, "bob")
	if err != nil || len(keys) != 1 || keys[0].ID != info.ID || keys[0].RevokedAt.IsZero() {
		t.Fatalf("removed user's keys = %+v, %v; want the key, revoked", keys, err)
	}

	// A new user of the same name does not inherit the old keys.
	mustAddUser(t, s, "bob", "a different bob's passphrase", auth.RoleReader)
	_, err = s.AuthenticateAPIKey(ctx, key)
	wantBadCredentials(t, err, "revoked")
}

// TestTokenPrincipalAfterCredentialChanges pins that an access token ends
// with the password it was issued under, and is not inherited by a new
// user of the same name.
func TestTokenPrincipalAfterCredentialChanges(t *testing.T) {
	eachEngine(t, testTokenPrincipalAfterCredentialChanges)
}

func testTokenPrincipalAfterCredentialChanges(t *testing.T, eng metadbtest.Engine) {
	ctx := context.Background()
	s, _, clk := newStore(t, eng)
	mustAddUser(t, s, "dora", "first password here", auth.RoleReader)
	issued := clk.now().Add(time.Second) // a login a second after creation
	clk.advance(2 * time.Second)
	if _, err := s.TokenPrincipal(ctx, "dora", issued); err != nil {
		t.Fatalf("TokenPrincipal before any change = %v", err)
	}
	if err := s.SetPassword(ctx, "dora", "second password here"); err != nil {
		t.Fatal(err)
	}
	_, err := s.TokenPrincipal(ctx, "dora", issued)
	wantBadCredentials(t, err, "before its password changed")
	// A token issued in the second of the change stands (tokens carry
	// whole seconds); one issued later too.
	if _, err := s.TokenPrincipal(ctx, "dora", clk.now().Truncate(time.Second)); err != nil {
		t.Errorf("TokenPrincipal for a token of the change's second = %v", err)
	}
	later := clk.now().Add(time.Minute)
	clk.advance(time.Hour)
	if err := s.RemoveUser(ctx, "dora"); err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, s, "dora", "a new dora's password", auth.RoleAdmin)
	_, err = s.TokenPrincipal(ctx, "dora", later)
	wantBadCredentials(t, err, "before its password changed")
}

// TestOpenStoreAddsColumns opens a database made before
// credentials_changed_at existed: the column is added and old users'
// tokens are judged by their creation time.
//
// Such databases exist only on SQLite: PostgreSQL support came with
// migrations.
func TestOpenStoreAddsColumns(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.Open(t, metadbtest.SQLiteURI(t))
	if _, err := db.Exec(`CREATE TABLE edp_users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
		roles TEXT NOT NULL, created_at TEXT, disabled INTEGER NOT NULL DEFAULT 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO edp_users (name, password_hash, roles, created_at) VALUES ('old', 'x', 'reader', '2026-03-01T12:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	s, err := auth.OpenStore(ctx, db)
	if err != nil {
		t.Fatalf("OpenStore on an old database: %v", err)
	}
	if _, err := auth.OpenStore(ctx, db); err != nil {
		t.Fatalf("OpenStore again: %v", err)
	}
	if v, err := db.SchemaVersion(ctx, "auth"); err != nil || v != 2 {
		t.Fatalf("auth schema version = %d, %v; want 2", v, err)
	}
	if _, err := s.TokenPrincipal(ctx, "old", base.Add(time.Hour)); err != nil {
		t.Errorf("token issued after creation = %v", err)
	}
	_, err = s.TokenPrincipal(ctx, "old", base.Add(-time.Hour))
	wantBadCredentials(t, err, "before its password changed")
}
