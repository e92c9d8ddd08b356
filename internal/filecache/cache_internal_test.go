package filecache

import "testing"

func TestFileNameRoundTrip(t *testing.T) {
	key := keyOf("s3://b/x.parquet")
	for _, tc := range []struct {
		size int64
		sum  uint64
		ext  string
	}{
		{0, 0, ""},
		{1, 1, ".parquet"},
		{1 << 40, ^uint64(0), ".avro"},
	} {
		name := fileName(key, tc.size, tc.sum, tc.ext)
		k, size, sum, ok := parseName(name)
		if !ok || k != key || size != tc.size || sum != tc.sum {
			t.Errorf("parseName(%q) = %q, %d, %x, %v, want %q, %d, %x, true", name, k, size, sum, ok, key, tc.size, tc.sum)
		}
	}
	for _, bad := range []string{
		"",
		key,
		key + "-12-0000000000000001.Parquet",
		key + "-012-0000000000000001",
		key + "--1-0000000000000001",
		key + "-12-000000000000001",
		key[:63] + "-12-0000000000000001",
		key + "-12-0000000000000001-extra",
		key + "-12-0000000000000001.tmp.x",
	} {
		if _, _, _, ok := parseName(bad); ok {
			t.Errorf("parseName(%q) ok, want rejected", bad)
		}
	}
}

func TestExtOf(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"s3://b/db/t/data/00000-0.parquet", ".parquet"},
		{"s3://b/x.PARQUET?versionId=1", ".parquet"},
		{"s3://b/metadata/snap-1.avro", ".avro"},
		{"s3://b/noext", ""},
		{"s3://b/x.p-q", ""},
		{"s3://b/x." + "abcdefghijklmnopq", ""},
		{"s3://b/a\x00b.parquet", ".parquet"},
	} {
		if got := extOf(tc.uri); got != tc.want {
			t.Errorf("extOf(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}
