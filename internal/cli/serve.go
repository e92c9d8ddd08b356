package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var demo bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the edp server: HTTP API, authentication, audit log and metrics",
		Long: `Serve the data directory over HTTP (127.0.0.1:8080 unless --listen says
otherwise; HTTPS with --tls-cert/--tls-key, or --tls-self-signed for
development). The first start creates the user "admin" and prints its
password once, or takes it from $EDP_ADMIN_PASSWORD.

Endpoints: /healthz and /readyz (no login), /metrics (Prometheus), and the
API under /api/v1 described by /api/v1/openapi.json.

Ctrl-C (or SIGTERM) stops it gracefully: running requests and loads get
--shutdown-timeout to finish; anything still running then is cancelled and
commits nothing.`,
		Example: "  edp serve --demo\n  EDP_ADMIN_PASSWORD=… edp serve --listen :8080 --tls-self-signed",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := server.New(cmd.Context(), server.Options{
				Config:        a.cfg,
				Logger:        a.log,
				Version:       Version,
				Demo:          demo,
				AdminPassword: os.Getenv("EDP_ADMIN_PASSWORD"),
				Out:           a.out,
			})
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	c.Flags().BoolVar(&demo, "demo", false, "load the demo lakehouse on first start")
	return c
}
