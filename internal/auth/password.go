package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes. Memory and passes are RFC 9106's
// second recommended option (64 MiB, three passes) rather than its first
// (2 GiB, one pass): edp often runs on small machines next to DuckDB, which
// wants the memory for queries, and a burst of logins must not starve them.
// The RFC suggests four lanes; two keep one login from occupying every core
// of a small server, and the memory an attacker needs per guess is the same.
// The result is well above OWASP's argon2id minimum (19 MiB, two passes).
// Hashes made with other parameters still verify (the parameters are in the
// string) and NeedsRehash reports them so they can be upgraded.
const (
	argonMemory  = 64 * 1024 // KiB
	argonTime    = 3
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Password length bounds. The minimum follows NIST SP 800-63B for passwords
// chosen without other factors; it counts characters, not bytes, so a
// passphrase in any script is judged by what the user typed. The maximum is
// far beyond any passphrase; it only stops a pasted document.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024 // bytes
)

// Bounds on parameters read from a stored hash. Hashes may be imported from
// other systems, so the verifier treats them as input: an absurd cost would
// otherwise turn one login into a denial of service.
const (
	maxArgonMemory  = 1024 * 1024 // KiB, i.e. 1 GiB
	maxArgonTime    = 64
	maxPBKDF2Iter   = 10_000_000
	minStoredKeyLen = 16
	maxStoredKeyLen = 256
)

var (
	// ErrHashFormat is wrapped by VerifyPassword when the stored hash is not
	// in a format it understands, or is damaged.
	ErrHashFormat = errors.New("unrecognized password hash")
	// ErrInvalid is wrapped when an argument is unacceptable: a too short
	// password, a bad user name or role, a negative key lifetime.
	ErrInvalid = errors.New("invalid argument")
)

// ValidatePassword reports whether pw is acceptable as a new password.
func ValidatePassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("%w: password must be at least %d characters long (it has %d)", ErrInvalid, MinPasswordLen, n)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("%w: password must be at most %d bytes long", ErrInvalid, MaxPasswordLen)
	}
	return nil
}

// HashPassword returns an argon2id hash of pw in PHC string format, with a
// fresh random salt. It does not judge pw; call ValidatePassword for that.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	c := argonCost
	key := argon2.IDKey([]byte(pw), salt, c.time, c.memory, c.threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, c.memory, c.time, c.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches encoded. It accepts
//
//   - argon2id in PHC format: $argon2id$v=19$m=…,t=…,p=…$salt$hash
//   - PBKDF2-SHA256 in PHC format: $pbkdf2-sha256$i=…[,l=…]$salt$hash
//     (passlib's $pbkdf2-sha256$<iter>$salt$hash, whose base64 uses "." for
//     "+", is accepted too)
//   - Django's pbkdf2_sha256$<iter>$<salt>$<base64 hash>
//
// A mismatch is (false, nil); an error wrapping ErrHashFormat means encoded
// itself is unusable, which is the operator's problem, not the user's.
func VerifyPassword(encoded, pw string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(h.derive(pw), h.key) == 1, nil
}

// NeedsRehash reports whether encoded is anything other than an argon2id
// hash with the current parameters, so that a successful login can replace
// an imported or outdated hash while the plain password is at hand.
func NeedsRehash(encoded string) bool {
	h, err := parseHash(encoded)
	return err != nil || h.scheme != schemeArgon2id ||
		h.memory != argonCost.memory || h.time != argonCost.time || h.threads != argonCost.threads ||
		len(h.salt) != argonSaltLen || len(h.key) != argonKeyLen
}

// argonCost holds the parameters HashPassword uses: the constants above,
// lowered only by this package's tests (export_test.go) so that the race
// detector does not turn every test user into seconds of hashing.
var argonCost = struct {
	memory, time uint32
	threads      uint8
}{argonMemory, argonTime, argonThreads}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

const (
	schemeArgon2id = "argon2id"
	schemePBKDF2   = "pbkdf2-sha256"
	schemeDjango   = "pbkdf2_sha256"
)

// parsedHash is a stored hash taken apart; the fields after key apply to its
// scheme only.
type parsedHash struct {
	scheme    string
	salt, key []byte

	memory, time uint32 // argon2id
	threads      uint8  // argon2id
	iter         int    // PBKDF2
}

func (h parsedHash) derive(pw string) []byte {
	if h.scheme == schemeArgon2id {
		return argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	}
	key, err := pbkdf2.Key(sha256.New, pw, h.salt, h.iter, len(h.key))
	if err != nil {
		// Only FIPS 140-only mode refuses (short salts or keys); a nil key
		// then never matches, which fails closed.
		return nil
	}
	return key
}

func hashFormatError(scheme, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrHashFormat, scheme, fmt.Sprintf(format, args...))
}

func parseHash(encoded string) (parsedHash, error) {
	// Never quote encoded in errors: it is secret enough not to be logged.
	switch {
	case strings.HasPrefix(encoded, "$"+schemeArgon2id+"$"):
		return parseArgon2id(encoded)
	case strings.HasPrefix(encoded, "$"+schemePBKDF2+"$"):
		return parsePBKDF2(encoded)
	case strings.HasPrefix(encoded, schemeDjango+"$"):
		return parseDjango(encoded)
	case encoded == "":
		return parsedHash{}, fmt.Errorf("%w: empty", ErrHashFormat)
	}
	id, _, found := strings.Cut(strings.TrimPrefix(encoded, "$"), "$")
	if !found || id == "" || len(id) > 20 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		// Nothing that looks like a scheme name: repeat none of it, as it
		// may be a password stored in the clear.
		return parsedHash{}, fmt.Errorf("%w: not in PHC or Django format (supported: argon2id, pbkdf2-sha256, pbkdf2_sha256)", ErrHashFormat)
	}
	return parsedHash{}, fmt.Errorf("%w: unsupported scheme %q (supported: argon2id, pbkdf2-sha256, pbkdf2_sha256)", ErrHashFormat, id)
}

