package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits follows DuckDB's convention (KB = 1000 bytes, KiB = 1024) so a
// memory limit means the same thing here as it does to the engine it is
// passed to. Ordered largest first so formatSize picks the shortest form.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40},
	{"TB", 1e12},
	{"GiB", 1 << 30},
	{"GB", 1e9},
	{"MiB", 1 << 20},
	{"MB", 1e6},
	{"KiB", 1 << 10},
	{"KB", 1e3},
	{"B", 1},
}

const sizeUnitList = "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"

var (
	errSizeEmpty = errors.New("is empty; use a number with a unit, like 512MB or 4GB")
	errNotSize   = errors.New("is not a size; use a number with a unit, like 512MB, 4GB or 1.5GiB")
	errSizeLarge = errors.New("is too large")
)

// ParseSize parses a byte size such as "512MB", "4GB", "1.5GiB" or "1024"
// (plain numbers are bytes). Decimal units (KB, MB, GB, TB) are powers of
// 1000 and binary units (KiB, MiB, GiB, TiB) powers of 1024, as in DuckDB.
// Units are case-insensitive and may be separated from the number by
// spaces. Fractional results are rounded to the nearest byte.
func ParseSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("size %q %w", s, err)
	}
	return n, nil
}

// parseSize returns errors phrased to follow the quoted value, so callers
// can prefix them with either "size" or a setting key.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errSizeEmpty
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("is negative; sizes must be 0 or more")
	}
	end := strings.IndexFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.'
	})
	if end < 0 {
		end = len(s)
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	if num == "" {
		return 0, errNotSize
	}

	mult := int64(1)
	if unit != "" {
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult, found = u.mult, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("has an unknown unit %q; use %s", unit, sizeUnitList)
		}
	}

	// Whole numbers take the exact integer path; going through float64
	// would lose precision for large byte counts.
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return 0, errSizeLarge
			}
			return 0, errNotSize
		}
		if n > math.MaxInt64/mult {
			return 0, errSizeLarge
		}
		return n * mult, nil
	}
	if mult == 1 {
		return 0, errors.New("is not a whole number of bytes")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errNotSize
	}
	bytes := math.Round(f * float64(mult))
	// float64(math.MaxInt64) rounds up to 2^63, so >= is the correct bound.
	if bytes >= float64(math.MaxInt64) {
		return 0, errSizeLarge
	}
	return int64(bytes), nil
}

// formatSize renders n in the largest unit that represents it exactly, so
// the result parses back to the same number of bytes.
func formatSize(n int64) string {
	if n == 0 {
		return "0B"
	}
	for _, u := range sizeUnits {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B" // unreachable: every n is a multiple of 1
}
