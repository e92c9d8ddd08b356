package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edp-data/edp/internal/metadb"
)

// Errors callers match with errors.Is.
var (
	// ErrBadCredentials is wrapped by every failed Authenticate and
	// AuthenticateAPIKey. A server answers all of them alike; the wrapped
	// reason (never the secret) is for its log.
	ErrBadCredentials = errors.New("invalid credentials")
	ErrExists         = errors.New("already exists")
	ErrNotFound       = errors.New("not found")
)

// User is a stored account, without its password hash.
type User struct {
	Name      string
	Roles     []string
	CreatedAt time.Time
	Disabled  bool
}

// APIKeyInfo describes a stored API key; the key itself is shown only once,
// by CreateAPIKey.
type APIKeyInfo struct {
	ID        string // public prefix of the key, for listings and revocation
	User      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never expires
	RevokedAt time.Time // zero: not revoked
}

// StoreOption configures OpenStore.
type StoreOption func(*Store)

// WithClock makes the Store read time from now instead of time.Now, for
// tests of expiry.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) { s.now = now }
}

// Store keeps users and API keys in edp's metadata database.
type Store struct {
	db  *metadb.DB
	now func() time.Time
}

// storeComponent names the store's tables in edp_schema_migrations.
const storeComponent = "auth"

// storeMigrations create and evolve the store's tables. Timestamps are
// fixed-width UTC text (see timeLayout) on both engines. edp_api_keys has no
// foreign key to edp_users: RemoveUser deletes the user but keeps their
// revoked keys as a record.
//
// Version 1 is idempotent (IF NOT EXISTS) because databases made before
// migrations existed already hold these tables; version 2 then adds the
// column such databases may lack, and is a no-op on the rest.
var storeMigrations = []metadb.Migration{
	{
		Version: 1, Name: "users and API keys",
		SQLite: []string{
			`CREATE TABLE IF NOT EXISTS edp_users (
				name TEXT PRIMARY KEY,
				password_hash TEXT NOT NULL,
				roles TEXT NOT NULL,
				created_at TEXT,
				disabled INTEGER NOT NULL DEFAULT 0,
				credentials_changed_at TEXT)`,
			`CREATE TABLE IF NOT EXISTS edp_api_keys (
				id TEXT PRIMARY KEY,
				user_name TEXT NOT NULL,
				hash BLOB NOT NULL,
				created_at TEXT,
				expires_at TEXT,
				revoked_at TEXT)`,
			`CREATE INDEX IF NOT EXISTS edp_api_keys_user ON edp_api_keys (user_name)`,
		},
		Postgres: []string{
			`CREATE TABLE IF NOT EXISTS edp_users (
				name TEXT PRIMARY KEY,
				password_hash TEXT NOT NULL,
				roles TEXT NOT NULL,
				created_at TEXT,
				disabled BOOLEAN NOT NULL DEFAULT FALSE,
				credentials_changed_at TEXT)`,
			`CREATE TABLE IF NOT EXISTS edp_api_keys (
				id TEXT PRIMARY KEY,
				user_name TEXT NOT NULL,
				hash BYTEA NOT NULL,
				created_at TEXT,
				expires_at TEXT,
				revoked_at TEXT)`,
			`CREATE INDEX IF NOT EXISTS edp_api_keys_user ON edp_api_keys (user_name)`,
		},
	},
	{
		// When the user's password last changed, or the user was
		// (re)created: access tokens issued before it are refused.
		Version: 2, Name: "users.credentials_changed_at",
		Postgres: []string{`ALTER TABLE edp_users ADD COLUMN IF NOT EXISTS credentials_changed_at TEXT`},
		Func: func(ctx context.Context, q metadb.Querier, d metadb.Dialect) error {
			if d != metadb.SQLite {
				return nil
			}
			// SQLite has no ADD COLUMN IF NOT EXISTS.
			if has, err := metadb.HasColumn(ctx, q, d, "edp_users", "credentials_changed_at"); err != nil || has {
				return err
			}
			_, err := q.ExecContext(ctx, `ALTER TABLE edp_users ADD COLUMN credentials_changed_at TEXT`)
			return err
		},
	},
}

// timeLayout is RFC 3339 with exactly nine fractional digits in UTC, as in
// package audit: fixed width keeps the text in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// OpenStore brings the user and API key tables in db up to date (see
// metadb.DB.Migrate). db is edp's metadata database, SQLite or PostgreSQL,
// and stays owned by the caller.
func OpenStore(ctx context.Context, db *metadb.DB, opts ...StoreOption) (*Store, error) {
	s := &Store{db: db, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := db.Migrate(ctx, storeComponent, storeMigrations); err != nil {
		return nil, fmt.Errorf("auth tables: %w", err)
	}
	return s, nil
}

// exec, query and queryRow run a statement written with ? placeholders on
// the store's engine.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.db.Rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.db.Rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.db.Rebind(q), args...)
}

