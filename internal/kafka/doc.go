// Package kafka connects edp to a Kafka-protocol cluster through franz-go:
// cluster settings (brokers, SASL PLAIN/SCRAM, TLS) become kgo client
// options in one place, and the operator commands — topics list, create
// and describe (kadm), produce from a file or stdin with keys and headers,
// consume — are functions over a client. internal/cli and internal/stream
// import it; it imports nothing of edp's.
package kafka
