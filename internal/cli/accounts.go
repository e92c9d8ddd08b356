package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/edp-data/edp/internal/render"
)

// userCmd manages accounts in the local data directory. The person running
// it can already read every file there, so no login is asked; every change
// is audited under their operating-system name.
func (a *app) userCmd() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Add, list and remove user accounts, and set passwords"}
	var roles []string
	var pwStdin bool
	add := &cobra.Command{Use: "add NAME", Short: "Add a user (asks for the password)", Args: cobra.ExactArgs(1),
		Example: "  edp user add alice --role writer\n  echo \"$PW\" | edp user add ci --role reader --password-stdin",
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			pw, err := a.readPassword("Password for "+args[0], pwStdin, true)
			if err != nil {
				return err
			}
			err = p.Users.AddUser(a.ctx(), args[0], pw, roles)
			if aerr := p.RecordAction(a.ctx(), "user_add", "user:"+args[0], err, map[string]any{"roles": roles}); aerr != nil && err == nil {
				return aerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "added user %s (%s)\n", args[0], strings.Join(roles, ", "))
			return nil
		}}
	add.Flags().StringSliceVar(&roles, "role", []string{"reader"}, "role: admin, writer or reader (repeatable)")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input instead of asking")
	list := &cobra.Command{Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			users, err := p.Users.ListUsers(a.ctx())
			if err != nil {
				return err
			}
			cols := []render.Column{{Name: "name", Type: "VARCHAR"}, {Name: "roles", Type: "VARCHAR"}, {Name: "created", Type: "TIMESTAMP WITH TIME ZONE"}, {Name: "disabled", Type: "BOOLEAN"}}
			var rows [][]any
			for _, u := range users {
				rows = append(rows, []any{u.Name, strings.Join(u.Roles, ","), u.CreatedAt, u.Disabled})
			}
			return a.printRows(render.SliceRows(cols, rows))
		}}
	remove := &cobra.Command{Use: "remove NAME", Aliases: []string{"rm"}, Short: "Remove a user and revoke their API keys", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			err = p.Users.RemoveUser(a.ctx(), args[0])
			if aerr := p.RecordAction(a.ctx(), "user_remove", "user:"+args[0], err, nil); aerr != nil && err == nil {
				return aerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "removed user %s and revoked their API keys\n", args[0])
			return nil
		}}
	var passwdStdin bool
	passwd := &cobra.Command{Use: "passwd NAME", Short: "Set a user's password", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			pw, err := a.readPassword("New password for "+args[0], passwdStdin, true)
			if err != nil {
				return err
			}
			err = p.Users.SetPassword(a.ctx(), args[0], pw)
			if aerr := p.RecordAction(a.ctx(), "user_passwd", "user:"+args[0], err, nil); aerr != nil && err == nil {
				return aerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "password of %s changed\n", args[0])
			return nil
		}}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from standard input instead of asking")
	c.AddCommand(add, list, remove, passwd)
	return c
}

func (a *app) apikeyCmd() *cobra.Command {
	c := &cobra.Command{Use: "apikey", Short: "Create, list and revoke API keys"}
	var ttl time.Duration
	create := &cobra.Command{Use: "create USER", Short: "Create an API key for a user; the key is printed once", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			key, info, err := p.Users.CreateAPIKey(a.ctx(), args[0], ttl)
			details := map[string]any{"user": args[0]}
			if err == nil {
				details["key_id"] = info.ID
			}
			if aerr := p.RecordAction(a.ctx(), "apikey_create", "user:"+args[0], err, details); aerr != nil && err == nil {
				return aerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, key)
			exp := "never expires"
			if !info.ExpiresAt.IsZero() {
				exp = "expires " + info.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(a.errw, "API key %s for %s, %s. It is shown only this once; store it now.\n", info.ID, info.User, exp)
			return nil
		}}
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, like 720h (0 = no expiry)")
	var user string
	list := &cobra.Command{Use: "list", Short: "List API keys (never the keys themselves)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			keys, err := p.Users.ListAPIKeys(a.ctx(), user)
			if err != nil {
				return err
			}
			ts := "TIMESTAMP WITH TIME ZONE"
			cols := []render.Column{{Name: "id", Type: "VARCHAR"}, {Name: "user", Type: "VARCHAR"}, {Name: "created", Type: ts}, {Name: "expires", Type: ts}, {Name: "revoked", Type: ts}}
			var rows [][]any
			for _, k := range keys {
				rows = append(rows, []any{k.ID, k.User, k.CreatedAt, nullTime(k.ExpiresAt), nullTime(k.RevokedAt)})
			}
			return a.printRows(render.SliceRows(cols, rows))
		}}
	list.Flags().StringVar(&user, "user", "", "only this user's keys")
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an API key at once", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			err = p.Users.RevokeAPIKey(a.ctx(), args[0])
			if aerr := p.RecordAction(a.ctx(), "apikey_revoke", "apikey:"+args[0], err, nil); aerr != nil && err == nil {
				return aerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "API key %s revoked\n", args[0])
			return nil
		}}
	c.AddCommand(create, list, revoke)
	return c
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// readPassword asks for a password on the terminal (twice when confirm),
// or reads one line from standard input when fromStdin is set.
func (a *app) readPassword(prompt string, fromStdin, confirm bool) (string, error) {
	f, isFile := a.in.(*os.File)
	if fromStdin || !isFile || !term.IsTerminal(int(f.Fd())) {
		if !fromStdin {
			return "", errors.New("no terminal to ask for a password on; pass it on standard input with --password-stdin")
		}
		line, err := bufio.NewReader(a.in).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(a.errw, prompt+": ")
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.errw)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprint(a.errw, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.errw)
		if err != nil {
			return "", err
		}
		if string(again) != string(pw) {
			return "", errors.New("the passwords do not match")
		}
	}
	return string(pw), nil
}

// printRows renders rows in the configured output format.
func (a *app) printRows(rows render.Rows) error {
	format, err := a.format()
	if err != nil {
		return err
	}
	_, err = render.Write(a.out, format, rows, render.Options{Footer: format == render.Table})
	return err
}
