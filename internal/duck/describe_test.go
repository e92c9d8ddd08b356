package duck_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edp-data/edp/internal/duck"
)

// TestDescribe pins Describe's answer for one SELECT, and its refusal of
// text whose last statement is not the DESCRIBE: it indexed a second
// column that a one-column result lacks, and panicked.
func TestDescribe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{dir}, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names, types, err := duck.Describe(ctx, conn, "SELECT 1::BIGINT AS a, 'x' AS b")
	if err != nil || !slices.Equal(names, []string{"a", "b"}) || !slices.Equal(types, []string{"BIGINT", "VARCHAR"}) {
		t.Errorf("Describe(one select) = %v, %v, %v; want [a b], [BIGINT VARCHAR], nil", names, types, err)
	}
	if names, _, err := duck.Describe(ctx, conn, "SELECT 1 AS a; SELECT 2"); err == nil {
		t.Errorf("Describe(two statements) = %v, nil; want an error", names)
	}
}
