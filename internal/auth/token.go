package auth

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrTokenExpired is wrapped by Tokens.Verify and OIDC.Verify when a token
// was genuine but has expired, so a server can tell the client to get a
// new one rather than that it is not welcome. It wraps ErrBadCredentials:
// errors.Is matches either.
var ErrTokenExpired = fmt.Errorf("%w: token expired", ErrBadCredentials)

// Token defaults.
const (
	DefaultTokenTTL      = 15 * time.Minute
	DefaultTokenIssuer   = "edp"
	DefaultTokenAudience = "edp-api"
)

const (
	// tokenLeeway absorbs clock skew between edp processes, and between a
	// process and its clients, in exp, nbf and iat checks.
	tokenLeeway = 30 * time.Second
	// reloadInterval bounds how often the keyring file is looked at for a
	// change made by another process. Unknown key ids come from anyone who
	// can reach the API, so without a bound each forged token would cost a
	// file read.
	reloadInterval = time.Second
	// keyringVersion is the "version" of the keyring files this code writes
	// and reads.
	keyringVersion = 1
	tokenAlg       = "EdDSA"
)

// TokenOptions configures OpenTokens. Zero fields take the defaults.
type TokenOptions struct {
	// TTL is how long an issued token is valid (DefaultTokenTTL).
	TTL time.Duration
	// Issuer is the token's iss claim (DefaultTokenIssuer).
	Issuer string
	// Audience is the token's aud claim (DefaultTokenAudience).
	Audience string
	// Clock replaces time.Now, for tests of expiry and rotation.
	Clock func() time.Time
}

// Tokens issues and verifies edp's access tokens: JWTs signed with Ed25519
// (alg EdDSA). The signing keys live in a keyring file, so that every edp
// process on a data directory, and the next start of the server, accepts
// the tokens of the others. Rotate replaces the signing key; the retired
// key keeps verifying until the tokens it signed have expired.
//
// A token is stateless: it stays valid until it expires whatever happens
// to its user meanwhile. Its roles claim is informational; a server takes
// the user's roles from Store.Principal on every request.
//
// Tokens is safe for concurrent use.
type Tokens struct {
	path     string
	ttl      time.Duration
	issuer   string
	audience string
	now      func() time.Time
	parser   *jwt.Parser

	mu   sync.RWMutex
	ring keyring
	// loaded describes the keyring file ring was read from or written to,
	// so that refresh can tell whether another process has replaced it.
	loaded fs.FileInfo
	// checked is when refresh last looked at the file for an unknown key.
	checked time.Time
}

// signingKey is one Ed25519 key of the keyring.
type signingKey struct {
	kid     string
	created time.Time
	retired time.Time // zero while the key is the current one
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
}

// keyring is the current signing key and the retired keys that still
// verify.
type keyring struct {
	current *signingKey
	retired []*signingKey
}

// keyringFile is the JSON form of a keyring. Keys are stored as their
// 32-byte Ed25519 seeds.
type keyringFile struct {
	Version int       `json:"version"`
	Keys    []keyJSON `json:"keys"`
}

type keyJSON struct {
	KID     string     `json:"kid"`
	Alg     string     `json:"alg"`
	Created time.Time  `json:"created"`
	Retired *time.Time `json:"retired,omitempty"` // absent: the current key
	Seed    string     `json:"seed"`              // base64url, no padding
}

