package auth_test

import (
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/edp-data/edp/internal/auth"
)

func TestNewAPIKeyFormat(t *testing.T) {
	format := regexp.MustCompile(`^edp_[0-9A-Za-z]{36}$`)
	seen := map[string]bool{}
	for range 200 {
		key, id, hash, err := auth.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !format.MatchString(key) || len(key) != auth.APIKeyLen {
			t.Fatalf("key %q is not edp_ + 36 base62 characters", key)
		}
		if id != key[4:12] {
			t.Fatalf("id %q is not the first 8 body characters of %q", id, key)
		}
		if sum := sha256.Sum256([]byte(key)); string(hash) != string(sum[:]) {
			t.Fatal("hash is not the SHA-256 of the key")
		}
		pid, phash, err := auth.ParseAPIKey(key)
		if err != nil || pid != id || string(phash) != string(hash) {
			t.Fatalf("ParseAPIKey(new key) = %q, %x, %v; want %q, %x, nil", pid, phash, err, id, hash)
		}
		if seen[key] {
			t.Fatal("repeated key")
		}
		seen[key] = true
	}
}

func TestParseAPIKeyRejects(t *testing.T) {
	key, _, _, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, bad, msg string) {
		t.Helper()
		_, _, err := auth.ParseAPIKey(bad)
		if !errors.Is(err, auth.ErrAPIKeyFormat) {
			t.Fatalf("ParseAPIKey(%q) = %v, want ErrAPIKeyFormat", bad, err)
		}
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("error %q does not mention %q", err, msg)
		}
		if strings.Contains(err.Error(), key[4:24]) {
			t.Errorf("error %q repeats the key", err)
		}
	}

	// Every single-character change, in the body or the checksum, is
	// caught: CRC-32 detects every error burst shorter than 33 bits.
	for i := len(auth.APIKeyPrefix); i < len(key); i++ {
		for _, c := range []byte{'0', 'Z', 'z'} {
			if key[i] == c {
				continue
			}
			bad := key[:i] + string(c) + key[i+1:]
			check(t, bad, "checksum")
		}
	}
	// Two neighbours swapped, the commonest typo.
	for i := len(auth.APIKeyPrefix); i+1 < len(key); i++ {
		if key[i] != key[i+1] {
			check(t, key[:i]+string(key[i+1])+string(key[i])+key[i+2:], "checksum")
		}
	}

	check(t, key[:len(key)-1], "39 characters long, want 40")
	check(t, key[:20], "characters long")
	check(t, key+"A", "41 characters long")
	check(t, key+"\n", "characters long")
	check(t, "", "does not start with")
	check(t, "ghp_"+key[4:], `does not start with "edp_"`)
	check(t, "EDP_"+key[4:], "does not start with")
	check(t, key[:10]+"-"+key[11:], "character 11 is not a letter or digit")
	check(t, key[:10]+"é"+key[12:], "not a letter or digit")
}
