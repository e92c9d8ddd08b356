// Package stream runs Kafka → Iceberg pipelines: records of a topic are
// consumed in a consumer group, decoded (JSON or raw bytes), optionally
// transformed by SQL per micro-batch in DuckDB, and committed to an edp
// table — one Iceberg snapshot per batch, whose summary carries the
// consumed offsets. Those offsets, not the group's, say where consumption
// resumes after a restart or a rebalance, so a crash at any point loses
// nothing and duplicates nothing (the scheme of Apache Iceberg's Kafka
// Connect sink). Records that cannot be decoded, typed or transformed go
// to a dead-letter table <table>__dlq, are skipped, or stop the pipeline.
//
// internal/server runs pipelines inside edp serve; internal/api and
// internal/cli manage their specifications through Store.
package stream
