package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// API key layout: "edp_", a random body, and a checksum of the body. The
// prefix lets secret scanners and people recognise an edp key; the checksum
// lets ParseAPIKey reject a mistyped or truncated key without touching the
// database, so garbage never costs a lookup.
const (
	APIKeyPrefix = "edp_"
	// 30 base62 characters carry about 178 bits, far beyond guessing.
	apiKeyBodyLen     = 30
	apiKeyChecksumLen = 6 // base62 of a CRC-32: 62^6 > 2^32
	// APIKeyLen is the length of every edp API key.
	APIKeyLen = len(APIKeyPrefix) + apiKeyBodyLen + apiKeyChecksumLen
	// apiKeyIDLen body characters form the public id: enough to tell keys
	// apart in a listing (62^8 ≈ 2^47), too few to help anyone guess the rest.
	apiKeyIDLen = 8
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrAPIKeyFormat is wrapped by ParseAPIKey when a string cannot be an edp
// API key.
var ErrAPIKeyFormat = errors.New("malformed API key")

// NewAPIKey returns a fresh API key, its public id, and the SHA-256 of the
// key, which is all that should be stored. A plain hash is enough here,
// unlike for passwords: the key is random, so there is no dictionary to
// slow down.
func NewAPIKey() (key, id string, hash []byte, err error) {
	body, err := randomBase62(apiKeyBodyLen)
	if err != nil {
		return "", "", nil, fmt.Errorf("new API key: %w", err)
	}
	key = APIKeyPrefix + body + checksum(body)
	sum := sha256.Sum256([]byte(key))
	return key, body[:apiKeyIDLen], sum[:], nil
}

// ParseAPIKey checks key's prefix, length, alphabet and checksum and returns
// its public id and SHA-256. It does not trim: callers strip the whitespace
// of their transport first. Errors never repeat the key, so they are safe to
// log.
func ParseAPIKey(key string) (id string, hash []byte, err error) {
	if !strings.HasPrefix(key, APIKeyPrefix) {
		return "", nil, fmt.Errorf("%w: does not start with %q", ErrAPIKeyFormat, APIKeyPrefix)
	}
	if len(key) != APIKeyLen {
		return "", nil, fmt.Errorf("%w: %d characters long, want %d (truncated or padded?)", ErrAPIKeyFormat, len(key), APIKeyLen)
	}
	rest := key[len(APIKeyPrefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return "", nil, fmt.Errorf("%w: character %d is not a letter or digit", ErrAPIKeyFormat, len(APIKeyPrefix)+i+1)
		}
	}
	body, sum := rest[:apiKeyBodyLen], rest[apiKeyBodyLen:]
	if checksum(body) != sum {
		return "", nil, fmt.Errorf("%w: checksum does not match (mistyped or altered)", ErrAPIKeyFormat)
	}
	h := sha256.Sum256([]byte(key))
	return body[:apiKeyIDLen], h[:], nil
}

// checksum is the CRC-32 (IEEE) of body in fixed-width base62.
func checksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	var out [apiKeyChecksumLen]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out[:])
}

// randomBase62 draws n characters uniformly from base62. Bytes of 248 and
// above are discarded: 256 is not a multiple of 62, and keeping them would
// make the first eight characters slightly more likely.
func randomBase62(n int) (string, error) {
	const limit = 256 - 256%len(base62)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, base62[int(b)%len(base62)])
			}
		}
	}
	return string(out), nil
}
