package auth_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edp-data/edp/internal/auth"
)

const ttl = 15 * time.Minute

// openTokens opens a keyring in a fresh directory with a clock at base.
func openTokens(t *testing.T, opts auth.TokenOptions) (*auth.Tokens, string, *clock) {
	t.Helper()
	clk := &clock{t: base}
	if opts.Clock == nil {
		opts.Clock = clk.now
	}
	path := filepath.Join(t.TempDir(), "keys", "tokens.json")
	tk, err := auth.OpenTokens(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tk, path, clk
}

func mustIssue(t *testing.T, tk *auth.Tokens, p auth.Principal) string {
	t.Helper()
	tok, _, err := tk.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var alice = auth.Principal{Name: "alice", Roles: []string{"reader", "writer"}, Method: auth.MethodPassword}

// segments decodes a token's header and payload.
func segments(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// keyringKeys reads the key ids and public keys of the keyring file; the
// file format is part of what these tests pin.
func keyringKeys(t *testing.T, path string) (current string, retired []string, pub map[string]ed25519.PublicKey) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Version int
		Keys    []struct {
			KID     string
			Retired *time.Time
			Seed    string
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	pub = make(map[string]ed25519.PublicKey)
	for _, k := range file.Keys {
		seed, err := base64.RawURLEncoding.DecodeString(k.Seed)
		if err != nil {
			t.Fatal(err)
		}
		pub[k.KID] = ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if k.Retired == nil {
			current = k.KID
		} else {
			retired = append(retired, k.KID)
		}
	}
	return current, retired, pub
}

func wantRefused(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("%s: Verify error = %v, want ErrBadCredentials", what, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("%s: Verify error %q does not say %q", what, err, reason)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tk, path, _ := openTokens(t, auth.TokenOptions{})
	tok, exp, err := tk.Issue(alice)
	if err != nil {
		t.Fatal(err)
	}
	if want := base.Add(ttl); !exp.Equal(want) {
		t.Errorf("Issue expiry = %v, want %v", exp, want)
	}
	p, err := tk.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Principal{Name: "alice", Roles: []string{"reader", "writer"}, Method: auth.MethodToken, IssuedAt: base}
	if !p.IssuedAt.Equal(base) {
		t.Errorf("Verify IssuedAt = %v, want %v", p.IssuedAt, base)
	}
	p.IssuedAt = base
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Verify = %+v, want %+v", p, want)
	}

	header, claims := segments(t, tok)
	current, _, _ := keyringKeys(t, path)
	if header["alg"] != "EdDSA" || header["kid"] != current {
		t.Errorf("header = %v, want alg EdDSA and kid %q", header, current)
	}
	wantClaims := map[string]any{
		"iss":   "edp",
		"aud":   []any{"edp-api"},
		"sub":   "alice",
		"iat":   float64(base.Unix()),
		"nbf":   float64(base.Unix()),
		"exp":   float64(base.Add(ttl).Unix()),
		"roles": []any{"reader", "writer"},
	}
	for k, v := range wantClaims {
		if !reflect.DeepEqual(claims[k], v) {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	other := mustIssue(t, tk, alice)
	_, claims2 := segments(t, other)
	if jti, _ := claims["jti"].(string); len(jti) < 16 || jti == claims2["jti"] {
		t.Errorf("jti %q and %q: want distinct random ids", jti, claims2["jti"])
	}

	if _, _, err := tk.Issue(auth.Principal{}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("Issue(no name) = %v, want ErrInvalid", err)
	}
}

func TestTokenOptions(t *testing.T) {
	tk, _, _ := openTokens(t, auth.TokenOptions{TTL: time.Hour, Issuer: "edp-test", Audience: "edp-ui"})
	tok, exp, err := tk.Issue(alice)
	if err != nil {
		t.Fatal(err)
	}
	_, claims := segments(t, tok)
	if claims["iss"] != "edp-test" || !reflect.DeepEqual(claims["aud"], []any{"edp-ui"}) || !exp.Equal(base.Add(time.Hour)) {
		t.Errorf("claims %v, expiry %v: want iss edp-test, aud edp-ui, expiry in an hour", claims, exp)
	}
	if _, err := auth.OpenTokens(filepath.Join(t.TempDir(), "k.json"), auth.TokenOptions{TTL: -time.Second}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("OpenTokens(negative TTL) = %v, want ErrInvalid", err)
	}
}

func TestTokenTime(t *testing.T) {
	tk, _, clk := openTokens(t, auth.TokenOptions{})
	tok := mustIssue(t, tk, alice)

	// Within the leeway after expiry a token still passes: clocks of edp
	// processes and clients differ a little.
	clk.advance(ttl + 20*time.Second)
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("Verify 20s after expiry (within leeway) = %v, want success", err)
	}
	clk.advance(11 * time.Second)
	_, err := tk.Verify(tok)
	wantRefused(t, "expired", err, "expired")
	if !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("expired: Verify error = %v, want ErrTokenExpired", err)
	}

	// A token from the future: issued now, checked by a clock well behind.
	clk2 := &clock{t: base}
	tk2, err := auth.OpenTokens(filepath.Join(t.TempDir(), "k.json"), auth.TokenOptions{Clock: clk2.now})
	if err != nil {
		t.Fatal(err)
	}
	future := mustIssue(t, tk2, alice)
	clk2.advance(-2 * time.Minute)
	_, err = tk2.Verify(future)
	wantRefused(t, "not yet valid", err, "not valid yet")
	if errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("not yet valid: error %v wraps ErrTokenExpired", err)
	}
}

func TestTokenWrongIssuerAudience(t *testing.T) {
	tk, path, clk := openTokens(t, auth.TokenOptions{})
	tok := mustIssue(t, tk, alice)
	cases := []struct {
		name   string
		opts   auth.TokenOptions
		reason string
	}{
		{"issuer", auth.TokenOptions{Issuer: "other"}, "wrong issuer"},
		{"audience", auth.TokenOptions{Audience: "other"}, "wrong audience"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Same keyring, so the signature is good and only the claim
			// can be what is refused.
			c.opts.Clock = clk.now
			other, err := auth.OpenTokens(path, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = other.Verify(tok)
			wantRefused(t, c.name, err, c.reason)
		})
	}
}

func TestTokenTampered(t *testing.T) {
	tk, path, _ := openTokens(t, auth.TokenOptions{})
	tok := mustIssue(t, tk, alice)
	parts := strings.Split(tok, ".")
	_, claims := segments(t, tok)
	current, _, pub := keyringKeys(t, path)

	elsewhere, _, _ := openTokens(t, auth.TokenOptions{})
	foreign := mustIssue(t, elsewhere, alice)

	claims["sub"] = "admin"
	claims["roles"] = []string{"admin"}
	payload := b64JSON(t, claims)

	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[10] ^= 0x01

	signingInput := func(h map[string]any) string { return b64JSON(t, h) + "." + parts[1] }
	none := map[string]any{"alg": "none", "typ": "JWT", "kid": current}
	hs := map[string]any{"alg": "HS256", "typ": "JWT", "kid": current}
	mac := hmac.New(sha256.New, pub[current])
	mac.Write([]byte(signingInput(hs)))
	rs := map[string]any{"alg": "RS256", "typ": "JWT", "kid": current}
	unknownAlg := map[string]any{"alg": "XX512", "typ": "JWT", "kid": current}
	noKid := map[string]any{"alg": "EdDSA", "typ": "JWT"}

	cases := []struct {
		name, token, reason string
	}{
		{"payload changed", parts[0] + "." + payload + "." + parts[2], "bad token signature"},
		{"signature changed", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig), "bad token signature"},
		{"signature dropped", parts[0] + "." + parts[1] + ".", "bad token signature"},
		{"other keyring", foreign, "unknown signing key"},
		{"alg none", signingInput(none) + ".", `algorithm "none" refused`},
		{"HS256 keyed with the public key", signingInput(hs) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), `algorithm "HS256" refused`},
		{"RS256", signingInput(rs) + "." + parts[2], `algorithm "RS256" refused`},
		{"unknown alg", signingInput(unknownAlg) + "." + parts[2], "algorithm XX512 refused"},
		{"no kid", signingInput(noKid) + "." + parts[2], "names no signing key"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"empty", "", "malformed"},
		{"not base64", "!!!." + parts[1] + "." + parts[2], "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := tk.Verify(c.token)
			wantRefused(t, c.name, err, c.reason)
			if p.Name != "" {
				t.Fatalf("refused token still gave Principal %+v", p)
			}
			if errors.Is(err, auth.ErrTokenExpired) {
				t.Fatalf("error %v wraps ErrTokenExpired", err)
			}
		})
	}
	// The original is untouched by all this.
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("Verify(original) = %v", err)
	}
}

