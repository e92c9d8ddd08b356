// Package filecache is the read-through local cache of warehouse files kept
// on object storage. Iceberg data and delete files are immutable, so a
// cached copy never goes stale; queries read them through this cache, and
// DuckDB (which has no S3 support in this build) reads the local copies.
//
// A Cache downloads an object on the first Acquire of its URI and hands out
// a Lease on the local file; a leased file is never evicted, so a query keeps
// its files until it releases them. The cache is bounded by Options.MaxBytes
// and evicts the least recently used unleased files to make room.
//
// Fills are safe to interrupt at any point: an object is streamed into a
// temporary file, checked against the expected size and hashed (XXH64)
// while streaming, and only then renamed into place. Concurrent Acquires of
// one URI share one download. A failed or cancelled fill leaves nothing
// behind, and the next Acquire tries again.
//
// The index lives in the file names: each cached file is named
// <sha256(uri)>-<size>-<xxh64>[.ext] in a directory named by the first two
// hex digits of the key, so one atomic rename publishes the file and its
// index entry together. On New the directory is scanned to rebuild the
// index, with the files' modification times (refreshed on use) as the LRU
// order; temporary files and files whose names or sizes do not check out
// are removed. Each rebuilt entry's content hash is verified on its first
// use after the restart, and a corrupt file is dropped and downloaded again.
//
// Imported by the query path and the wiring in server/; filecache imports
// nothing from internal/. The object-store Source it reads through lives in
// internal/objstore.
package filecache
