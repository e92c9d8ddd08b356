package kafka

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic describes one topic.
type Topic struct {
	Name              string            `json:"name"`
	Partitions        []Partition       `json:"partitions"`
	ReplicationFactor int               `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// Partition describes one partition of a topic, with its offsets when
// they were asked for.
type Partition struct {
	ID          int32   `json:"id"`
	Leader      int32   `json:"leader"`
	Replicas    []int32 `json:"replicas"`
	StartOffset int64   `json:"start_offset"`
	EndOffset   int64   `json:"end_offset"`
}

// Records is the number of records the partition holds now.
func (p Partition) Records() int64 { return p.EndOffset - p.StartOffset }

// ListTopics lists the cluster's topics (internal ones left out), sorted.
func ListTopics(ctx context.Context, cl *kgo.Client) ([]Topic, error) {
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make([]Topic, 0, len(details))
	for _, name := range details.Names() {
		d := details[name]
		if d.Err != nil {
			return nil, fmt.Errorf("topic %s: %w", name, d.Err)
		}
		out = append(out, topicFrom(d))
	}
	return out, nil
}

func topicFrom(d kadm.TopicDetail) Topic {
	t := Topic{Name: d.Topic}
	for _, p := range d.Partitions.Sorted() {
		t.Partitions = append(t.Partitions, Partition{ID: p.Partition, Leader: p.Leader, Replicas: p.Replicas})
		t.ReplicationFactor = max(t.ReplicationFactor, len(p.Replicas))
	}
	return t
}

// CreateTopic creates a topic. replication -1 takes the broker's default.
func CreateTopic(ctx context.Context, cl *kgo.Client, name string, partitions int32, replication int16, configs map[string]string) error {
	if name == "" {
		return fmt.Errorf("%w: a topic needs a name", ErrInvalid)
	}
	if partitions <= 0 && partitions != -1 {
		return fmt.Errorf("%w: topic %s: partitions must be positive", ErrInvalid, name)
	}
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, replication, cfg, name); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// DescribeTopic returns a topic's partitions with their start and end
// offsets, and its configuration.
func DescribeTopic(ctx context.Context, cl *kgo.Client, name string) (*Topic, error) {
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("describe topic %s: %w", name, err)
	}
	d, ok := details[name]
	if !ok {
		return nil, fmt.Errorf("describe topic %s: no such topic", name)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("describe topic %s: %w", name, d.Err)
	}
	t := topicFrom(d)
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("describe topic %s: start offsets: %w", name, err)
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("describe topic %s: end offsets: %w", name, err)
	}
	for i, p := range t.Partitions {
		if o, ok := starts.Lookup(name, p.ID); ok && o.Err == nil {
			t.Partitions[i].StartOffset = o.Offset
		}
		if o, ok := ends.Lookup(name, p.ID); ok && o.Err == nil {
			t.Partitions[i].EndOffset = o.Offset
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		if rc, err := cfgs.On(name, nil); err == nil {
			t.Configs = map[string]string{}
			for _, c := range rc.Configs {
				// Only what was set on the topic; defaults would drown it.
				if c.Value != nil && c.Source == 1 /* DYNAMIC_TOPIC_CONFIG */ {
					t.Configs[c.Key] = *c.Value
				}
			}
		}
	}
	return &t, nil
}

// EndOffsets returns the end (next) offset of every partition of topics.
func EndOffsets(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	out := map[string]map[int32]int64{}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("end offsets: %w", errs[0])
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
