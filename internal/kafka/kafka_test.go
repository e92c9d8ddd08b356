package kafka_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edp-data/edp/internal/kafka"
	"github.com/edp-data/edp/internal/kafka/kafkatest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTopicsProduceConsume(t *testing.T) {
	ctx := ctxT(t)
	_, cluster := kafkatest.Start(t)
	cl, err := kafka.NewClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.CreateTopic(ctx, cl, "orders", 3, -1, map[string]string{"retention.ms": "3600000"}); err != nil {
		t.Fatal(err)
	}
	if err := kafka.CreateTopic(ctx, cl, "audit", 1, -1, nil); err != nil {
		t.Fatal(err)
	}
	topics, err := kafka.ListTopics(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range topics {
		names = append(names, tp.Name)
	}
	if want := []string{"audit", "orders"}; !slices.Equal(names, want) {
		t.Fatalf("ListTopics = %v, want %v", names, want)
	}

	in := "k1\t{\"id\":1}\nk2\t{\"id\":2}\n\nk1\t{\"id\":3}\n"
	n, err := kafka.Produce(ctx, cl, strings.NewReader(in), kafka.ProduceOptions{Topic: "orders", KeySeparator: "\t", Headers: map[string]string{"source": "test"}})
	if err != nil || n != 3 {
		t.Fatalf("Produce = %d, %v, want 3, nil", n, err)
	}
	env := `{"key":"k9","value":{"id":9},"headers":{"h":"v"}}` + "\n" + `{"key":"k9","value":null}` + "\n"
	if n, err := kafka.Produce(ctx, cl, strings.NewReader(env), kafka.ProduceOptions{Topic: "orders", Format: kafka.FormatEnvelope}); err != nil || n != 2 {
		t.Fatalf("Produce envelope = %d, %v, want 2, nil", n, err)
	}

	d, err := kafka.DescribeTopic(ctx, cl, "orders")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range d.Partitions {
		total += p.Records()
	}
	if len(d.Partitions) != 3 || total != 5 {
		t.Fatalf("DescribeTopic: %d partitions, %d records, want 3, 5", len(d.Partitions), total)
	}
	if d.Configs["retention.ms"] != "3600000" {
		t.Errorf("DescribeTopic configs = %v, want retention.ms=3600000", d.Configs)
	}

	copts := kafka.ConsumeOptions{Topic: "orders", Envelope: true, UntilEnd: true}
	kopts, err := kafka.ConsumerOptions(copts)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := kafka.NewClient(cluster, kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out bytes.Buffer
	if n, err := kafka.Consume(ctx, cons, &out, copts); err != nil || n != 5 {
		t.Fatalf("Consume = %d, %v, want 5, nil", n, err)
	}
	byKey := map[string][]kafka.Message{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var m kafka.Message
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		byKey[*m.Key] = append(byKey[*m.Key], m)
	}
	k1 := byKey["k1"]
	if len(k1) != 2 || *k1[0].Value != `{"id":1}` || *k1[1].Value != `{"id":3}` || k1[0].Partition != k1[1].Partition {
		t.Errorf("records of key k1 = %+v, want ids 1 then 3 in one partition", k1)
	}
	if k1[0].Headers["source"] != "test" {
		t.Errorf("headers of k1 = %v, want source=test", k1[0].Headers)
	}
	k9 := byKey["k9"]
	if len(k9) != 2 || *k9[0].Value != `{"id":9}` || k9[0].Headers["h"] != "v" || k9[1].Value != nil {
		t.Errorf("records of key k9 = %+v, want a value with header h=v, then a tombstone", k9)
	}
}

func TestProduceErrors(t *testing.T) {
	ctx := ctxT(t)
	_, cluster := kafkatest.Start(t, kfake.SeedTopics(1, "t"))
	cl, err := kafka.NewClient(cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name string
		in   string
		opts kafka.ProduceOptions
	}{
		{"missing separator", "k\tv\nno-separator\n", kafka.ProduceOptions{Topic: "t", KeySeparator: "\t"}},
		{"bad envelope", "{not json\n", kafka.ProduceOptions{Topic: "t", Format: kafka.FormatEnvelope}},
		{"unknown format", "x\n", kafka.ProduceOptions{Topic: "t", Format: "xml"}},
		{"no topic", "x\n", kafka.ProduceOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := kafka.Produce(ctx, cl, strings.NewReader(tc.in), tc.opts); !errors.Is(err, kafka.ErrInvalid) {
				t.Errorf("Produce(%q) error = %v, want ErrInvalid", tc.in, err)
			}
		})
	}
}

func TestClusterOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    kafka.Cluster
	}{
		{"no brokers", kafka.Cluster{}},
		{"unknown mechanism", kafka.Cluster{Brokers: []string{"x:1"}, SASLMechanism: "GSSAPI", User: "u"}},
		{"sasl without user", kafka.Cluster{Brokers: []string{"x:1"}, SASLMechanism: "PLAIN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.c.Options(); !errors.Is(err, kafka.ErrInvalid) {
				t.Errorf("Options(%+v) error = %v, want ErrInvalid", tc.c, err)
			}
		})
	}
}

// TestSASLAndTLS connects with each SASL mechanism over TLS to a cluster
// that demands both, and checks that a wrong password is refused.
func TestSASLAndTLS(t *testing.T) {
	certFile, serverTLS := selfSigned(t)
	_, cluster := kafkatest.Start(t, kfake.EnableSASL(), kfake.TLS(serverTLS),
		kfake.Superuser("PLAIN", "plainuser", "p1"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "p2"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "p3"),
		kfake.SeedTopics(1, "secure"))
	for _, tc := range []struct {
		mech, user, pass string
		ok               bool
	}{
		{kafka.SASLPlain, "plainuser", "p1", true},
		{kafka.SASLScramSHA256, "scram256", "p2", true},
		{kafka.SASLScramSHA512, "scram512", "p3", true},
		{kafka.SASLScramSHA256, "scram256", "wrong", false},
	} {
		t.Run(tc.mech+"/"+tc.pass, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := cluster
			c.SASLMechanism, c.User, c.Password, c.TLS, c.CAFile = tc.mech, tc.user, tc.pass, true, certFile
			cl, err := kafka.NewClient(c)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			_, err = kafka.ListTopics(ctx, cl)
			if (err == nil) != tc.ok {
				t.Errorf("ListTopics as %s with %s = %v, want ok=%v", tc.user, tc.mech, err, tc.ok)
			}
		})
	}
}

func selfSigned(t *testing.T) (string, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}