func TestTokenRotation(t *testing.T) {
	tk, path, clk := openTokens(t, auth.TokenOptions{})
	k1, _, _ := keyringKeys(t, path)
	clk.advance(5 * time.Minute)
	if age := tk.CurrentKeyAge(); age != 5*time.Minute {
		t.Errorf("CurrentKeyAge = %v, want 5m", age)
	}
	before := mustIssue(t, tk, alice)

	if err := tk.Rotate(); err != nil {
		t.Fatal(err)
	}
	if age := tk.CurrentKeyAge(); age != 0 {
		t.Errorf("CurrentKeyAge after Rotate = %v, want 0", age)
	}
	k2, retired, _ := keyringKeys(t, path)
	if k2 == k1 || !reflect.DeepEqual(retired, []string{k1}) {
		t.Fatalf("after Rotate the file has current %q, retired %q; want a new key and %q retired", k2, retired, k1)
	}
	after := mustIssue(t, tk, alice)
	if h, _ := segments(t, after); h["kid"] != k2 {
		t.Fatalf("token issued after Rotate has kid %v, want %q", h["kid"], k2)
	}

	// To the end of its life, a token of the retired key still verifies.
	clk.advance(ttl - time.Second)
	for name, tok := range map[string]string{"before Rotate": before, "after Rotate": after} {
		if _, err := tk.Verify(tok); err != nil {
			t.Errorf("Verify(token issued %s) = %v, want success", name, err)
		}
	}

	// Past it (and the leeway), the retired key verifies nothing, and the
	// next rotation removes it from the file.
	clk.advance(time.Minute)
	_, err := tk.Verify(before)
	wantRefused(t, "token of an outlived key", err, "unknown signing key")
	if err := tk.Rotate(); err != nil {
		t.Fatal(err)
	}
	k3, retired, _ := keyringKeys(t, path)
	if !reflect.DeepEqual(retired, []string{k2}) || k3 == k2 || k3 == k1 {
		t.Fatalf("after the second Rotate the file has current %q, retired %q; want a new key and only %q retired", k3, retired, k2)
	}
	_, err = tk.Verify(before)
	wantRefused(t, "token of a pruned key", err, "unknown signing key")
	again, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = again.Verify(before)
	wantRefused(t, "token of a pruned key, after reopening", err, "unknown signing key")
}

