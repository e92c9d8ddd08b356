package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/server"
)

func (a *app) kafkaClient(extra ...kgo.Opt) (*kgo.Client, error) {
	c, ok := server.KafkaCluster(a.cfg)
	if !ok {
		return nil, errors.New("no Kafka cluster configured: set kafka.brokers (EDP_KAFKA_BROKERS or --kafka-brokers)")
	}
	return kafka.NewClient(c, extra...)
}

func (a *app) kafkaCmd() *cobra.Command {
	c := &cobra.Command{Use: "kafka", Short: "List, create and describe Kafka topics; produce and consume records"}
	topics := &cobra.Command{Use: "topics", Short: "List, create and describe topics"}
	var asJSON bool
	list := &cobra.Command{Use: "list", Short: "List topics", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cl, err := a.kafkaClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			ts, err := kafka.ListTopics(a.ctx(), cl)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.out).Encode(ts)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Name, len(t.Partitions), t.ReplicationFactor)
			}
			return tw.Flush()
		}}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var partitions int32
	var replication int16
	var configs []string
	create := &cobra.Command{Use: "create TOPIC", Short: "Create a topic", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := kafka.ParseHeaders(configs)
			if err != nil {
				return fmt.Errorf("--topic-config: %w", err)
			}
			cl, err := a.kafkaClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			return kafka.CreateTopic(a.ctx(), cl, args[0], partitions, replication, cfg)
		}}
	create.Flags().Int32Var(&partitions, "partitions", 1, "number of partitions")
	create.Flags().Int16Var(&replication, "replication", -1, "replication factor (-1: the broker's default)")
	create.Flags().StringArrayVar(&configs, "topic-config", nil, "topic configuration key=value (repeatable)")
	var describeJSON bool
	describe := &cobra.Command{Use: "describe TOPIC", Short: "Show a topic's partitions, offsets and configuration", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cl, err := a.kafkaClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			t, err := kafka.DescribeTopic(a.ctx(), cl, args[0])
			if err != nil {
				return err
			}
			if describeJSON {
				return json.NewEncoder(a.out).Encode(t)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tSTART\tEND\tRECORDS")
			for _, p := range t.Partitions {
				fmt.Fprintf(tw, "%d\t%d\t%v\t%d\t%d\t%d\n", p.ID, p.Leader, p.Replicas, p.StartOffset, p.EndOffset, p.Records())
			}
			for _, k := range sortedStrings(t.Configs) {
				fmt.Fprintf(tw, "config %s=%s\n", k, t.Configs[k])
			}
			return tw.Flush()
		}}
	describe.Flags().BoolVar(&describeJSON, "json", false, "print JSON")
	topics.AddCommand(list, create, describe)

	var po kafka.ProduceOptions
	var headers []string
	var file string
	produce := &cobra.Command{Use: "produce TOPIC", Short: "Send one record per input line (from --file or stdin)",
		Long: `produce sends each line of the input as one record. With --key-separator the
text before the first separator is the record's key. With --format envelope
each line is a JSON object {"key": "...", "value": ..., "headers": {...}}: a
string value is sent as its text, any other JSON value as its JSON, null as
a tombstone. --header adds a header to every record.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			h, err := kafka.ParseHeaders(headers)
			if err != nil {
				return err
			}
			po.Topic, po.Headers = args[0], h
			var in io.Reader = a.in
			if file != "" && file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			cl, err := a.kafkaClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			n, err := kafka.Produce(a.ctx(), cl, in, po)
			fmt.Fprintf(a.errw, "%d records sent to %s\n", n, po.Topic)
			return err
		}}
	produce.Flags().StringVarP(&file, "file", "f", "", "read records from this file instead of stdin")
	produce.Flags().StringVar(&po.Format, "format", kafka.FormatLines, "input format: lines or envelope")
	produce.Flags().StringVar(&po.KeySeparator, "key-separator", "", "split each line into key and value at the first occurrence of this text")
	produce.Flags().StringArrayVarP(&headers, "header", "H", nil, "header key=value added to every record (repeatable)")

	var co kafka.ConsumeOptions
	consume := &cobra.Command{Use: "consume TOPIC", Short: "Print records of a topic, one per line",
		Long: `consume prints each record's value on a line, or with --envelope a JSON object
with topic, partition, offset, timestamp, key, headers and value. It reads
without a consumer group, so it never moves a pipeline's position.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			co.Topic = args[0]
			opts, err := kafka.ConsumerOptions(co)
			if err != nil {
				return err
			}
			cl, err := a.kafkaClient(opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			_, err = kafka.Consume(a.ctx(), cl, a.out, co)
			return err
		}}
	consume.Flags().StringVar(&co.From, "from", "start", "where to start: start, end or an offset")
	consume.Flags().Int64VarP(&co.Max, "max", "n", 0, "stop after this many records (0: no limit)")
	consume.Flags().BoolVar(&co.Envelope, "envelope", false, "print each record as a JSON object with its metadata")
	consume.Flags().BoolVar(&co.UntilEnd, "until-end", false, "stop at the end offsets seen when starting")
	c.AddCommand(topics, produce, consume)
	return c
}

func sortedStrings(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
