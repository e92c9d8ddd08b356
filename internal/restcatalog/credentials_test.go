package restcatalog_test

import (
	"context"
	"testing"

	"github.com/edp-data/edp/internal/restcatalog"
)

// TestS3Credentials: tables under s3:// get the warehouse's store settings
// (for iceberg-go and for Java's S3FileIO) scoped to the table's prefix;
// local tables get nothing.
func TestS3Credentials(t *testing.T) {
	vend := restcatalog.S3Credentials(restcatalog.S3Settings{Endpoint: "http://minio:9000", Region: "us-east-1",
		PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"})
	tests := []struct {
		location string
		want     map[string]string // nil: nothing vended
	}{
		{"s3://bucket/wh/sales.db/orders-1a2b", map[string]string{
			"s3.endpoint": "http://minio:9000", "s3.region": "us-east-1", "s3.access-key-id": "AK",
			"s3.secret-access-key": "SK", "s3.path-style-access": "true", "s3.force-virtual-addressing": "false"}},
		{"s3a://bucket/t", map[string]string{"s3.access-key-id": "AK"}},
		{"file:///data/warehouse/sales.db/orders", nil},
		{"/data/warehouse/t", nil},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			config, creds := vend(context.Background(), tt.location)
			if tt.want == nil {
				if config != nil || creds != nil {
					t.Errorf("S3Credentials(%q) = %v, %v, want nothing", tt.location, config, creds)
				}
				return
			}
			if len(creds) != 1 || creds[0].Prefix != tt.location {
				t.Fatalf("S3Credentials(%q) credentials = %+v, want one for the table's prefix", tt.location, creds)
			}
			for k, v := range tt.want {
				if config[k] != v || creds[0].Config[k] != v {
					t.Errorf("S3Credentials(%q)[%s] = %q / %q, want %q", tt.location, k, config[k], creds[0].Config[k], v)
				}
			}
		})
	}
}
