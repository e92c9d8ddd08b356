package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/audit"
	"github.com/edp-data/edp/internal/render"
	"github.com/edp-data/edp/internal/server"
)

func (a *app) auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Verify and read the tamper-evident audit log"}
	var pubPath string
	verify := &cobra.Command{Use: "verify", Short: "Check every entry's hash chain and every signed checkpoint", Args: cobra.NoArgs,
		Long: `Walk the audit log from its first entry and check that no entry was modified,
deleted, inserted or reordered, and that every signed checkpoint verifies and
lies within the log (a checkpoint beyond the last entry means the tail was
cut off). The first problem is named with its entry number and the command
fails.

The checkpoint key's public half is read from the data directory unless
--public-key names a copy kept elsewhere — keep one, since whoever can write
the data directory could replace both the log and the key in it.`,
		RunE: func(*cobra.Command, []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			path := pubPath
			if path == "" {
				path = server.AuditPublicKeyPath(p.DataDir)
			}
			pub, err := server.ReadPublicKey(path)
			if err != nil {
				return fmt.Errorf("audit public key: %w", err)
			}
			rep, err := p.Audit.Verify(a.ctx(), pub)
			if err != nil {
				return err
			}
			if !rep.OK() {
				return fmt.Errorf("audit log is NOT intact: %s at entry %d: %s (entries 1–%d verified)",
					rep.Problem.Kind, rep.Problem.Seq, rep.Problem.Msg, rep.Head)
			}
			fmt.Fprintf(a.out, "audit log intact: %d entries, %d signed checkpoints (last at entry %d)\n",
				rep.Entries, rep.Checkpoints, rep.LastCheckpoint)
			if rep.Head > rep.LastCheckpoint {
				fmt.Fprintf(a.out, "entries %d–%d follow the last checkpoint: chained but not yet signed\n", rep.LastCheckpoint+1, rep.Head)
			}
			return nil
		}}
	verify.Flags().StringVar(&pubPath, "public-key", "", "PEM Ed25519 public key of the checkpoints (default: keys/audit.pub in the data dir)")
	var n int
	tail := &cobra.Command{Use: "tail", Short: "Show the latest entries", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			es, err := p.Audit.Tail(a.ctx(), n)
			if err != nil {
				return err
			}
			return a.printRows(auditRows(es))
		}}
	tail.Flags().IntVarP(&n, "lines", "n", 20, "how many entries")
	var f audit.Filter
	var since, until string
	search := &cobra.Command{Use: "search", Short: "Find entries by principal, action, resource and time", Args: cobra.NoArgs,
		Example: "  edp audit search --principal alice --action query --since 2026-11-01T00:00:00Z",
		RunE: func(*cobra.Command, []string) error {
			var err error
			if f.Since, err = parseTimeFlag("since", since); err != nil {
				return err
			}
			if f.Until, err = parseTimeFlag("until", until); err != nil {
				return err
			}
			p, err := a.openPlatform()
			if err != nil {
				return err
			}
			es, err := p.Audit.Search(a.ctx(), f)
			if err != nil {
				return err
			}
			return a.printRows(auditRows(es))
		}}
	sf := search.Flags()
	sf.StringVar(&f.Principal, "principal", "", "who acted")
	sf.StringVar(&f.Action, "action", "", "what was done, e.g. query, commit, login, authenticate")
	sf.StringVar(&f.Resource, "resource", "", "what it was done to, e.g. sales.orders")
	sf.StringVar(&since, "since", "", "entries at or after this time (RFC 3339)")
	sf.StringVar(&until, "until", "", "entries before this time (RFC 3339)")
	sf.IntVar(&f.Limit, "limit", 0, "at most this many, the most recent (default 1000)")
	c.AddCommand(verify, tail, search)
	return c
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: use an RFC 3339 time like 2026-11-01T00:00:00Z", name, v)
	}
	return t, nil
}

func auditRows(es []audit.Entry) render.Rows {
	cols := []render.Column{{Name: "seq", Type: "BIGINT"}, {Name: "time", Type: "TIMESTAMP WITH TIME ZONE"},
		{Name: "principal", Type: "VARCHAR"}, {Name: "action", Type: "VARCHAR"}, {Name: "resource", Type: "VARCHAR"},
		{Name: "outcome", Type: "VARCHAR"}, {Name: "details", Type: "JSON"}}
	rows := make([][]any, len(es))
	for i, e := range es {
		d, _ := json.Marshal(e.Details)
		rows[i] = []any{e.Seq, e.Time, e.Principal, e.Action, e.Resource, e.Outcome, string(d)}
	}
	return render.SliceRows(cols, rows)
}
