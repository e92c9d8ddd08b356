// Command edpbench measures edp beside plain DuckDB, its peer, in the same
// run: batch loads (load), the 22 TPC-H queries (tpch) and one-row commits
// (commit). Each subcommand prints a small table of results with the ratio
// to the peer; docs/BENCHMARKS.md records a run and the goals.
//
//	go run ./cmd/edpbench load   [-rows 10000000] [-reps 5] [-dir DIR]
//	go run ./cmd/edpbench tpch   [-sf 1] [-reps 3] [-split-size BYTES] [-queries DIR] [-dir DIR]
//	go run ./cmd/edpbench tpch-s3 [-sf 1] [-reps 3] [-data DIR] [-dir DIR]
//	go run ./cmd/edpbench commit [-n 200] [-dir DIR]
//
// Measurements are interleaved (edp, peer, edp, peer, …) so that other work
// on the machine slows both sides alike; compare ratios, not absolute times.
// The load cases run in child processes (the same binary, re-executed with
// a hidden flag) so that each one's peak RSS can be read from the kernel.
//
// It is a measuring tool, not part of edp; nothing imports it.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb" for the peer

	"github.com/edp-data/edp/internal/auth"
	"github.com/edp-data/edp/internal/lake"
)

// childFlag re-executes the binary as one measured case; it is not part of
// the documented command line.
const childFlag = "-edpbench-child"

type command struct {
	name, doc string
	run       func(args []string) error
}

func commands() []command {
	return []command{
		{"load", "time edp loads of Parquet and CSV beside DuckDB COPY; rows/s and peak RSS", runLoad},
		{"tpch", "load TPC-H into edp and run the 22 queries beside DuckDB over the same files", runTPCH},
		{"tpch-s3", "run the 22 TPC-H queries on an S3 warehouse with a cold and a warm file cache, beside a local one", runTPCHS3},
		{"commit", "one-row INSERT latency beside a durable DuckDB insert + CHECKPOINT", runCommit},
	}
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == childFlag {
		if err := runChild(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "edpbench child:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "-help" || os.Args[1] == "help" {
		usage(os.Stderr)
		os.Exit(2)
	}
	for _, c := range commands() {
		if c.name == os.Args[1] {
			if err := c.run(os.Args[2:]); errors.Is(err, flag.ErrHelp) {
				return
			} else if err != nil {
				fmt.Fprintf(os.Stderr, "edpbench %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "edpbench: unknown benchmark %q\n\n", os.Args[1])
	usage(os.Stderr)
	os.Exit(2)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: go run ./cmd/edpbench <benchmark> [flags]   (flags: <benchmark> -h)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.doc)
	}
}

func runChild(kind string, args []string) error {
	switch kind {
	case "load":
		return loadChild(args)
	case "gen":
		return genChild(args)
	case "tpchgen":
		return tpchGenChild(args)
	}
	return fmt.Errorf("unknown child %q", kind)
}

// benchContext carries the Principal every lake operation asks policy about.
func benchContext() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: "bench", Roles: []string{auth.RoleAdmin}})
}

// openLake opens a lake whose catalog and warehouse live under dir.
func openLake(ctx context.Context, dir string) (*lake.Lake, error) {
	return lake.Open(ctx, lake.Options{
		CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse:  filepath.Join(dir, "warehouse"),
	})
}

// workDir makes the directory a benchmark writes its files to.
func workDir(parent, prefix string, keep bool) (dir string, cleanup func(), err error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", nil, err
		}
	}
	if dir, err = os.MkdirTemp(parent, prefix); err != nil {
		return "", nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", nil, err
	}
	cleanup = func() {}
	if !keep {
		cleanup = func() { os.RemoveAll(dir) }
	}
	return dir, cleanup, nil
}

// openDuck opens a plain DuckDB with default settings: path "" is in memory.
func openDuck(path string) (*sql.DB, error) {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// quote renders s as a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// printFacts prints what the numbers depend on: cores, memory, load and
// versions.
func printFacts(w io.Writer) {
	duckVersion := "?"
	if db, err := openDuck(""); err == nil {
		db.QueryRow("SELECT version()").Scan(&duckVersion)
		db.Close()
	}
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s RAM, %s/%s, load average %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal(), runtime.GOOS, runtime.GOARCH, loadAverage())
	fmt.Fprintf(w, "versions: %s, DuckDB %s\n", runtime.Version(), duckVersion)
}

// loadAverage returns the 1, 5 and 15 minute load averages, where the OS
// tells them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// highWaterRSS returns this process's peak resident set size in bytes
// (VmHWM), where the OS tells it.
func highWaterRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return kib << 10
		}
	}
	return 0
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return "unknown"
}

// table prints rows under header: the first column left-aligned, the
// others (numbers) right-aligned.
func table(w io.Writer, header []string, rows [][]string) {
	width := len(header[0])
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	line := func(r []string) string {
		return fmt.Sprintf("%-*s\t", width, r[0]) + strings.Join(r[1:], "\t") + "\t"
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, line(header))
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	tw.Flush()
}

// median returns the middle value (the mean of the two middle ones for an
// even count).
func median[T time.Duration | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// newFlags returns a flag set for one benchmark, printing errors and usage
// to stderr.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("edpbench "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}
