package lake

import "testing"

// TestOwnsFile pins which files edp accepts in, and deletes on behalf of,
// a table: only those inside its directory and the warehouse, and no
// object key with '.' or '..' segments, which some stores resolve
// (review of the REST catalog, finding 2d).
func TestOwnsFile(t *testing.T) {
	tests := []struct {
		wh, table, file string
		want            bool
	}{
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/t-1/data/x.parquet", true},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/t-1/../u-2/x.parquet", false},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/t-1/./data/x.parquet", false},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/u-2/x.parquet", false},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/t-10/x.parquet", false},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://other/wh/ns.db/t-1/x.parquet", false},
		{"s3://b/wh", "s3://b/wh/ns.db/t-1", "s3://b/wh/ns.db/t-1", false},
		{"s3://b/wh", "s3://b/elsewhere/t", "s3://b/elsewhere/t/x.parquet", false},
		{"file:///w", "file:///w/ns.db/t-1", "file:///w/ns.db/t-1/data/x.parquet", true},
		{"file:///w", "file:///w/ns.db/t-1", "/w/ns.db/t-1/data/x.parquet", true},
		{"file:///w", "file:///w/ns.db/t-1", "file:///w/ns.db/t-1/../u-2/x.parquet", false},
		{"file:///w", "file:///w/ns.db/t-1", "file:///tmp/x", false},
	}
	for _, tt := range tests {
		l := &Lake{whURI: tt.wh}
		if got := l.ownsFile(tt.table, tt.file); got != tt.want {
			t.Errorf("ownsFile(%q, %q) in %s = %v, want %v", tt.table, tt.file, tt.wh, got, tt.want)
		}
	}
}
