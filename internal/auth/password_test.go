package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/pbkdf2"

	"github.com/edp-data/edp/internal/auth"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	// Real parameters: this is the test that pins them.
	const pw = "correct horse battery staple"
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt and 32-byte key in unpadded base64: 22 and 43 characters.
	want := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !want.MatchString(h) {
		t.Fatalf("hash %q is not the expected PHC argon2id form", h)
	}
	if ok, err := auth.VerifyPassword(h, pw); !ok || err != nil {
		t.Fatalf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := auth.VerifyPassword(h, pw+"!"); ok || err != nil {
		t.Fatalf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
	}
	if auth.NeedsRehash(h) {
		t.Error("NeedsRehash of a fresh hash = true")
	}
	h2, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyArgon2idOtherParameters(t *testing.T) {
	// A hash made elsewhere with other costs verifies with the costs it
	// names, and is flagged for an upgrade.
	salt := []byte("8bytesalt")
	key := argon2.IDKey([]byte("imported password"), salt, 2, 256, 1, 24)
	h := fmt.Sprintf("$argon2id$v=19$m=256,t=2,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if ok, err := auth.VerifyPassword(h, "imported password"); !ok || err != nil {
		t.Fatalf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
	if ok, _ := auth.VerifyPassword(h, "imported passworD"); ok {
		t.Fatal("wrong password verified")
	}
	if !auth.NeedsRehash(h) {
		t.Error("NeedsRehash of a cheaper hash = false")
	}
}

func TestVerifyPBKDF2(t *testing.T) {
	b64 := base64.RawStdEncoding
	// Published PBKDF2-HMAC-SHA256 vector ("password", "salt", 4096, 32),
	// so the decoding is checked against a value computed elsewhere.
	rfc, _ := hex.DecodeString("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
	saltB64 := b64.EncodeToString([]byte("salt"))

	// A value computed here with a non-ASCII password and a binary salt
	// that needs "+" in base64, so passlib's "." for "+" is exercised.
	const pw = "pässwörd with ünïcode"
	salt := []byte{0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	key := pbkdf2.Key([]byte(pw), salt, 1500, 32, sha256.New)
	ab64 := func(b []byte) string { return strings.ReplaceAll(b64.EncodeToString(b), "+", ".") }
	if !strings.Contains(b64.EncodeToString(salt), "+") {
		t.Fatal("test salt should need a '+' in base64")
	}

	// Django salts are text used as is; its base64 is padded.
	djangoKey := pbkdf2.Key([]byte(pw), []byte("seasalt12345"), 1500, 32, sha256.New)

	cases := []struct {
		name, encoded, pw string
	}{
		{"phc rfc vector", "$pbkdf2-sha256$i=4096,l=32$" + saltB64 + "$" + b64.EncodeToString(rfc), "password"},
		{"phc without l", "$pbkdf2-sha256$i=4096$" + saltB64 + "$" + b64.EncodeToString(rfc), "password"},
		{"phc l first", "$pbkdf2-sha256$l=32,i=4096$" + saltB64 + "$" + b64.EncodeToString(rfc), "password"},
		{"phc computed", "$pbkdf2-sha256$i=1500,l=32$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), pw},
		{"passlib computed", "$pbkdf2-sha256$1500$" + ab64(salt) + "$" + ab64(key), pw},
		{"django computed", "pbkdf2_sha256$1500$seasalt12345$" + base64.StdEncoding.EncodeToString(djangoKey), pw},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if ok, err := auth.VerifyPassword(c.encoded, c.pw); !ok || err != nil {
				t.Fatalf("VerifyPassword(right) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := auth.VerifyPassword(c.encoded, c.pw+" "); ok || err != nil {
				t.Fatalf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
			}
			if !auth.NeedsRehash(c.encoded) {
				t.Error("NeedsRehash of an imported hash = false")
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	b64 := base64.RawStdEncoding.EncodeToString
	salt, key := b64([]byte("0123456789abcdef")), b64(make([]byte, 32))
	argon := func(params, salt, key string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	pbk := func(params, salt, key string) string { return "$pbkdf2-sha256$" + params + "$" + salt + "$" + key }
	cases := []struct{ name, encoded, msg string }{
		{"empty", "", "empty"},
		{"plain text", "hunter2hunter2", "not in PHC or Django format"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", `unsupported scheme "2b"`},
		{"argon2i", "$argon2i$v=19$m=65536,t=3,p=2$" + salt + "$" + key, `unsupported scheme "argon2i"`},
		{"argon2id old version", "$argon2id$v=16$m=65536,t=3,p=2$" + salt + "$" + key, "version"},
		{"argon2id no version", "$argon2id$m=65536,t=3,p=2$" + salt + "$" + key, "want $argon2id"},
		{"argon2id extra field", argon("m=65536,t=3,p=2", salt, key) + "$x", "want $argon2id"},
		{"argon2id missing param", argon("m=65536,t=3", salt, key), "parameters"},
		{"argon2id duplicate param", argon("m=65536,m=65536,t=3", salt, key), "parameters"},
		{"argon2id unknown param", argon("m=65536,t=3,p=2,x=1", salt, key), "parameters"},
		{"argon2id signed param", argon("m=+65536,t=3,p=2", salt, key), "parameters"},
		{"argon2id p=0", argon("m=65536,t=3,p=0", salt, key), "parallelism"},
		{"argon2id huge memory", argon("m=4194304,t=3,p=2", salt, key), "memory"},
		{"argon2id t=0", argon("m=65536,t=0,p=2", salt, key), "time"},
		{"argon2id bad salt", argon("m=65536,t=3,p=2", "!!!", key), "salt"},
		{"argon2id short salt", argon("m=65536,t=3,p=2", b64([]byte("1234567")), key), "salt"},
		{"argon2id short hash", argon("m=65536,t=3,p=2", salt, b64(make([]byte, 8))), "hash has 8 bytes"},
		{"argon2id padded hash", argon("m=65536,t=3,p=2", salt, key+"="), "base64"},
		{"pbkdf2 i=0", pbk("i=0,l=32", salt, key), "iteration"},
		{"pbkdf2 huge i", pbk("i=999999999,l=32", salt, key), "iteration"},
		{"pbkdf2 no i", pbk("l=32", salt, key), "parameters"},
		{"pbkdf2 l mismatch", pbk("i=1000,l=64", salt, key), "l=64"},
		{"pbkdf2 empty salt", pbk("i=1000", "", key), "salt"},
		{"pbkdf2 missing hash", "$pbkdf2-sha256$i=1000$" + salt, "want $pbkdf2-sha256"},
		{"django bad iterations", "pbkdf2_sha256$many$salt$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "iteration"},
		{"django empty salt", "pbkdf2_sha256$1000$$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "salt"},
		{"django bad base64", "pbkdf2_sha256$1000$salt$not base64", "base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(c.encoded, "whatever password")
			if ok || !errors.Is(err, auth.ErrHashFormat) {
				t.Fatalf("VerifyPassword = %v, %v; want false and ErrHashFormat", ok, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
			if len(c.encoded) > 12 && strings.Contains(err.Error(), c.encoded[len(c.encoded)-12:]) {
				t.Errorf("error %q repeats the stored hash", err)
			}
			if !auth.NeedsRehash(c.encoded) {
				t.Error("NeedsRehash of a malformed hash = false")
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	for _, pw := range []string{"abcdefghijkl", "ééééééééééée", strings.Repeat("x", auth.MaxPasswordLen)} {
		if err := auth.ValidatePassword(pw); err != nil {
			t.Errorf("ValidatePassword(%d bytes) = %v", len(pw), err)
		}
	}
	for _, pw := range []string{"", "abcdefghijk", "ééééééééééé", strings.Repeat("x", auth.MaxPasswordLen+1)} {
		err := auth.ValidatePassword(pw)
		if !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("ValidatePassword(%d bytes) = %v, want ErrInvalid", len(pw), err)
		}
	}
	err := auth.ValidatePassword("short")
	if err == nil || !strings.Contains(err.Error(), "at least 12 characters") {
		t.Errorf("message %q should state the minimum", err)
	}
}

func TestHashPasswordSaltsDiffer(t *testing.T) {
	auth.UseCheapHashing(t)
	seen := map[string]bool{}
	for range 20 {
		h, err := auth.HashPassword("same password here")
		if err != nil {
			t.Fatal(err)
		}
		salt := strings.Split(h, "$")[4]
		if seen[salt] {
			t.Fatalf("salt %s repeated", salt)
		}
		seen[salt] = true
	}
}
