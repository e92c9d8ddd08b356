package restcatalog

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"strconv"

	"github.com/edp-data/edp/internal/objstore"
)

// StorageCredential is the spec's StorageCredential: configuration for the
// files under Prefix.
type StorageCredential struct {
	Prefix string            `json:"prefix"`
	Config map[string]string `json:"config"`
}

// CredentialVendor returns what a client needs to read and write the files
// under a table location: properties for the load-table response's config
// and storage credentials scoped to the location. Both are empty for
// locations that need none.
type CredentialVendor func(ctx context.Context, location string) (config map[string]string, creds []StorageCredential)

// S3Settings describe the object store behind an s3:// warehouse.
type S3Settings struct {
	Endpoint        string
	Region          string
	PathStyle       bool
	AccessKeyID     string
	SecretAccessKey string
}

// S3Credentials vends the warehouse's own settings for tables under s3://
// (and s3a://, s3n://) locations: endpoint, region, addressing style and
// the configured static credentials. There is no STS in front of the
// store, so the credentials are not narrowed to the table: any client that
// may load a table receives keys for the whole store. Locations of other
// schemes get nothing.
func S3Credentials(set S3Settings) CredentialVendor {
	props := map[string]string(objstore.S3Props(set.Endpoint, set.Region, set.AccessKeyID, set.SecretAccessKey, set.PathStyle))
	// iceberg-go reads s3.force-virtual-addressing; Java's S3FileIO, and so
	// Spark, Trino and Flink, read s3.path-style-access.
	props["s3.path-style-access"] = strconv.FormatBool(set.PathStyle)
	return func(_ context.Context, location string) (map[string]string, []StorageCredential) {
		u, err := url.Parse(location)
		if err != nil {
			return nil, nil
		}
		switch u.Scheme {
		case "s3", "s3a", "s3n":
		default:
			return nil, nil
		}
		return maps.Clone(props), []StorageCredential{{Prefix: location, Config: maps.Clone(props)}}
	}
}

type loadCredentialsResponse struct {
	StorageCredentials []StorageCredential `json:"storage-credentials"`
}

func (s *Server) loadCredentials(w http.ResponseWriter, r *http.Request) error {
	id := ident(r, "table")
	tbl, err := s.lake.LoadTable(r.Context(), id)
	if err != nil {
		return err
	}
	out := loadCredentialsResponse{StorageCredentials: []StorageCredential{}}
	if s.opts.Credentials != nil {
		if _, creds := s.opts.Credentials(r.Context(), tbl.Location()); creds != nil {
			out.StorageCredentials = creds
		}
	}
	return writeJSON(w, out)
}
