package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
)

// loadCase is one measured load: edp into a new table (partitioned or not),
// or the peer, DuckDB's COPY of the same file to a Parquet file.
type loadCase struct {
	name      string
	format    string // parquet or csv
	edp       bool
	partition string // column to partition by
	// reference cases are shown for diagnosis; ratios are to the plain
	// COPY of the same format.
	reference bool
}

// loadOutcome is what a child reports back on its last line of output.
type loadOutcome struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
	Files   int     `json:"files"`
	// HWM is the child's own VmHWM, a cross-check of ru_maxrss.
	HWM int64 `json:"hwm"`
}

type loadRun struct {
	elapsed time.Duration
	cpu     time.Duration // the child's user + system time
	rss     int64
	hwm     int64
	files   int
}

// loadCodec is the -codec flag, passed on to each case's child.
var loadCodec string

func runLoad(args []string) error {
	fs := newFlags("load")
	rows := fs.Int64("rows", 10_000_000, "rows to generate")
	reps := fs.Int("reps", 5, "times to run each case (interleaved); the median is reported")
	parent := fs.String("dir", "", "directory for the generated files and lakes (default: the system temp dir)")
	keep := fs.Bool("keep", false, "keep the generated files")
	codec := fs.String("codec", "", "Parquet codec for both sides (edp's table property, DuckDB's COMPRESSION); default: each side's own default (edp zstd, DuckDB snappy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	loadCodec = *codec
	if *rows <= 0 || *reps <= 0 {
		return fmt.Errorf("-rows and -reps must be positive")
	}
	dir, cleanup, err := workDir(*parent, "edpbench-load-", *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	out := os.Stdout
	fmt.Fprintf(out, "edpbench load: %d rows x 8 columns, %d rep(s), in %s\n", *rows, *reps, dir)
	printFacts(out)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	// A child generates the data: a child's ru_maxrss starts from its
	// parent's high-water mark (Linux carries it across fork and exec), so
	// this process must stay small for the cases' peak RSS to be theirs.
	gen := exec.Command(exe, childFlag, "gen", "-dir", dir, "-rows", fmt.Sprint(*rows))
	gen.Dir = dir
	gen.Stdout, gen.Stderr = os.Stderr, os.Stderr
	if err := gen.Run(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	files := loadFiles(dir)
	for _, f := range []string{"parquet", "csv"} {
		st, err := os.Stat(files[f])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "input %-7s %s (%.0f MiB)\n", f, files[f], float64(st.Size())/(1<<20))
	}
	fmt.Fprintf(out, "generated in %.1fs (not timed)\n\n", time.Since(start).Seconds())

	cases := []loadCase{
		{name: "edp parquet, unpartitioned", format: "parquet", edp: true},
		{name: "duckdb COPY parquet", format: "parquet"},
		{name: "edp parquet, by region", format: "parquet", edp: true, partition: "region"},
		{name: "(ref) duckdb COPY parquet, by region", format: "parquet", partition: "region", reference: true},
		{name: "edp csv, unpartitioned", format: "csv", edp: true},
		{name: "duckdb COPY csv", format: "csv"},
		{name: "edp csv, by region", format: "csv", edp: true, partition: "region"},
		{name: "(ref) duckdb COPY csv, by region", format: "csv", partition: "region", reference: true},
	}
	runs := make([][]loadRun, len(cases))
	for rep := 0; rep < *reps; rep++ {
		// Alternate the order so neither side always runs first.
		order := make([]int, len(cases))
		for i := range order {
			order[i] = i
			if rep%2 == 1 {
				order[i] = len(cases) - 1 - i
			}
		}
		for _, i := range order {
			c := cases[i]
			r, err := runLoadChild(exe, dir, c, files[c.format], *rows)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			fmt.Fprintf(os.Stderr, "  rep %d  %-36s %6.2fs  CPU %6.2fs  ru_maxrss %5.0f MiB  VmHWM %5.0f MiB\n", rep+1, c.name, r.elapsed.Seconds(), r.cpu.Seconds(), float64(r.rss)/(1<<20), float64(r.hwm)/(1<<20))
			runs[i] = append(runs[i], r)
		}
	}

	// Ratios are taken per rep, between runs made next to each other, and
	// the median of those is reported: other work on the machine drifts
	// more between reps than between neighbouring runs.
	peerOf := map[string]int{}
	for i, c := range cases {
		if !c.edp && !c.reference {
			peerOf[c.format] = i
		}
	}
	type summary struct {
		med, cpu        time.Duration
		rate            float64
		ratio, cpuRatio float64
		rss             int64
		files           int
	}
	sums := make([]summary, len(cases))
	for i, c := range cases {
		var ds, cpus []time.Duration
		var ratios, cpuRatios []float64
		var s summary
		for r, run := range runs[i] {
			ds = append(ds, run.elapsed)
			cpus = append(cpus, run.cpu)
			peer := runs[peerOf[c.format]][r]
			ratios = append(ratios, peer.elapsed.Seconds()/run.elapsed.Seconds())
			cpuRatios = append(cpuRatios, peer.cpu.Seconds()/run.cpu.Seconds())
			s.rss = max(s.rss, run.rss)
			s.files = run.files
		}
		s.med, s.cpu = median(ds), median(cpus)
		s.rate = float64(*rows) / s.med.Seconds()
		s.ratio, s.cpuRatio = median(ratios), median(cpuRatios)
		sums[i] = s
	}
	var table1 [][]string
	for i, c := range cases {
		s := sums[i]
		ratio, cpuRatio := "peer", "peer"
		if c.edp || c.reference {
			ratio, cpuRatio = fmt.Sprintf("%.2fx", s.ratio), fmt.Sprintf("%.2fx", s.cpuRatio)
		}
		table1 = append(table1, []string{c.name, secs(s.med), fmt.Sprintf("%.0f", s.rate), secs(s.cpu),
			fmt.Sprintf("%.0f", float64(s.rss)/(1<<20)), fmt.Sprint(s.files), ratio, cpuRatio})
	}
	fmt.Fprintln(out)
	table(out, []string{"case", "median s", "rows/s", "CPU s", "peak RSS MiB", "files", "edp/DuckDB rows/s", "by CPU time"}, table1)
	fmt.Fprintln(out, "\nrows/s from the median wall time; ratios are medians of per-rep ratios to the plain DuckDB COPY of the same file")
	fmt.Fprintln(out, "(\"by CPU time\": DuckDB's CPU seconds / edp's); peak RSS is the largest ru_maxrss over the reps")

	fmt.Fprintln(out, "\ngoals:")
	for i, c := range cases {
		if !c.edp {
			continue
		}
		s := sums[i]
		fmt.Fprintf(out, "  %-26s >= 1.0x DuckDB rows/s: %.2fx %s", c.name, s.ratio, verdict(s.ratio >= 1))
		if c.partition == "" {
			fmt.Fprintf(out, "; >= 1M rows/s: %.2fM %s", s.rate/1e6, verdict(s.rate >= 1e6))
		} else {
			fmt.Fprintf(out, "; <= 1 GiB peak RSS: %.2f GiB %s", float64(s.rss)/(1<<30), verdict(s.rss <= 1<<30))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "load average after: %s; this process's own peak RSS %.0f MiB (a floor under every child's ru_maxrss)\n", loadAverage(), float64(highWaterRSS())/(1<<20))
	return nil
}

func loadFiles(dir string) map[string]string {
	return map[string]string{"parquet": filepath.Join(dir, "data.parquet"), "csv": filepath.Join(dir, "data.csv")}
}

// genChild writes the same rows as data.parquet and data.csv in -dir.
func genChild(args []string) error {
	fs := flag.NewFlagSet("gen child", flag.ContinueOnError)
	dir := fs.String("dir", "", "output directory")
	rows := fs.Int64("rows", 0, "rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openDuck("")
	if err != nil {
		return err
	}
	defer db.Close()
	// Deterministic values from hashes of the row number; 50 regions.
	gen := fmt.Sprintf(`CREATE TABLE gen AS SELECT
		CAST(i AS BIGINT) AS id,
		TIMESTAMP '2025-01-01 00:00:00' + to_seconds(CAST(i %% 31536000 AS BIGINT)) AS ts,
		'region-' || lpad(CAST(hash(i, 1) %% 50 AS VARCHAR), 2, '0') AS region,
		CAST(hash(i, 2) %% 10000000 AS DOUBLE) / 100 AS amount,
		'note ' || CAST(hash(i, 3) %% 1000000 AS VARCHAR) || ' for order ' || CAST(i AS VARCHAR) AS note,
		hash(i, 4) %% 2 = 0 AS flag,
		CAST(hash(i, 5) %% 1000 AS INTEGER) AS qty,
		'SKU-' || lpad(CAST(hash(i, 6) %% 100000 AS VARCHAR), 6, '0') AS sku
	FROM range(%d) AS t(i)`, *rows)
	files := loadFiles(*dir)
	for _, s := range []string{
		gen,
		"COPY gen TO " + quote(files["parquet"]) + " (FORMAT parquet)",
		"COPY gen TO " + quote(files["csv"]) + " (FORMAT csv, HEADER)",
	} {
		if _, err := db.Exec(s); err != nil {
			return err
		}
	}
	return nil
}

// runLoadChild runs one case in a child process and reads its peak RSS.
func runLoadChild(exe, dir string, c loadCase, src string, rows int64) (loadRun, error) {
	caseDir, err := os.MkdirTemp(dir, "case-")
	if err != nil {
		return loadRun{}, err
	}
	defer os.RemoveAll(caseDir)
	kind := "duckdb"
	if c.edp {
		kind = "edp"
	}
	cmd := exec.Command(exe, childFlag, "load", "-kind", kind, "-src", src, "-dir", caseDir, "-partition", c.partition, "-codec", loadCodec)
	// The child's working directory is its case directory, so a DuckDB
	// with default settings spills there, not into the caller's directory.
	cmd.Dir = caseDir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return loadRun{}, err
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var o loadOutcome
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &o); err != nil {
		return loadRun{}, fmt.Errorf("child output %q: %w", stdout.String(), err)
	}
	if o.Rows != rows {
		return loadRun{}, fmt.Errorf("loaded %d rows, want %d", o.Rows, rows)
	}
	return loadRun{elapsed: time.Duration(o.Seconds * float64(time.Second)), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss: peakRSS(cmd.ProcessState), hwm: o.HWM, files: o.Files}, nil
}

// loadChild runs one case in this (child) process and prints its outcome
// as JSON.
func loadChild(args []string) error {
	fs := flag.NewFlagSet("load child", flag.ContinueOnError)
	kind := fs.String("kind", "", "edp or duckdb")
	src := fs.String("src", "", "input file")
	dir := fs.String("dir", "", "directory for the lake or the output file")
	partition := fs.String("partition", "", "partition column for edp")
	codec := fs.String("codec", "", "Parquet codec, empty for the default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var o loadOutcome
	switch *kind {
	case "edp":
		ctx := benchContext()
		l, err := openLake(ctx, *dir)
		if err != nil {
			return err
		}
		defer l.Close()
		if err := l.CreateNamespace(ctx, "bench", nil, false); err != nil {
			return err
		}
		id := lake.Ident{Namespace: "bench", Name: "t"}
		opts := ingest.Options{Table: id, Files: []string{*src}, TempDir: filepath.Join(*dir, "tmp")}
		if *partition != "" {
			opts.PartitionBy = []string{*partition}
		}
		if *codec != "" {
			opts.Properties = map[string]string{duck.CodecProperty: *codec}
		}
		start := time.Now()
		res, err := ingest.Load(ctx, l, opts)
		if err != nil {
			return err
		}
		o.Seconds = time.Since(start).Seconds()
		o.Rows = res.Rows
		tbl, err := l.LoadTable(ctx, id)
		if err != nil {
			return err
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return err
		}
		o.Files = len(tasks)
	case "duckdb":
		start := time.Now()
		db, err := openDuck("")
		if err != nil {
			return err
		}
		reader := "read_parquet"
		if strings.HasSuffix(*src, ".csv") {
			reader = "read_csv"
		}
		target, copyOpts := filepath.Join(*dir, "x.parquet"), []string{"FORMAT parquet"}
		if *partition != "" {
			target, copyOpts = filepath.Join(*dir, "x"), append(copyOpts, "PARTITION_BY ("+*partition+")")
		}
		if *codec != "" {
			copyOpts = append(copyOpts, "COMPRESSION "+*codec)
		}
		opts := " (" + strings.Join(copyOpts, ", ") + ")"
		if err := db.QueryRow("COPY (SELECT * FROM " + reader + "(" + quote(*src) + ")) TO " + quote(target) + opts).Scan(&o.Rows); err != nil {
			db.Close()
			return err
		}
		err = db.Close()
		o.Seconds = time.Since(start).Seconds()
		if err != nil {
			return err
		}
		filepath.WalkDir(target, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				o.Files++
			}
			return nil
		})
	default:
		return fmt.Errorf("-kind %q: want edp or duckdb", *kind)
	}
	o.HWM = highWaterRSS()
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
