package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/client"
	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// remote reports whether commands go to a server (--server / EDP_SERVER)
// instead of the local data directory.
func (a *app) remote() bool { return a.cfg.Server != "" }

// client returns the API client for --server, with --token (or
// EDP_TOKEN) or else the credential `edp login` saved for that server.
func (a *app) client() (*client.Client, error) {
	token := a.cfg.Token
	if token == "" {
		profiles, err := loadProfiles()
		if err != nil {
			return nil, err
		}
		p, ok := profiles.Servers[normalizeServer(a.cfg.Server)]
		if !ok {
			return nil, fmt.Errorf("not logged in to %s: run `edp login --server %s`, or pass --token (or set EDP_TOKEN)", a.cfg.Server, a.cfg.Server)
		}
		token = p.Key
	}
	return client.New(a.cfg.Server, token, client.Options{})
}

// remoteSQL runs a script statement by statement on the server, which
// renders each result in the same format the local CLI would.
func (a *app) remoteSQL(script string) error {
	stmts, err := sqlstmt.Split(script)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return errors.New("no SQL statement given")
	}
	format, err := a.format()
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	for _, s := range stmts {
		res, err := c.SQL(a.ctx(), s, string(format))
		if err != nil {
			return err
		}
		n, err := io.Copy(a.out, res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if n == 0 && res.Status != "" {
			// A statement without rows: say what it did, as locally.
			fmt.Fprintln(a.errw, res.Status)
		}
	}
	return nil
}

// profiles is what `edp login` saves: one API key per server.
type profiles struct {
	Servers map[string]profile `json:"servers"`
}

type profile struct {
	User    string    `json:"user"`
	Key     string    `json:"key"`
	KeyID   string    `json:"key_id"`
	SavedAt time.Time `json:"saved_at"`
}

// profilesPath is $XDG_CONFIG_HOME/edp/credentials.json (or the OS's
// equivalent).
func profilesPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory for saved logins: %w", err)
	}
	return filepath.Join(dir, "edp", "credentials.json"), nil
}

func loadProfiles() (*profiles, error) {
	path, err := profilesPath()
	if err != nil {
		return nil, err
	}
	p := &profiles{Servers: map[string]profile{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("saved logins %s: %w", path, err)
	}
	if p.Servers == nil {
		p.Servers = map[string]profile{}
	}
	return p, nil
}

func (p *profiles) save() error {
	path, err := profilesPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func normalizeServer(s string) string { return strings.TrimRight(s, "/") }

// loginCmd logs in with a password and saves a long-lived API key for the
// server, so later commands need no password; logout revokes it.
func (a *app) loginCmd() *cobra.Command {
	var user string
	var pwStdin bool
	var ttl time.Duration
	c := &cobra.Command{Use: "login", Short: "Log in to an edp server and save a credential for it", Args: cobra.NoArgs,
		Long: `Log in to the server named by --server (or EDP_SERVER) with a user name and
password. edp then creates an API key for this machine and saves it in
credentials.json under your config directory (readable only by you); later
commands with --server use it. edp logout revokes it.`,
		Example: "  edp login --server http://127.0.0.1:8080 --user admin",
		RunE: func(*cobra.Command, []string) error {
			if !a.remote() {
				return errors.New("edp login needs --server URL (or EDP_SERVER)")
			}
			pw, err := a.readPassword("Password for "+user+" at "+a.cfg.Server, pwStdin, false)
			if err != nil {
				return err
			}
			anon, err := client.New(a.cfg.Server, "", client.Options{})
			if err != nil {
				return err
			}
			tok, err := anon.Login(a.ctx(), user, pw)
			if err != nil {
				return err
			}
			authed, err := client.New(a.cfg.Server, tok.AccessToken, client.Options{})
			if err != nil {
				return err
			}
			host, _ := os.Hostname()
			key, err := authed.CreateAPIKey(a.ctx(), "", ttl, pw)
			if err != nil {
				return fmt.Errorf("logged in, but could not create an API key for %s: %w", host, err)
			}
			ps, err := loadProfiles()
			if err != nil {
				return err
			}
			server := normalizeServer(a.cfg.Server)
			if old, ok := ps.Servers[server]; ok && old.KeyID != "" {
				_ = authed.RevokeAPIKey(a.ctx(), old.KeyID) // replaced; best effort
			}
			ps.Servers[server] = profile{User: user, Key: key.Key, KeyID: key.ID, SavedAt: time.Now().UTC()}
			if err := ps.save(); err != nil {
				return err
			}
			path, _ := profilesPath()
			fmt.Fprintf(a.errw, "logged in to %s as %s; API key %s saved in %s\n", server, user, key.ID, path)
			return nil
		}}
	c.Flags().StringVarP(&user, "user", "u", "admin", "user name")
	c.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input instead of asking")
	c.Flags().DurationVar(&ttl, "ttl", 90*24*time.Hour, "lifetime of the saved API key")
	return c
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{Use: "logout", Short: "Revoke and forget the credential saved for --server", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !a.remote() {
				return errors.New("edp logout needs --server URL (or EDP_SERVER)")
			}
			ps, err := loadProfiles()
			if err != nil {
				return err
			}
			server := normalizeServer(a.cfg.Server)
			p, ok := ps.Servers[server]
			if !ok {
				return fmt.Errorf("not logged in to %s", server)
			}
			c, err := client.New(server, p.Key, client.Options{})
			if err != nil {
				return err
			}
			if err := c.RevokeAPIKey(a.ctx(), p.KeyID); err != nil && !client.IsUnauthenticated(err) {
				return fmt.Errorf("revoke the saved API key: %w", err)
			}
			delete(ps.Servers, server)
			if err := ps.save(); err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "logged out of %s\n", server)
			return nil
		}}
}