// TestTokenPruneOnOpen: a server that rotated and stopped leaves retired
// keys behind; the next start removes those whose tokens have expired.
func TestTokenPruneOnOpen(t *testing.T) {
	tk, path, clk := openTokens(t, auth.TokenOptions{})
	if err := tk.Rotate(); err != nil {
		t.Fatal(err)
	}
	current, retired, _ := keyringKeys(t, path)
	if len(retired) != 1 {
		t.Fatalf("after Rotate retired keys = %q, want one", retired)
	}
	clk.advance(ttl)
	if _, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now}); err != nil {
		t.Fatal(err)
	}
	if _, r, _ := keyringKeys(t, path); len(r) != 1 {
		t.Fatalf("opened within the retired key's window: retired = %q, want it kept", r)
	}
	clk.advance(time.Minute)
	if _, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now}); err != nil {
		t.Fatal(err)
	}
	if c, r, _ := keyringKeys(t, path); c != current || len(r) != 0 {
		t.Fatalf("opened after the window: current %q, retired %q; want %q and none", c, r, current)
	}
}

func TestTokenReopen(t *testing.T) {
	tk, path, clk := openTokens(t, auth.TokenOptions{})
	tok := mustIssue(t, tk, alice)
	again, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := again.Verify(tok); err != nil || p.Name != "alice" {
		t.Fatalf("reopened keyring: Verify = %+v, %v", p, err)
	}
	h1, _ := segments(t, tok)
	h2, _ := segments(t, mustIssue(t, again, alice))
	if h1["kid"] != h2["kid"] {
		t.Fatalf("reopened keyring signs with kid %v, want %v", h2["kid"], h1["kid"])
	}
}

func TestTokenFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	tk, path, _ := openTokens(t, auth.TokenOptions{})
	check := func(when string) {
		t.Helper()
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode of %s = %v, want %v", when, p, fi.Mode(), want)
			}
		}
		// No temporary files left beside it.
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("%s: directory holds %d entries, want only the keyring", when, len(entries))
		}
	}
	check("created")
	if err := tk.Rotate(); err != nil {
		t.Fatal(err)
	}
	check("rotated")
}