// AddUser creates a user. roles must be non-empty and each one of RoleAdmin,
// RoleWriter, RoleReader; password must pass ValidatePassword.
func (s *Store) AddUser(ctx context.Context, name, password string, roles []string) error {
	if err := validateUserName(name); err != nil {
		return err
	}
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	// ON CONFLICT rather than a prior SELECT: two concurrent adds of one
	// name cannot both succeed.
	res, err := s.exec(ctx,
		`INSERT INTO edp_users (name, password_hash, roles, created_at, credentials_changed_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (name) DO NOTHING`,
		name, hash, strings.Join(roles, ","), s.stamp(), s.stamp())
	return changedOne(res, err, fmt.Sprintf("add user %q", name), ErrExists)
}

// SetPassword replaces name's password. Existing API keys stay valid; revoke
// them separately if the account was compromised.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, `UPDATE edp_users SET password_hash = ?, credentials_changed_at = ? WHERE name = ?`, hash, s.stamp(), name)
	return userChanged(res, err, "set password of", name)
}

// SetRoles replaces name's roles, under the same rules as AddUser. It takes
// effect at a user's next request, access tokens included (see Principal).
func (s *Store) SetRoles(ctx context.Context, name string, roles []string) error {
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, `UPDATE edp_users SET roles = ? WHERE name = ?`, strings.Join(roles, ","), name)
	return userChanged(res, err, "set roles of", name)
}

// SetDisabled disables or re-enables name. A disabled user can neither log
// in nor use their API keys, which are kept for when they return.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	res, err := s.exec(ctx, `UPDATE edp_users SET disabled = ? WHERE name = ?`, disabled, name)
	return userChanged(res, err, verb, name)
}