// parseArgon2id reads $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func parseArgon2id(encoded string) (parsedHash, error) {
	h := parsedHash{scheme: schemeArgon2id}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return h, hashFormatError(h.scheme, "want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return h, hashFormatError(h.scheme, "unsupported version (want v=%d)", argon2.Version)
	}
	params, err := parseParams(parts[3], "m", "t", "p")
	if err != nil || len(params) != 3 {
		return h, hashFormatError(h.scheme, "parameters must be m=<KiB>,t=<passes>,p=<lanes>")
	}
	m, t, p := params["m"], params["t"], params["p"]
	switch {
	case p < 1 || p > 255:
		return h, hashFormatError(h.scheme, "parallelism p=%d out of range 1..255", p)
	case m < 8*p || m > maxArgonMemory:
		return h, hashFormatError(h.scheme, "memory m=%d out of range %d..%d KiB", m, 8*p, maxArgonMemory)
	case t < 1 || t > maxArgonTime:
		return h, hashFormatError(h.scheme, "time t=%d out of range 1..%d", t, maxArgonTime)
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		// RFC 9106 requires at least 8 bytes of salt.
		return h, hashFormatError(h.scheme, "salt must be base64 of at least 8 bytes")
	}
	if h.key, err = decodeKey(parts[5], b64); err != nil {
		return h, hashFormatError(h.scheme, "%v", err)
	}
	return h, nil
}

// parsePBKDF2 reads $pbkdf2-sha256$i=…[,l=…]$salt$hash, and passlib's
// variant whose parameter field is the bare iteration count.
func parsePBKDF2(encoded string) (parsedHash, error) {
	h := parsedHash{scheme: schemePBKDF2}
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 {
		return h, hashFormatError(h.scheme, "want $pbkdf2-sha256$i=…,l=…$salt$hash")
	}
	length := -1
	if n, err := atoi(parts[2]); err == nil {
		h.iter = n // passlib
	} else {
		params, err := parseParams(parts[2], "i", "l")
		i, ok := params["i"]
		if err != nil || !ok {
			return h, hashFormatError(h.scheme, "parameters must be i=<iterations>[,l=<length>]")
		}
		h.iter = i
		if l, ok := params["l"]; ok {
			length = l
		}
	}
	if h.iter < 1 || h.iter > maxPBKDF2Iter {
		return h, hashFormatError(h.scheme, "iteration count out of range 1..%d", maxPBKDF2Iter)
	}
	var err error
	if h.salt, err = decodeAB64(parts[3]); err != nil || len(h.salt) == 0 {
		return h, hashFormatError(h.scheme, "salt must be non-empty base64")
	}
	if h.key, err = decodeKey(strings.ReplaceAll(parts[4], ".", "+"), b64); err != nil {
		return h, hashFormatError(h.scheme, "%v", err)
	}
	if length >= 0 && length != len(h.key) {
		return h, hashFormatError(h.scheme, "l=%d but the hash has %d bytes", length, len(h.key))
	}
	return h, nil
}

// parseDjango reads pbkdf2_sha256$<iter>$<salt>$<base64 hash>. Django uses
// the salt's text as the salt bytes and pads its base64.
func parseDjango(encoded string) (parsedHash, error) {
	h := parsedHash{scheme: schemeDjango}
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return h, hashFormatError(h.scheme, "want pbkdf2_sha256$<iterations>$<salt>$<hash>")
	}
	n, err := atoi(parts[1])
	if err != nil || n < 1 || n > maxPBKDF2Iter {
		return h, hashFormatError(h.scheme, "iteration count must be a number in 1..%d", maxPBKDF2Iter)
	}
	h.iter = n
	if parts[2] == "" {
		return h, hashFormatError(h.scheme, "empty salt")
	}
	h.salt = []byte(parts[2])
	if h.key, err = decodeKey(parts[3], base64.StdEncoding); err != nil {
		return h, hashFormatError(h.scheme, "%v", err)
	}
	return h, nil
}

// decodeAB64 decodes PHC base64 and passlib's "adapted" base64, which
// writes "." for "+"; neither pads, but a stray "=" is tolerated.
func decodeAB64(s string) ([]byte, error) {
	return b64.DecodeString(strings.TrimRight(strings.ReplaceAll(s, ".", "+"), "="))
}

func decodeKey(s string, enc *base64.Encoding) ([]byte, error) {
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("hash is not valid base64")
	}
	if len(key) < minStoredKeyLen || len(key) > maxStoredKeyLen {
		return nil, fmt.Errorf("hash has %d bytes, want %d..%d", len(key), minStoredKeyLen, maxStoredKeyLen)
	}
	return key, nil
}

// parseParams reads "k=v,k=v" where each k is one of allowed, at most once,
// and each v a decimal number. Callers check which are present.
func parseParams(s string, allowed ...string) (map[string]int, error) {
	out := make(map[string]int, len(allowed))
	for f := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(f, "=")
		n, err := atoi(v)
		_, dup := out[k]
		if !ok || err != nil || dup || !slices.Contains(allowed, k) {
			return nil, errors.New("malformed parameters")
		}
		out[k] = n
	}
	return out, nil
}

// atoi parses a plain decimal number: strconv.Atoi would also take a sign.
func atoi(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a decimal number")
	}
	return strconv.Atoi(s)
}