// tokenClaims are the claims of an edp access token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// OpenTokens loads the keyring at path, or creates it with one fresh key
// (and its directory, mode 0700) if there is no file. A file that cannot be
// read or parsed is an error naming path: replacing it would log everyone
// out and hide tampering. Retired keys whose tokens have all expired are
// pruned from the file.
func OpenTokens(path string, opts TokenOptions) (*Tokens, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: token keyring path is empty", ErrInvalid)
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("%w: token lifetime %v is negative", ErrInvalid, opts.TTL)
	}
	t := &Tokens{
		path:     path,
		ttl:      cmp.Or(opts.TTL, DefaultTokenTTL),
		issuer:   cmp.Or(opts.Issuer, DefaultTokenIssuer),
		audience: cmp.Or(opts.Audience, DefaultTokenAudience),
		now:      opts.Clock,
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.parser = jwt.NewParser(
		// Only EdDSA: a token naming another algorithm is refused before
		// any key is looked at, which rules out algorithm confusion
		// ("none", or HS256 keyed with the public key).
		jwt.WithValidMethods([]string{tokenAlg}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
		// Strict base64 keeps a token from having several spellings.
		jwt.WithStrictDecoding(),
	)

	now := t.now()
	ring, fi, err := readKeyring(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if ring, fi, err = t.createKeyring(now); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	if pruned := t.prune(ring, now); len(pruned.retired) != len(ring.retired) {
		if fi, err = writeKeyring(path, pruned); err != nil {
			return nil, err
		}
		ring = pruned
	}
	t.ring, t.loaded = ring, fi
	return t, nil
}

// createKeyring writes a new keyring with one key to t.path, unless
// another process has just done so; then it returns that one.
func (t *Tokens) createKeyring(now time.Time) (keyring, fs.FileInfo, error) {
	k, err := newSigningKey(now)
	if err != nil {
		return keyring{}, nil, err
	}
	ring := keyring{current: k}
	fi, err := writeKeyringExclusive(t.path, ring)
	if errors.Is(err, fs.ErrExist) {
		return readKeyring(t.path)
	}
	return ring, fi, err
}

// Issue returns a signed access token for p and when it expires. Its
// claims: iss, aud, sub (p.Name), iat, nbf, exp, a random jti, and roles
// (p.Roles, informational).
func (t *Tokens) Issue(p Principal) (token string, expires time.Time, err error) {
	if p.Name == "" {
		return "", time.Time{}, fmt.Errorf("%w: issue token: principal has no name", ErrInvalid)
	}
	// Pick up a rotation by another process, so this one does not go on
	// signing with a key the others have retired and will prune; a stat
	// is nothing beside the password check before a login. A file that
	// cannot be read now does not stop logins: the key in memory is still
	// good, and Rotate and OpenTokens report the damage.
	_ = t.refresh(false)
	t.mu.RLock()
	k := t.ring.current
	t.mu.RUnlock()

	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	now := t.now()
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   p.Name,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		Roles: p.Roles,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = k.kid
	token, err = tok.SignedString(k.priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	// The claim holds whole seconds; report the expiry the token carries.
	return token, claims.ExpiresAt.Time, nil
}

// unknownKeyError is returned by keyFor when the token's key is not in the
// keyring; Verify reports its reason.
type unknownKeyError struct{ reason string }

func (e *unknownKeyError) Error() string { return e.reason }

// Verify checks token and returns the Principal it names, with Method
// MethodToken and Roles as issued. Every refusal wraps ErrBadCredentials and
// says why (malformed, algorithm refused, unknown key, bad signature,
// expired, not yet valid, wrong issuer or audience); an expired token
// wraps ErrTokenExpired too. The token itself is never in the message.
func (t *Tokens) Verify(token string) (Principal, error) {
	var claims tokenClaims
	parsed, err := t.parser.ParseWithClaims(token, &claims, t.keyFor)
	if err != nil {
		return Principal{}, t.refusal(parsed, err)
	}
	if claims.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token is malformed: no subject", ErrBadCredentials)
	}
	p := Principal{Name: claims.Subject, Roles: claims.Roles, Method: MethodToken}
	if claims.IssuedAt != nil {
		p.IssuedAt = claims.IssuedAt.Time
	}
	return p, nil
}

// refusal turns an error of the JWT parser into one wrapping
// ErrBadCredentials with a short reason. The parser checks the algorithm,
// then the key, then the signature, then the claims, so a claim is only
// ever reported for a genuine token. A token that is both expired and
// meant for another issuer or audience is reported as the latter: getting
// a new one would not help.
func (t *Tokens) refusal(parsed *jwt.Token, err error) error {
	var unknown *unknownKeyError
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %v", ErrBadCredentials, err) // "token is malformed: why"
	case parsed != nil && parsed.Method != nil && parsed.Method.Alg() != tokenAlg:
		return fmt.Errorf("%w: token algorithm %q refused (want %s)", ErrBadCredentials, parsed.Method.Alg(), tokenAlg)
	case parsed != nil && parsed.Method == nil:
		return fmt.Errorf("%w: token algorithm %v refused (want %s)", ErrBadCredentials, parsed.Header["alg"], tokenAlg)
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: %s", ErrBadCredentials, unknown.reason)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: bad token signature", ErrBadCredentials)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: token has the wrong issuer (want %q)", ErrBadCredentials, t.issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: token has the wrong audience (want %q)", ErrBadCredentials, t.audience)
	case errors.Is(err, jwt.ErrTokenExpired):
		exp := ""
		if c, ok := claimsOf(parsed); ok && c.ExpiresAt != nil {
			exp = " at " + c.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return fmt.Errorf("%w%s", ErrTokenExpired, exp)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: token not valid yet", ErrBadCredentials)
	}
	return fmt.Errorf("%w: invalid token: %v", ErrBadCredentials, err)
}