// RemoveUser deletes name and revokes their API keys, in one transaction.
// Revoking, not just relying on the missing user, keeps the old keys dead
// if a user of the same name is added later.
func (s *Store) RemoveUser(ctx context.Context, name string) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remove user %q: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM edp_users WHERE name = ?`), name)
	if err = userChanged(res, err, "remove", name); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx,
		s.db.Rebind(`UPDATE edp_api_keys SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL`),
		s.stamp(), name); err != nil {
		return fmt.Errorf("remove user %q: revoke keys: %w", name, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("remove user %q: %w", name, err)
	}
	return nil
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.query(ctx, `SELECT name, roles, created_at, disabled FROM edp_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var users []User
	for rows.Next() {
		var (
			u       User
			roles   string
			created sql.NullString
		)
		if err := rows.Scan(&u.Name, &roles, &created, &u.Disabled); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.Roles = splitRoles(roles)
		u.CreatedAt = parseStamp(created)
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// Authenticate checks name and password. An unknown user and a wrong
// password return the very same error, and both pay for one hash
// verification, so neither the answer nor its timing tells whether name
// exists. A disabled user is refused only after the password checked out.
// An error not wrapping ErrBadCredentials is a server fault (the database,
// or a stored hash that cannot be read).
//
// A correct password stored under an imported or outdated hash is rehashed
// with the current parameters on the way through.
func (s *Store) Authenticate(ctx context.Context, name, password string) (Principal, error) {
	var (
		hash, roles string
		disabled    bool
	)
	err := s.queryRow(ctx,
		`SELECT password_hash, roles, disabled FROM edp_users WHERE name = ?`, name).
		Scan(&hash, &roles, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		h, err := dummyHash()
		if err != nil {
			// Answering without the work would let timing tell that name
			// does not exist.
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		_, _ = VerifyPassword(h, password)
		return Principal{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate %q: stored password: %w", name, err)
	}
	if !ok {
		return Principal{}, ErrBadCredentials
	}
	if disabled {
		return Principal{}, fmt.Errorf("%w: user is disabled", ErrBadCredentials)
	}
	if NeedsRehash(hash) {
		s.rehash(ctx, name, hash, password)
	}
	return Principal{Name: name, Roles: splitRoles(roles), Method: MethodPassword}, nil
}

// Principal returns the current Principal of the existing, enabled user
// name. A server calls it on every request that carries an edp access
// token: the token is stateless, so this lookup is what makes removing or
// disabling a user, or changing their roles, take effect at once rather
// than when the token expires. A missing or disabled user is refused with
// an error wrapping ErrBadCredentials; any other error is a server fault.
//
// Method is MethodToken, the one use it is made for; a caller using it
// otherwise sets Method itself.
func (s *Store) Principal(ctx context.Context, name string) (Principal, error) {
	return s.TokenPrincipal(ctx, name, time.Time{})
}

// TokenPrincipal is Principal for an access token issued at issuedAt: it
// also refuses a token issued before the user's password last changed or
// before the user was (re)created, so changing a password ends every
// session, and a new user does not inherit an old one's tokens. Tokens
// carry whole seconds, so one issued in the second of the change stands.
func (s *Store) TokenPrincipal(ctx context.Context, name string, issuedAt time.Time) (Principal, error) {
	var (
		roles    string
		disabled bool
		changed  sql.NullString
	)
	err := s.queryRow(ctx,
		`SELECT roles, disabled, coalesce(credentials_changed_at, created_at) FROM edp_users WHERE name = ?`, name).Scan(&roles, &disabled, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, fmt.Errorf("%w: user %q no longer exists", ErrBadCredentials, name)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up user %q: %w", name, err)
	}
	if disabled {
		return Principal{}, fmt.Errorf("%w: user %q is disabled", ErrBadCredentials, name)
	}
	if c := parseStamp(changed); !issuedAt.IsZero() && !c.IsZero() && issuedAt.Before(c.Truncate(time.Second)) {
		return Principal{}, fmt.Errorf("%w: token of %q was issued before its password changed", ErrBadCredentials, name)
	}
	return Principal{Name: name, Roles: splitRoles(roles), Method: MethodToken, IssuedAt: issuedAt}, nil
}

// rehash replaces old with a current hash of password. It is best effort:
// the login has already succeeded, and the next one tries again. The WHERE
// on the old hash keeps it from undoing a concurrent SetPassword.
func (s *Store) rehash(ctx context.Context, name, old, password string) {
	hash, err := HashPassword(password)
	if err != nil {
		return
	}
	_, _ = s.exec(ctx,
		`UPDATE edp_users SET password_hash = ? WHERE name = ? AND password_hash = ?`, hash, name, old)
}

// dummy holds the hash verified against when the user is unknown, so that
// case costs what a real verification does. It is made lazily, so processes
// that never authenticate do not pay for it, and remade if the parameters
// have changed since (only tests change them).
var dummy struct {
	sync.Mutex
	hash string
}

func dummyHash() (string, error) {
	dummy.Lock()
	defer dummy.Unlock()
	if dummy.hash == "" || NeedsRehash(dummy.hash) {
		h, err := HashPassword("edp-no-such-user")
		if err != nil {
			return "", err
		}
		dummy.hash = h
	}
	return dummy.hash, nil
}

// CreateAPIKey makes a new API key for user, valid for ttl (0: until
// revoked). The key is returned only here; the store keeps its hash.
func (s *Store) CreateAPIKey(ctx context.Context, user string, ttl time.Duration) (string, APIKeyInfo, error) {
	if ttl < 0 {
		return "", APIKeyInfo{}, fmt.Errorf("%w: API key lifetime %v is negative", ErrInvalid, ttl)
	}
	var disabled bool
	err := s.queryRow(ctx, `SELECT disabled FROM edp_users WHERE name = ?`, user).Scan(&disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return "", APIKeyInfo{}, fmt.Errorf("create API key: user %q: %w", user, ErrNotFound)
	}
	if err != nil {
		return "", APIKeyInfo{}, fmt.Errorf("create API key: %w", err)
	}
	if disabled {
		return "", APIKeyInfo{}, fmt.Errorf("%w: create API key: user %q is disabled", ErrInvalid, user)
	}
	now := s.now().UTC()
	info := APIKeyInfo{User: user, CreatedAt: now}
	var expires any // NULL: never
	if ttl > 0 {
		info.ExpiresAt = now.Add(ttl)
		expires = info.ExpiresAt.Format(timeLayout)
	}
	// Ids are 47 random bits, so a clash is all but impossible; should one
	// happen, a fresh key is cheaper than a clear error the user cannot act
	// on.
	for range 3 {
		key, id, hash, err := NewAPIKey()
		if err != nil {
			return "", APIKeyInfo{}, err
		}
		res, err := s.exec(ctx,
			`INSERT INTO edp_api_keys (id, user_name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (id) DO NOTHING`,
			id, user, hash, now.Format(timeLayout), expires)
		if err != nil {
			return "", APIKeyInfo{}, fmt.Errorf("create API key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return "", APIKeyInfo{}, fmt.Errorf("create API key: %w", err)
		} else if n == 1 {
			info.ID = id
			return key, info, nil
		}
	}
	return "", APIKeyInfo{}, errors.New("create API key: repeated id clashes")
}

// ListAPIKeys returns user's keys (every user's when user is ""), revoked
// and expired ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, user string) ([]APIKeyInfo, error) {
	rows, err := s.query(ctx,
		`SELECT id, user_name, created_at, expires_at, revoked_at FROM edp_api_keys
		 WHERE ? = '' OR user_name = ? ORDER BY created_at, id`, user, user)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var keys []APIKeyInfo
	for rows.Next() {
		var (
			k                         APIKeyInfo
			created, expires, revoked sql.NullString
		)
		if err := rows.Scan(&k.ID, &k.User, &created, &expires, &revoked); err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		k.CreatedAt, k.ExpiresAt, k.RevokedAt = parseStamp(created), parseStamp(expires), parseStamp(revoked)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the key with id. Revoking a revoked key succeeds and
// keeps the first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	res, err := s.exec(ctx,
		`UPDATE edp_api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, s.stamp(), id)
	return changedOne(res, err, "revoke API key "+id, ErrNotFound)
}

// AuthenticateAPIKey returns the Principal of the user owning key. Every
// refusal wraps ErrBadCredentials with a reason that names the key's public
// id at most. The key is compared before its state is examined, so only its
// holder's requests reveal (in the log) that it was revoked or expired.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (Principal, error) {
	id, hash, err := ParseAPIKey(key)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	var (
		stored           []byte
		expires, revoked sql.NullString
		user, roles      sql.NullString
		disabled         sql.NullBool
	)
	err = s.queryRow(ctx,
		`SELECT k.hash, k.expires_at, k.revoked_at, u.name, u.roles, u.disabled
		 FROM edp_api_keys k LEFT JOIN edp_users u ON u.name = k.user_name
		 WHERE k.id = ?`, id).
		Scan(&stored, &expires, &revoked, &user, &roles, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, fmt.Errorf("%w: API key %s: unknown", ErrBadCredentials, id)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate API key: %w", err)
	}
	var expiry time.Time
	if expires.Valid {
		if expiry, err = time.Parse(time.RFC3339Nano, expires.String); err != nil {
			// Fail closed: an unreadable expiry must not mean "never".
			return Principal{}, fmt.Errorf("authenticate API key %s: stored expiry: %w", id, err)
		}
	}
	switch {
	case subtle.ConstantTimeCompare(stored, hash) != 1:
		return Principal{}, fmt.Errorf("%w: API key %s: does not match the stored key", ErrBadCredentials, id)
	case revoked.Valid:
		return Principal{}, fmt.Errorf("%w: API key %s: revoked", ErrBadCredentials, id)
	case expires.Valid && !s.now().Before(expiry):
		return Principal{}, fmt.Errorf("%w: API key %s: expired", ErrBadCredentials, id)
	case !user.Valid:
		return Principal{}, fmt.Errorf("%w: API key %s: user no longer exists", ErrBadCredentials, id)
	case disabled.Bool:
		return Principal{}, fmt.Errorf("%w: API key %s: user %q is disabled", ErrBadCredentials, id, user.String)
	}
	return Principal{Name: user.String, Roles: splitRoles(roles.String), Method: MethodAPIKey}, nil
}

func (s *Store) stamp() string { return s.now().UTC().Format(timeLayout) }

// parseStamp reads a stored timestamp for display; NULL, and text that does
// not parse, read as the zero time. AuthenticateAPIKey parses expiry itself
// so that a damaged value fails closed.
func parseStamp(v sql.NullString) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v.String)
	if err != nil {
		return time.Time{}
	}
	return t
}

// userChanged turns the result of a statement on one user into an error.
func userChanged(res sql.Result, err error, verb, name string) error {
	return changedOne(res, err, fmt.Sprintf("%s user %q", verb, name), ErrNotFound)
}

// changedOne turns the result of a statement meant to change one row into
// an error: the statement's own, or none when no row changed.
func changedOne(res sql.Result, err error, what string, none error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, none)
	}
	return nil
}

// validateUserName keeps names printable and unambiguous wherever they are
// shown or logged: letters, digits and . _ @ -, starting with a letter or
// digit, at most 64 bytes.
func validateUserName(name string) error {
	const punct = "._@-"
	ok := name != "" && len(name) <= 64 && !strings.ContainsRune(punct, rune(name[0]))
	for _, r := range name {
		if !ok {
			break
		}
		ok = r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(punct, r))
	}
	if !ok {
		return fmt.Errorf("%w: user name %q: use 1 to 64 letters, digits and . _ @ -, starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// normalizeRoles checks roles and returns them sorted without duplicates,
// so the stored text has one spelling per set.
func normalizeRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, fmt.Errorf("%w: a user needs at least one role (%s, %s or %s)", ErrInvalid, RoleAdmin, RoleWriter, RoleReader)
	}
	for _, r := range roles {
		if r != RoleAdmin && r != RoleWriter && r != RoleReader {
			return nil, fmt.Errorf("%w: unknown role %q (want %s, %s or %s)", ErrInvalid, r, RoleAdmin, RoleWriter, RoleReader)
		}
	}
	roles = slices.Clone(roles)
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

func splitRoles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
