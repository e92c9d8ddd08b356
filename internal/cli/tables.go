package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/client"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

func (a *app) namespaceCmd() *cobra.Command {
	c := &cobra.Command{Use: "namespace", Aliases: []string{"ns", "schema"}, Short: "Create, list and drop namespaces"}
	var ifNot, ifExists, cascade bool
	create := &cobra.Command{Use: "create NAME", Short: "Create a namespace", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if a.remote() {
				return a.withClient(func(c *client.Client) error { return c.CreateNamespace(a.ctx(), args[0], ifNot) })
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			return l.CreateNamespace(a.ctx(), args[0], nil, ifNot)
		}}
	create.Flags().BoolVar(&ifNot, "if-not-exists", false, "succeed if it already exists")
	list := &cobra.Command{Use: "list", Short: "List namespaces", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return a.runSQL("SHOW SCHEMAS") }}
	drop := &cobra.Command{Use: "drop NAME", Short: "Drop a namespace", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if a.remote() {
				return a.withClient(func(c *client.Client) error { return c.DropNamespace(a.ctx(), args[0], ifExists, cascade) })
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			return l.DropNamespace(a.ctx(), args[0], ifExists, cascade)
		}}
	drop.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if it does not exist")
	drop.Flags().BoolVar(&cascade, "cascade", false, "drop (and purge) its tables too")
	c.AddCommand(create, list, drop)
	return c
}

func (a *app) tableCmd() *cobra.Command {
	c := &cobra.Command{Use: "table", Short: "List, describe, time-travel, roll back and drop tables"}
	list := &cobra.Command{Use: "list [NAMESPACE]", Short: "List tables", Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.runSQL("SHOW TABLES IN " + quoteIdent(args[0]))
			}
			return a.runSQL("SHOW TABLES")
		}}
	describe := &cobra.Command{Use: "describe NS.TABLE", Short: "Show columns and partitioning", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			if a.remote() {
				return a.remoteSQL("DESCRIBE " + quoteIdent(id.Namespace) + "." + quoteIdent(id.Name))
			}
			e, err := a.openEngine()
			if err != nil {
				return err
			}
			res, err := e.Describe(a.ctx(), id)
			if err != nil {
				return err
			}
			return a.printResult(res)
		}}
	snapshots := &cobra.Command{Use: "snapshots NS.TABLE", Short: "List snapshots (for time travel and rollback)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			return a.runSQL("SHOW SNAPSHOTS " + quoteIdent(id.Namespace) + "." + quoteIdent(id.Name))
		}}
	rollback := &cobra.Command{Use: "rollback NS.TABLE SNAPSHOT_ID", Short: "Make an earlier snapshot current again", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			snap, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("snapshot id %q is not a number", args[1])
			}
			if a.remote() {
				err = a.withClient(func(c *client.Client) error { return c.Rollback(a.ctx(), id.Namespace, id.Name, snap) })
			} else {
				var l *lake.Lake
				if l, err = a.openLake(); err == nil {
					err = l.Rollback(a.ctx(), id, snap)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.errw, "%s rolled back to snapshot %d\n", id, snap)
			return nil
		}}
	var purge, ifExists bool
	drop := &cobra.Command{Use: "drop NS.TABLE", Short: "Drop a table", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			if a.remote() {
				return a.withClient(func(c *client.Client) error { return c.DropTable(a.ctx(), id.Namespace, id.Name, purge, ifExists) })
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			return l.DropTable(a.ctx(), id, purge, ifExists)
		}}
	drop.Flags().BoolVar(&purge, "purge", false, "delete the table's files too")
	drop.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if it does not exist")
	rename := &cobra.Command{Use: "rename NS.TABLE NS.NEW", Short: "Rename a table", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			from, err := lake.ParseIdent(args[0])
			if err != nil {
				return err
			}
			to, err := lake.ParseIdent(args[1])
			if err != nil {
				return err
			}
			if a.remote() {
				return a.withClient(func(c *client.Client) error {
					return c.RenameTable(a.ctx(), from.Namespace, from.Name, to.Namespace, to.Name)
				})
			}
			l, err := a.openLake()
			if err != nil {
				return err
			}
			return l.RenameTable(a.ctx(), from, to)
		}}
	c.AddCommand(list, describe, snapshots, rollback, drop, rename, a.registerCmd())
	return c
}

// runSQL runs statements and prints their results in the chosen format,
// here or on the server.
func (a *app) runSQL(sql string) error {
	if a.remote() {
		return a.remoteSQL(sql)
	}
	e, err := a.openEngine()
	if err != nil {
		return err
	}
	return e.ExecScript(a.ctx(), sql, a.printResult)
}

func (a *app) printResult(res *query.Result) error {
	if res.Rows == nil {
		fmt.Fprintln(a.errw, res.Status)
		return nil
	}
	return a.printRows(res.Rows)
}

// withClient runs fn with the --server client.
func (a *app) withClient(fn func(*client.Client) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	return fn(c)
}

func quoteIdent(s string) string {
	out := `"`
	for _, r := range s {
		if r == '"' {
			out += `""`
		} else {
			out += string(r)
		}
	}
	return out + `"`
}