func claimsOf(tok *jwt.Token) (*tokenClaims, bool) {
	if tok == nil {
		return nil, false
	}
	c, ok := tok.Claims.(*tokenClaims)
	return c, ok
}

// keyFor is the parser's key lookup: the public key named by the token's
// kid. An unknown kid may be a key another process has just rotated in, so
// the keyring file is looked at again (at most once per reloadInterval)
// before the token is refused.
func (t *Tokens) keyFor(tok *jwt.Token) (any, error) {
	if tok.Method != jwt.SigningMethodEdDSA {
		// WithValidMethods has refused anything else already; this keeps
		// the guarantee next to the key it protects.
		return nil, fmt.Errorf("token algorithm %q refused", tok.Method.Alg())
	}
	kid, _ := tok.Header["kid"].(string)
	if kid == "" {
		return nil, &unknownKeyError{"token names no signing key (kid)"}
	}
	if k := t.lookup(kid); k != nil {
		return k.pub, nil
	}
	if err := t.refresh(true); err != nil {
		return nil, &unknownKeyError{fmt.Sprintf("unknown signing key %q (rereading the keyring: %v)", kid, err)}
	}
	if k := t.lookup(kid); k != nil {
		return k.pub, nil
	}
	return nil, &unknownKeyError{fmt.Sprintf("unknown signing key %q", kid)}
}

// lookup returns the key kid if it still verifies: the current key, or a
// retired one whose tokens may not all have expired yet.
func (t *Tokens) lookup(kid string) *signingKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.ring.current.kid == kid {
		return t.ring.current
	}
	now := t.now()
	for _, k := range t.ring.retired {
		if k.kid == kid && t.live(k, now) {
			return k
		}
	}
	return nil
}

// live reports whether the retired key k may still have signed a token that
// has not expired: keys retire when a new one is made, and a token lives at
// most TTL, plus the leeway Verify grants.
func (t *Tokens) live(k *signingKey, now time.Time) bool {
	return !now.After(k.retired.Add(t.ttl + tokenLeeway))
}

// prune returns ring without the retired keys that no longer verify.
func (t *Tokens) prune(ring keyring, now time.Time) keyring {
	out := keyring{current: ring.current}
	for _, k := range ring.retired {
		if t.live(k, now) {
			out.retired = append(out.retired, k)
		}
	}
	return out
}

// refresh rereads the keyring file if another process has replaced it
// since this one read or wrote it. With limited, as for unknown key ids
// that anyone can send, it looks at the file at most once per
// reloadInterval. Reading does not prune the file: only OpenTokens and
// Rotate write it.
func (t *Tokens) refresh(limited bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if limited {
		if !t.checked.IsZero() && now.Sub(t.checked) < reloadInterval && !now.Before(t.checked) {
			return nil
		}
		t.checked = now
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("keyring %s: %w", t.path, err)
	}
	if sameFile(fi, t.loaded) {
		return nil
	}
	ring, fi, err := readKeyring(t.path)
	if err != nil {
		return err
	}
	t.ring, t.loaded = t.prune(ring, now), fi
	return nil
}

// sameFile reports whether a and b describe the same, unchanged file. The
// keyring is only ever replaced by rename, so a change means a new file.
func sameFile(a, b fs.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// Rotate makes a new current signing key and retires the old one, which
// keeps verifying until the tokens it signed have expired. Retired keys past
// that are pruned. The keyring is reread first, so a rotation made by
// another process is kept, and written before Rotate returns; Rotate fails,
// changing nothing, if either cannot be done.
func (t *Tokens) Rotate() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	ring, _, err := readKeyring(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted under us: the keys in memory are all there is.
		ring, err = t.ring, nil
	}
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	next, err := newSigningKey(now)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	old := *ring.current
	old.retired = now
	rotated := t.prune(keyring{current: next, retired: append(slices.Clone(ring.retired), &old)}, now)
	fi, err := writeKeyring(t.path, rotated)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	t.ring, t.loaded = rotated, fi
	return nil
}

// CurrentKeyAge returns how long ago the current signing key was made, so
// a server can rotate on a schedule. It first picks up a rotation made by
// another process.
func (t *Tokens) CurrentKeyAge() time.Duration {
	_ = t.refresh(false)
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.now().Sub(t.ring.current.created)
}

// newSigningKey makes an Ed25519 key with a random kid.
func newSigningKey(now time.Time) (*signingKey, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("new signing key: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new signing key: %w", err)
	}
	return &signingKey{
		kid:     base64.RawURLEncoding.EncodeToString(id[:]),
		created: now.UTC(),
		priv:    priv,
		pub:     pub,
	}, nil
}

