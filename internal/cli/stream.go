package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edp-data/edp/internal/client"
	"github.com/edp-data/edp/internal/stream"
)

// streams is what edp stream needs, from a server (--server) or from the
// data directory's store directly.
type streams interface {
	List(ctx context.Context) ([]stream.Info, error)
	Get(ctx context.Context, name string) (stream.Info, error)
	Create(ctx context.Context, spec stream.Spec) (stream.Spec, error)
	SetPaused(ctx context.Context, name string, paused bool) error
	Delete(ctx context.Context, name string) error
}

// remoteStreams adapts the API client.
type remoteStreams struct{ c *client.Client }

func (r remoteStreams) List(ctx context.Context) ([]stream.Info, error) { return r.c.ListStreams(ctx) }
func (r remoteStreams) Get(ctx context.Context, n string) (stream.Info, error) {
	return r.c.GetStream(ctx, n)
}
func (r remoteStreams) Create(ctx context.Context, s stream.Spec) (stream.Spec, error) {
	return r.c.CreateStream(ctx, s)
}
func (r remoteStreams) SetPaused(ctx context.Context, n string, p bool) error {
	return r.c.SetStreamPaused(ctx, n, p)
}
func (r remoteStreams) Delete(ctx context.Context, n string) error { return r.c.DeleteStream(ctx, n) }

func (a *app) streams() (streams, error) {
	if a.remote() {
		c, err := a.client()
		if err != nil {
			return nil, err
		}
		return remoteStreams{c}, nil
	}
	p, err := a.openPlatform()
	if err != nil {
		return nil, err
	}
	store, err := stream.OpenStore(a.ctx(), p.Lake.MetaDB(), nil)
	if err != nil {
		return nil, err
	}
	// Not run here: edp serve on this data directory picks changes up.
	return stream.NewManager(store, stream.Deps{Lake: p.Lake}, a.cfg.Stream.CommitInterval), nil
}

func (a *app) streamCmd() *cobra.Command {
	c := &cobra.Command{Use: "stream", Short: "Create, list, inspect, pause, resume and delete Kafka → Iceberg pipelines",
		Long: `Stream pipelines run inside edp serve (every replica sharing the metadata
database runs them, sharing partitions). Without --server these commands
change the data directory's pipeline store, which a server on it reads
within seconds; status from a running server needs --server.`}
	var spec stream.Spec
	var file, interval string
	create := &cobra.Command{Use: "create NAME", Short: "Create a pipeline from flags or a JSON spec (--file)", Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &spec); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			}
			if len(args) == 1 {
				spec.Name = args[0]
			}
			if interval != "" {
				d, err := time.ParseDuration(interval)
				if err != nil {
					return fmt.Errorf("--commit-interval: %w", err)
				}
				spec.CommitInterval = d
			}
			s, err := a.streams()
			if err != nil {
				return err
			}
			created, err := s.Create(a.ctx(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "pipeline %s: %s → %s (every %s)\n", created.Name, strings.Join(created.Topics, ","), created.TableName, created.CommitInterval)
			return nil
		}}
	f := create.Flags()
	f.StringVarP(&file, "file", "f", "", "read the pipeline's JSON spec from this file (flags override)")
	f.StringArrayVar(&spec.Topics, "topic", nil, "source topic (repeatable)")
	f.StringVar(&spec.TableName, "table", "", "target table, namespace.table (created from the first records if missing)")
	f.StringVar(&spec.Format, "format", "", "record format: json (default), raw, or avro / json-schema through kafka.schema_registry")
	f.StringVar(&spec.Transform, "transform", "", "DuckDB SELECT over the relation batch, run per micro-batch")
	f.StringVar(&spec.OnSchemaChange, "on-schema-change", "", "a new field: evolve (default), fail or ignore")
	f.StringVar(&spec.OnBadRecord, "on-bad-record", "", "a bad record: dlq (default, to <table>__dlq), skip or stop")
	f.StringVar(&spec.StartFrom, "start-from", "", "partitions with no committed offsets start at: earliest (default) or latest")
	f.StringVar(&interval, "commit-interval", "", "how often to commit, like 1s (default: stream.interval)")
	f.IntVar(&spec.MaxBatchRecords, "max-batch-records", 0, "commit early at this many buffered records (default 500000)")

	var asJSON bool
	list := &cobra.Command{Use: "list", Short: "List pipelines", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			s, err := a.streams()
			if err != nil {
				return err
			}
			infos, err := s.List(a.ctx())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.out).Encode(infos)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTOPICS\tTABLE\tSTATE\tLAG\tROWS\tDEAD LETTERS")
			for _, in := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", in.Spec.Name, strings.Join(in.Spec.Topics, ","), in.Spec.TableName,
					in.Status.State, in.Status.Lag, in.Status.Rows, in.Status.DeadLetters)
			}
			return tw.Flush()
		}}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var statusJSON bool
	status := &cobra.Command{Use: "status NAME", Short: "Show a pipeline's state, lag per partition, throughput, last commit and freshness", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := a.streams()
			if err != nil {
				return err
			}
			in, err := s.Get(a.ctx(), args[0])
			if err != nil {
				return err
			}
			if statusJSON {
				return json.NewEncoder(a.out).Encode(in)
			}
			printStreamStatus(a, in)
			return nil
		}}
	status.Flags().BoolVar(&statusJSON, "json", false, "print JSON")
	pause := &cobra.Command{Use: "pause NAME", Short: "Pause a pipeline (it commits what it buffered first)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return a.setPaused(args[0], true) }}
	resume := &cobra.Command{Use: "resume NAME", Short: "Resume a pipeline, or restart one that stopped itself", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return a.setPaused(args[0], false) }}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a pipeline; its table, dead letters and offsets stay", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := a.streams()
			if err != nil {
				return err
			}
			return s.Delete(a.ctx(), args[0])
		}}
	c.AddCommand(create, list, status, pause, resume, del)
	return c
}

func (a *app) setPaused(name string, paused bool) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	return s.SetPaused(a.ctx(), name, paused)
}

func printStreamStatus(a *app, in stream.Info) {
	st := in.Status
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "pipeline\t%s\n", in.Spec.Name)
	fmt.Fprintf(tw, "source\t%s (%s)\n", strings.Join(in.Spec.Topics, ", "), in.Spec.Format)
	fmt.Fprintf(tw, "table\t%s\n", in.Spec.TableName)
	fmt.Fprintf(tw, "state\t%s\n", st.State)
	if st.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", st.Error)
	}
	fmt.Fprintf(tw, "records\t%d (%d rows, %d dead letters, %d skipped)\n", st.Records, st.Rows, st.DeadLetters, st.Skipped)
	fmt.Fprintf(tw, "throughput\t%.0f records/s\n", st.RecordsPerSec)
	if st.LastCommit != nil {
		fmt.Fprintf(tw, "last commit\t%s (snapshot %d, %d commits)\n", st.LastCommit.Format(time.RFC3339), st.LastSnapshotID, st.Commits)
		fmt.Fprintf(tw, "freshness\tp50 %.2fs, max %.2fs\n", st.FreshnessP50, st.FreshnessMax)
	}
	fmt.Fprintf(tw, "lag\t%d records\n", st.Lag)
	for _, p := range st.Partitions {
		fmt.Fprintf(tw, "  %s/%d\tcommitted %d, end %d, lag %d\n", p.Topic, p.Partition, p.Committed, p.End, p.Lag)
	}
	tw.Flush()
}
