package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/objstore"
	"github.com/edp-data/edp/internal/query"
)

// runTPCHS3 loads TPC-H into a lake on local disk and into one on an
// S3-compatible server on loopback, and runs the 22 queries on each: on S3
// with a cold file cache (a fresh cache for every run, so every file is
// downloaded), with a warm one, and locally.
func runTPCHS3(args []string) error {
	fs := newFlags("tpch-s3")
	sf := fs.Int64("sf", 1, "TPC-H scale factor")
	reps := fs.Int("reps", 3, "timed runs of each query per setting; the median is reported")
	queries := fs.String("queries", "../shared/bench/tpch", "directory holding q01.sql … q22.sql")
	parent := fs.String("dir", "", "directory for the lakes (default: the system temp dir)")
	data := fs.String("data", "", "directory for the generated Parquet files, reused when present (default: inside -dir)")
	keep := fs.Bool("keep", false, "keep the lakes and generated files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sf < 1 || *reps < 1 {
		return fmt.Errorf("-sf and -reps must be at least 1")
	}
	dir, cleanup, err := workDir(*parent, "edpbench-tpch-s3-", *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	out := os.Stdout
	fmt.Fprintf(out, "edpbench tpch-s3: scale factor %d, %d timed run(s) per query per setting, in %s\n", *sf, *reps, dir)
	printFacts(out)
	texts, err := readQueries(*queries)
	if err != nil {
		return err
	}
	genDir, err := generateTPCH(out, *data, dir, *sf)
	if err != nil {
		return err
	}

	endpoint, stop, err := startFakeS3("tpch")
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "object store: gofakes3 (objects in memory) on %s, reached through the AWS SDK over loopback HTTP\n", endpoint)
	storage := lake.Storage{Props: objstore.S3Props(endpoint, "us-east-1", "bench", "bench-secret", true)}
	s3Catalog := "sqlite://" + filepath.Join(dir, "s3-catalog.db")
	openS3 := func(ctx context.Context, localDir string) (*lake.Lake, error) {
		return lake.Open(ctx, lake.Options{CatalogURI: s3Catalog, Warehouse: "s3://tpch/warehouse", LocalDir: localDir, Storage: storage})
	}

	ctx := benchContext()
	local, err := openLake(ctx, filepath.Join(dir, "local"))
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := openS3(ctx, filepath.Join(dir, "s3-warm"))
	if err != nil {
		return err
	}
	defer remote.Close()
	var loads [][]string
	for _, side := range []struct {
		name string
		l    *lake.Lake
	}{{"local", local}, {"S3", remote}} {
		if err := side.l.CreateNamespace(ctx, tpchNamespace, nil, false); err != nil {
			return err
		}
		var rows int64
		start := time.Now()
		for _, t := range tpchTables {
			res, err := ingest.Load(ctx, side.l, ingest.Options{Table: lake.Ident{Namespace: tpchNamespace, Name: t.name},
				Files: []string{tpchParquet(genDir, t.name)}, TempDir: filepath.Join(dir, "tmp")})
			if err != nil {
				return fmt.Errorf("load %s into the %s lake: %w", t.name, side.name, err)
			}
			rows += res.Rows
		}
		d := time.Since(start)
		loads = append(loads, []string{side.name, fmt.Sprint(rows), secs(d), fmt.Sprintf("%.0f", float64(rows)/d.Seconds())})
	}
	fmt.Fprintln(out, "\nload of the generated Parquet (ingest.Load; on S3 the files are uploaded before the commit):")
	table(out, []string{"warehouse", "rows", "s", "rows/s"}, loads)

	localEng, err := query.New(ctx, local, query.Options{TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		return err
	}
	defer localEng.Close()
	warmEng, err := query.New(ctx, remote, query.Options{TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		return err
	}
	defer warmEng.Close()

	var want map[int][][]string
	if *sf == 1 {
		path, err := answerFile()
		if err != nil {
			return err
		}
		if want, err = readAnswers(path); err != nil {
			return err
		}
	}
	// An untimed run of each query on each long-lived engine checks the
	// answers and fills the warm cache.
	problems := 0
	for q := 1; q <= 22; q++ {
		text := qualify(texts[q], tpchNamespace)
		ref, err := runEdp(ctx, localEng, text)
		if err != nil {
			return fmt.Errorf("local q%02d: %w", q, err)
		}
		got, err := runEdp(ctx, warmEng, text)
		if err != nil {
			return fmt.Errorf("S3 q%02d: %w", q, err)
		}
		if d := compareRows(ref, got); d != "" {
			fmt.Fprintf(out, "q%02d on S3 differs from local: %s\n", q, d)
			problems++
		}
		if want != nil {
			if d := compareRows(want[q], ref); d != "" {
				fmt.Fprintf(out, "q%02d differs from go-tpc's answer: %s\n", q, d)
				problems++
			}
		}
	}

	cold := func(q, rep int) (time.Duration, error) {
		cacheDir := filepath.Join(dir, fmt.Sprintf("s3-cold-%d-%d", q, rep))
		defer os.RemoveAll(cacheDir)
		l, err := openS3(ctx, cacheDir)
		if err != nil {
			return 0, err
		}
		defer l.Close()
		e, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "tmp")})
		if err != nil {
			return 0, err
		}
		defer e.Close()
		start := time.Now()
		_, err = runEdp(ctx, e, qualify(texts[q], tpchNamespace))
		return time.Since(start), err
	}
	timed := func(e *query.Engine, q int) (time.Duration, error) {
		start := time.Now()
		_, err := runEdp(ctx, e, qualify(texts[q], tpchNamespace))
		return time.Since(start), err
	}
	times := [3][23][]time.Duration{} // local, warm, cold
	for rep := 0; rep < *reps; rep++ {
		for q := 1; q <= 22; q++ {
			for i, run := range []func() (time.Duration, error){
				func() (time.Duration, error) { return timed(localEng, q) },
				func() (time.Duration, error) { return timed(warmEng, q) },
				func() (time.Duration, error) { return cold(q, rep) },
			} {
				d, err := run()
				if err != nil {
					return fmt.Errorf("q%02d: %w", q, err)
				}
				times[i][q] = append(times[i][q], d)
			}
		}
		fmt.Fprintf(os.Stderr, "  timed run %d of %d done\n", rep+1, *reps)
	}
	var rows [][]string
	var totals [3]time.Duration
	for q := 1; q <= 22; q++ {
		var m [3]time.Duration
		for i := range m {
			m[i] = median(times[i][q])
			totals[i] += m[i]
		}
		rows = append(rows, []string{fmt.Sprintf("q%02d", q), ms(m[0]), ms(m[1]), ms(m[2]),
			fmt.Sprintf("%.2fx", float64(m[1])/float64(m[0])), fmt.Sprintf("%.2fx", float64(m[2])/float64(m[0]))})
	}
	rows = append(rows, []string{"total", ms(totals[0]), ms(totals[1]), ms(totals[2]),
		fmt.Sprintf("%.2fx", float64(totals[1])/float64(totals[0])), fmt.Sprintf("%.2fx", float64(totals[2])/float64(totals[0]))})
	fmt.Fprintln(out)
	table(out, []string{"query", "local ms", "S3 warm ms", "S3 cold ms", "warm/local", "cold/local"}, rows)
	fmt.Fprintf(out, "\nmedians of %d runs; cold = a fresh file cache for the run, so each file the query reads is downloaded first\n", *reps)
	if want != nil {
		fmt.Fprintf(out, "answers: local = go-tpc and S3 = local on all 22: %s\n", yesNo(problems == 0))
	} else {
		fmt.Fprintf(out, "answers: S3 = local on all 22: %s\n", yesNo(problems == 0))
	}
	fmt.Fprintf(out, "load average after: %s\n", loadAverage())
	return nil
}

// startFakeS3 serves gofakes3 (objects in memory) with one bucket on a
// loopback port, with the static keys bench / bench-secret.
func startFakeS3(bucket string) (endpoint string, stop func(), err error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(),
		ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