func TestTokenCorruptKeyring(t *testing.T) {
	tk, path, clk := openTokens(t, auth.TokenOptions{})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	current, _, _ := keyringKeys(t, path)
	cases := []struct {
		name, content, reason string
	}{
		{"empty", "", "damaged"},
		{"not JSON", "{not json", "damaged"},
		{"truncated", string(good[:len(good)/2]), "damaged"},
		{"other version", strings.Replace(string(good), `"version": 1`, `"version": 2`, 1), "version 2"},
		{"no keys", `{"version": 1, "keys": []}`, "no current key"},
		{"short seed", `{"version": 1, "keys": [{"kid": "a", "alg": "EdDSA", "seed": "AAAA"}]}`, "seed"},
		{"other alg", strings.Replace(string(good), `"EdDSA"`, `"HS256"`, 1), `algorithm "HS256"`},
		{"two current keys", `{"version": 1, "keys": [` + keyJSON(t, good) + "," + strings.Replace(keyJSON(t, good), current, "other", 1) + `]}`, "more than one current key"},
		{"duplicate kid", `{"version": 1, "keys": [` + keyJSON(t, good) + "," + keyJSON(t, good) + `]}`, "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("OpenTokens(%s keyring) = %v, want an error naming %s and saying %q", c.name, err, path, c.reason)
			}
			// Never replaced: the damaged file is left for inspection.
			if got, _ := os.ReadFile(path); string(got) != c.content {
				t.Fatalf("OpenTokens replaced the damaged keyring")
			}
			// Rotate refuses too, rather than write over it.
			if err := tk.Rotate(); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Rotate over a damaged keyring = %v, want an error naming it", err)
			}
			if got, _ := os.ReadFile(path); string(got) != c.content {
				t.Fatalf("Rotate replaced the damaged keyring")
			}
		})
	}
	// The instance opened before the damage still verifies its tokens.
	tok := mustIssue(t, tk, alice)
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("Verify with a damaged file on disk = %v", err)
	}
}

// keyJSON returns the JSON of the first key in the keyring file data.
func keyJSON(t *testing.T, data []byte) string {
	t.Helper()
	var file struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	return string(file.Keys[0])
}

// TestTokenOtherProcessRotates: two Tokens on one keyring file stand for
// two edp processes on one data directory.
func TestTokenOtherProcessRotates(t *testing.T) {
	a, path, clk := openTokens(t, auth.TokenOptions{})
	b, err := auth.OpenTokens(path, auth.TokenOptions{Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	oldTok := mustIssue(t, b, alice)

	if err := a.Rotate(); err != nil {
		t.Fatal(err)
	}
	fromA := mustIssue(t, a, alice)
	if _, err := b.Verify(fromA); err != nil {
		t.Fatalf("b.Verify(token of a's new key) = %v: want b to reread the keyring", err)
	}
	if _, err := a.Verify(oldTok); err != nil {
		t.Fatalf("a.Verify(b's token of the retired key) = %v", err)
	}
	// b now signs with the key a rotated in.
	hA, _ := segments(t, fromA)
	if hB, _ := segments(t, mustIssue(t, b, alice)); hB["kid"] != hA["kid"] {
		t.Fatalf("b signs with kid %v after a rotated, want %v", hB["kid"], hA["kid"])
	}

	// b rereads at most once a second: a forged kid must not cost a file
	// read per request.
	if err := a.Rotate(); err != nil {
		t.Fatal(err)
	}
	newer := mustIssue(t, a, alice)
	_, err = b.Verify(newer)
	wantRefused(t, "kid rotated in within the second", err, "unknown signing key")
	clk.advance(time.Second)
	if _, err := b.Verify(newer); err != nil {
		t.Fatalf("b.Verify a second later = %v, want the keyring reread", err)
	}

	// b rotating keeps a's keys: it rereads the file first.
	if err := b.Rotate(); err != nil {
		t.Fatal(err)
	}
	_, retired, _ := keyringKeys(t, path)
	if len(retired) != 3 {
		t.Fatalf("after three rotations by two processes %d keys are retired, want 3", len(retired))
	}
	for name, tok := range map[string]string{"old": oldTok, "a's": fromA, "a's newer": newer} {
		if _, err := b.Verify(tok); err != nil {
			t.Errorf("b.Verify(%s token) after b rotated = %v", name, err)
		}
	}
}

func TestTokenConcurrent(t *testing.T) {
	tk, _, _ := openTokens(t, auth.TokenOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if g == 0 && i%5 == 0 {
					if err := tk.Rotate(); err != nil {
						errs <- err
						return
					}
					_ = tk.CurrentKeyAge()
					continue
				}
				tok, _, err := tk.Issue(alice)
				if err != nil {
					errs <- err
					return
				}
				if p, err := tk.Verify(tok); err != nil || p.Name != "alice" {
					errs <- errors.Join(errors.New("verify of a fresh token"), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
