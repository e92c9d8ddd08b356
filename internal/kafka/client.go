package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrInvalid is wrapped by errors about a cluster's settings or a
// command's arguments.
var ErrInvalid = errors.New("invalid kafka setting")

// SASL mechanisms a Cluster may name.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Cluster says how to reach one Kafka cluster.
type Cluster struct {
	Brokers []string
	// SASLMechanism is "" (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism string
	User          string
	Password      string
	// TLS turns TLS on; CAFile, if set, replaces the system roots, and
	// InsecureSkipVerify is for tests and development only.
	TLS                bool
	CAFile             string
	InsecureSkipVerify bool
	ClientID           string
	// DialTimeout bounds one connection attempt (default 10 s).
	DialTimeout time.Duration
}

// Options turns the cluster settings into kgo client options; extra
// options (consumer groups, topics) are appended by the caller.
func (c Cluster) Options() ([]kgo.Opt, error) {
	var brokers []string
	for _, b := range c.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: no brokers configured (set kafka.brokers)", ErrInvalid)
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = "edp"
	}
	dial := c.DialTimeout
	if dial <= 0 {
		dial = 10 * time.Second
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(clientID), kgo.DialTimeout(dial)}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case SASLPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()))
	case SASLScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()))
	case SASLScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("%w: SASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", ErrInvalid, c.SASLMechanism)
	}
	if c.SASLMechanism != "" && c.User == "" {
		return nil, fmt.Errorf("%w: SASL %s needs a user", ErrInvalid, c.SASLMechanism)
	}
	if c.TLS || c.CAFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, for development
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read kafka CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalid, c.CAFile)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return opts, nil
}

// NewClient opens a franz-go client for the cluster with extra options.
// franz-go connects lazily, so an unreachable cluster shows on first use.
func NewClient(c Cluster, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}
