package restcatalog_test

import (
	"testing"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/catalogtest"
)

// TestConformance runs iceberg-go's catalog conformance suite against edp's
// catalog through iceberg-go's own REST client, on each metadata database.
func TestConformance(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		catalogtest.RunCatalogTests(t, catalogtest.Config{
			NewCatalog:                  func(t *testing.T) catalog.Catalog { return e.client(e.token) },
			SupportsNamespaceProperties: true,
		})
	})
}