// readKeyring reads and checks the keyring file at path. It also returns
// the file's description, taken from the very file it read.
func readKeyring(path string) (keyring, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return keyring{}, nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return keyring{}, nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return keyring{}, nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	ring, err := decodeKeyring(data)
	if err != nil {
		return keyring{}, nil, fmt.Errorf("keyring %s is damaged (restore it from a backup, or delete it to log everyone out): %w", path, err)
	}
	return ring, fi, nil
}

func decodeKeyring(data []byte) (keyring, error) {
	var file keyringFile
	if err := json.Unmarshal(data, &file); err != nil {
		return keyring{}, err
	}
	if file.Version != keyringVersion {
		return keyring{}, fmt.Errorf("version %d, want %d", file.Version, keyringVersion)
	}
	var ring keyring
	seen := make(map[string]bool)
	for i, kj := range file.Keys {
		switch {
		case kj.KID == "":
			return keyring{}, fmt.Errorf("key %d has no kid", i+1)
		case seen[kj.KID]:
			return keyring{}, fmt.Errorf("key id %q appears twice", kj.KID)
		case kj.Alg != tokenAlg:
			return keyring{}, fmt.Errorf("key %q: algorithm %q, want %s", kj.KID, kj.Alg, tokenAlg)
		}
		seen[kj.KID] = true
		seed, err := base64.RawURLEncoding.Strict().DecodeString(kj.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			return keyring{}, fmt.Errorf("key %q: seed is not %d bytes of base64url", kj.KID, ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		k := &signingKey{kid: kj.KID, created: kj.Created, priv: priv, pub: priv.Public().(ed25519.PublicKey)}
		if kj.Retired == nil {
			if ring.current != nil {
				return keyring{}, errors.New("more than one current key")
			}
			ring.current = k
			continue
		}
		k.retired = *kj.Retired
		ring.retired = append(ring.retired, k)
	}
	if ring.current == nil {
		return keyring{}, errors.New("no current key")
	}
	return ring, nil
}

func encodeKeyring(ring keyring) ([]byte, error) {
	file := keyringFile{Version: keyringVersion}
	for _, k := range append([]*signingKey{ring.current}, ring.retired...) {
		kj := keyJSON{KID: k.kid, Alg: tokenAlg, Created: k.created, Seed: base64.RawURLEncoding.EncodeToString(k.priv.Seed())}
		if !k.retired.IsZero() {
			r := k.retired.UTC()
			kj.Retired = &r
		}
		file.Keys = append(file.Keys, kj)
	}
	return json.MarshalIndent(file, "", "  ")
}

// writeKeyring replaces the file at path with ring, atomically: readers
// see the old file or the new one, and a crash leaves one of them whole.
func writeKeyring(path string, ring keyring) (fs.FileInfo, error) {
	return writeKeyringWith(path, ring, os.Rename)
}

// writeKeyringExclusive writes ring to path only if there is no file there
// yet, else fails with an error wrapping fs.ErrExist. A hard link, unlike
// a rename, refuses to replace a file, so two processes creating a
// keyring at once cannot each believe their key is the one on disk.
func writeKeyringExclusive(path string, ring keyring) (fs.FileInfo, error) {
	return writeKeyringWith(path, ring, func(tmp, path string) error {
		err := os.Link(tmp, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return err
		}
		// A file system without hard links: fall back to a rename, and
		// with it to the small race described above.
		if _, statErr := os.Lstat(path); statErr == nil {
			return fs.ErrExist
		}
		return os.Rename(tmp, path)
	})
}

// writeKeyringWith writes ring to a temporary file beside path, syncs it,
// and hands it to place (rename or link) to put it at path.
func writeKeyringWith(path string, ring keyring, place func(tmp, path string) error) (fi fs.FileInfo, err error) {
	data, err := encodeKeyring(ring)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	// CreateTemp makes the file 0600, so the private keys are never
	// readable by others, not even for a moment.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		// After a rename there is nothing left to remove; after a link the
		// temporary name must go.
		_ = os.Remove(tmp)
		if err != nil {
			err = fmt.Errorf("keyring %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, err
	}
	if err = place(tmp, path); err != nil {
		return nil, err
	}
	syncDir(dir)
	return os.Stat(path)
}

// syncDir makes a rename in dir durable. It is best effort: some systems
// (Windows) cannot open a directory for syncing, and the new file's
// contents are already on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
