package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/edp-data/edp/internal/ingest"
	"github.com/edp-data/edp/internal/lake"
	"github.com/edp-data/edp/internal/query"
)

const tpchNamespace = "tpch"

func runTPCH(args []string) error {
	fs := newFlags("tpch")
	sf := fs.Int64("sf", 1, "TPC-H scale factor (whole numbers; answers are checked at 1)")
	reps := fs.Int("reps", 3, "timed runs of each query per side (interleaved); the median is reported")
	queries := fs.String("queries", "../shared/bench/tpch", "directory holding q01.sql … q22.sql (the default is relative to the repository root, where go run runs)")
	answers := fs.String("answers", "", "go-tpc's tpch/answer.go (default: found in the module cache)")
	parent := fs.String("dir", "", "directory for the lake (default: the system temp dir)")
	data := fs.String("data", "", "directory for the generated Parquet files, reused when present (default: inside -dir)")
	keep := fs.Bool("keep", false, "keep the lake and generated files")
	splitSize := fs.Int64("split-size", 0, "if > 0, set the tables' read.split.target-size property to this many bytes after loading (default: leave edp's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sf < 1 || *reps < 1 {
		return fmt.Errorf("-sf and -reps must be at least 1")
	}
	dir, cleanup, err := workDir(*parent, "edpbench-tpch-", *keep)
	if err != nil {
		return err
	}
	defer cleanup()
	out := os.Stdout
	fmt.Fprintf(out, "edpbench tpch: scale factor %d, %d timed run(s) per query per side, in %s\n", *sf, *reps, dir)
	if *splitSize > 0 {
		fmt.Fprintf(out, "tables get read.split.target-size = %d\n", *splitSize)
	}
	printFacts(out)

	texts, err := readQueries(*queries)
	if err != nil {
		return err
	}
	var want map[int][][]string
	if *sf == 1 {
		path := *answers
		if path == "" {
			if path, err = answerFile(); err != nil {
				return err
			}
		}
		if want, err = readAnswers(path); err != nil {
			return err
		}
		fmt.Fprintf(out, "answers: %s\n", path)
	} else {
		fmt.Fprintln(out, "answers: go-tpc has answers for scale factor 1 only; checking edp against the peer alone")
	}

	// Generate (not timed).
	genDir, err := generateTPCH(out, *data, dir, *sf)
	if err != nil {
		return err
	}

	// Load into edp (reported, not part of the comparison).
	ctx := benchContext()
	l, err := openLake(ctx, filepath.Join(dir, "lake"))
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.CreateNamespace(ctx, tpchNamespace, nil, false); err != nil {
		return err
	}
	var loadRows [][]string
	var loadTotal time.Duration
	var totalRows int64
	for _, t := range tpchTables {
		start := time.Now()
		res, err := ingest.Load(ctx, l, ingest.Options{Table: lake.Ident{Namespace: tpchNamespace, Name: t.name},
			Files: []string{tpchParquet(genDir, t.name)}, TempDir: filepath.Join(dir, "lake", "tmp")})
		if err != nil {
			return fmt.Errorf("load %s: %w", t.name, err)
		}
		d := time.Since(start)
		if *splitSize > 0 {
			if err := l.SetProperties(ctx, lake.Ident{Namespace: tpchNamespace, Name: t.name},
				map[string]string{"read.split.target-size": fmt.Sprint(*splitSize)}, nil); err != nil {
				return err
			}
		}
		loadTotal += d
		totalRows += res.Rows
		loadRows = append(loadRows, []string{tpchNamespace + "." + t.name, fmt.Sprint(res.Rows), secs(d), fmt.Sprintf("%.0f", float64(res.Rows)/d.Seconds())})
	}
	loadRows = append(loadRows, []string{"total", fmt.Sprint(totalRows), secs(loadTotal), fmt.Sprintf("%.0f", float64(totalRows)/loadTotal.Seconds())})
	fmt.Fprintln(out, "\nedp load (ingest.Load of the generated Parquet):")
	table(out, []string{"table", "rows", "s", "rows/s"}, loadRows)

	e, err := query.New(ctx, l, query.Options{TempDir: filepath.Join(dir, "lake", "tmp")})
	if err != nil {
		return err
	}
	defer e.Close()
	peerDB, nFiles, err := openPeer(ctx, l, filepath.Join(dir, "peer-tmp"))
	if err != nil {
		return err
	}
	defer peerDB.Close()
	peer, err := peerDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer peer.Close()
	fmt.Fprintf(out, "\npeer: plain DuckDB (in memory, default settings) with views over the %d Parquet data files of edp's current snapshots\n", nFiles)

	// Each run reports wall time and this process's CPU time (all threads),
	// which other work on the machine disturbs less.
	type timing struct{ wall, cpu time.Duration }
	measure := func(run func() ([][]string, error)) (timing, [][]string, error) {
		c0, start := selfCPU(), time.Now()
		rows, err := run()
		return timing{time.Since(start), selfCPU() - c0}, rows, err
	}
	edpRun := func(q int) (timing, [][]string, error) {
		return measure(func() ([][]string, error) { return runEdp(ctx, e, qualify(texts[q], tpchNamespace)) })
	}
	peerRun := func(q int) (timing, [][]string, error) {
		return measure(func() ([][]string, error) { return runPeer(ctx, peer, texts[q]) })
	}

	// One untimed run of each side warms caches and checks the answers.
	type check struct{ answer, peer string }
	checks := make([]check, 23)
	for q := 1; q <= 22; q++ {
		_, got, err := edpRun(q)
		if err != nil {
			return fmt.Errorf("edp q%02d: %w", q, err)
		}
		_, ref, err := peerRun(q)
		if err != nil {
			return fmt.Errorf("peer q%02d: %w", q, err)
		}
		if want != nil {
			checks[q].answer = compareRows(want[q], got)
			if d := compareRows(want[q], ref); d != "" {
				fmt.Fprintf(out, "note: the peer's q%02d differs from go-tpc's answer: %s\n", q, d)
			}
		}
		checks[q].peer = compareRows(ref, got)
	}

	edpTimes := make([][]timing, 23)
	peerTimes := make([][]timing, 23)
	for rep := 0; rep < *reps; rep++ {
		for q := 1; q <= 22; q++ {
			for k := 0; k < 2; k++ {
				// Alternate which side goes first.
				if (k == 0) == (rep%2 == 0) {
					t, _, err := edpRun(q)
					if err != nil {
						return fmt.Errorf("edp q%02d: %w", q, err)
					}
					edpTimes[q] = append(edpTimes[q], t)
				} else {
					t, _, err := peerRun(q)
					if err != nil {
						return fmt.Errorf("peer q%02d: %w", q, err)
					}
					peerTimes[q] = append(peerTimes[q], t)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "  timed run %d of %d done\n", rep+1, *reps)
	}
	medians := func(ts []timing) (wall, cpu time.Duration) {
		var w, c []time.Duration
		for _, t := range ts {
			w = append(w, t.wall)
			c = append(c, t.cpu)
		}
		return median(w), median(c)
	}

	var rows [][]string
	var edpTotal, peerTotal, edpCPUTotal, peerCPUTotal time.Duration
	allCorrect, allFast := true, true
	var problems []string
	for q := 1; q <= 22; q++ {
		em, ec := medians(edpTimes[q])
		pm, pc := medians(peerTimes[q])
		edpTotal += em
		peerTotal += pm
		edpCPUTotal += ec
		peerCPUTotal += pc
		correct := checks[q].answer == "" && checks[q].peer == ""
		allCorrect = allCorrect && correct
		fast := em < time.Second
		allFast = allFast && fast
		answer := "n/a"
		if want != nil {
			answer = yesNo(checks[q].answer == "")
		}
		rows = append(rows, []string{fmt.Sprintf("q%02d", q), ms(em), ms(pm), fmt.Sprintf("%.2fx", float64(em)/float64(pm)),
			ms(ec), ms(pc), fmt.Sprintf("%.2fx", float64(ec)/float64(pc)), yesNo(fast), answer, yesNo(checks[q].peer == "")})
		if checks[q].answer != "" {
			problems = append(problems, fmt.Sprintf("q%02d vs go-tpc answer: %s", q, checks[q].answer))
		}
		if checks[q].peer != "" {
			problems = append(problems, fmt.Sprintf("q%02d vs peer: %s", q, checks[q].peer))
		}
	}
	ratio := float64(edpTotal) / float64(peerTotal)
	rows = append(rows, []string{"total", ms(edpTotal), ms(peerTotal), fmt.Sprintf("%.2fx", ratio),
		ms(edpCPUTotal), ms(peerCPUTotal), fmt.Sprintf("%.2fx", float64(edpCPUTotal)/float64(peerCPUTotal)), "", "", ""})
	fmt.Fprintln(out)
	table(out, []string{"query", "edp ms", "DuckDB ms", "edp/DuckDB", "edp CPU ms", "DuckDB CPU ms", "CPU edp/DuckDB", "< 1 s", "answer ok", "= DuckDB"}, rows)
	fmt.Fprintf(out, "\nmedians of %d interleaved runs per side; wall time, then CPU time of this process (all threads)\n", *reps)
	for _, p := range problems {
		fmt.Fprintln(out, "  "+p)
	}
	fmt.Fprintln(out, "\ngoals:")
	if want != nil {
		fmt.Fprintf(out, "  all 22 answers correct: %s\n", verdict(allCorrect))
	} else {
		fmt.Fprintf(out, "  all 22 answers correct: not checkable at SF%d (edp = DuckDB on all: %s)\n", *sf, yesNo(allCorrect))
	}
	fmt.Fprintf(out, "  total <= 1.15x DuckDB: %.2fx %s\n", ratio, verdict(ratio <= 1.15))
	fmt.Fprintf(out, "  every query < 1 s: %s\n", verdict(allFast))
	fmt.Fprintf(out, "load average after: %s\n", loadAverage())
	return nil
}

// generateTPCH makes (or reuses, when data already holds them) the
// Parquet files of scale factor sf with go-tpc's dbgen in a child process,
// in data or else dir/gen, and returns their directory.
func generateTPCH(out io.Writer, data, dir string, sf int64) (string, error) {
	genDir := data
	if genDir == "" {
		genDir = filepath.Join(dir, "gen")
	}
	if err := os.MkdirAll(genDir, 0o755); err != nil {
		return "", err
	}
	genDir, err := filepath.Abs(genDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(tpchParquet(genDir, "lineitem")); err == nil {
		fmt.Fprintf(out, "reusing generated files in %s (make sure they are SF%d)\n", genDir, sf)
		return genDir, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	start := time.Now()
	gen := exec.Command(exe, childFlag, "tpchgen", "-dir", genDir, "-sf", fmt.Sprint(sf))
	gen.Dir = genDir
	gen.Stdout, gen.Stderr = os.Stderr, os.Stderr
	if err := gen.Run(); err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	fmt.Fprintf(out, "generated SF%d with go-tpc dbgen in %.0fs (not timed)\n", sf, time.Since(start).Seconds())
	return genDir, nil
}

// readQueries reads q01.sql … q22.sql.
func readQueries(dir string) (map[int]string, error) {
	out := map[int]string{}
	for q := 1; q <= 22; q++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("q%02d.sql", q)))
		if err != nil {
			return nil, err
		}
		out[q] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(b)), ";"))
	}
	return out, nil
}

// openPeer opens a plain in-memory DuckDB with a view per TPC-H table over
// the Parquet data files of the table's current edp snapshot. Only the
// spill directory is set, so nothing lands in the working directory.
func openPeer(ctx context.Context, l *lake.Lake, tmp string) (*sql.DB, int, error) {
	db, err := openDuck("")
	if err != nil {
		return nil, 0, err
	}
	n := 0
	stmts := []string{"SET temp_directory = " + quote(tmp)}
	for _, t := range tpchTables {
		tbl, err := l.LoadTable(ctx, lake.Ident{Namespace: tpchNamespace, Name: t.name})
		if err != nil {
			db.Close()
			return nil, 0, err
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			db.Close()
			return nil, 0, err
		}
		// PlanFiles splits a Parquet file larger than the table's
		// read.split.target-size into several byte-range tasks; the peer
		// reads each file once.
		var files []string
		seen := map[string]bool{}
		for _, task := range tasks {
			if len(task.DeleteFiles) > 0 {
				db.Close()
				return nil, 0, fmt.Errorf("%s has delete files; the peer reads data files only", t.name)
			}
			if p := lake.LocalPath(task.File.FilePath()); !seen[p] {
				seen[p] = true
				files = append(files, quote(p))
			}
		}
		if len(tasks) != len(files) {
			fmt.Fprintf(os.Stdout, "note: tpch.%s: PlanFiles returned %d scan tasks over %d data file(s) (read.split.target-size splits)\n", t.name, len(tasks), len(files))
		}
		n += len(files)
		stmts = append(stmts, "CREATE VIEW "+t.name+" AS SELECT * FROM read_parquet(["+strings.Join(files, ", ")+"])")
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, 0, err
		}
	}
	return db, n, nil
}

// runEdp runs a query through the engine and returns all rows as text.
func runEdp(ctx context.Context, e *query.Engine, text string) ([][]string, error) {
	res, err := e.Exec(ctx, text)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out [][]string
	for {
		row, err := res.Rows.Next()
		if err == io.EOF {
			return out, res.Close()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, formatRow(row))
	}
}

// runPeer runs a query on the peer and returns all rows as text.
func runPeer(ctx context.Context, conn *sql.Conn, text string) ([][]string, error) {
	rows, err := conn.QueryContext(ctx, text)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out [][]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, formatRow(vals))
	}
	return out, rows.Err()
}

func formatRow(row []any) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = formatCell(v)
	}
	return out
}

// formatCell renders a value as go-tpc's answers write it.
func formatCell(v any) string {
	switch v := v.(type) {
	case nil:
		return `\N`
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 && v.Nanosecond() == 0 {
			return v.Format("2006-01-02")
		}
		return v.Format("2006-01-02 15:04:05")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case duckdb.Decimal:
		return v.String()
	case *big.Int:
		return v.String()
	}
	return fmt.Sprint(v)
}

// tpchKeywordsEndingFrom end a FROM list.
var tpchKeywordsEndingFrom = map[string]bool{
	"where": true, "group": true, "order": true, "having": true, "limit": true, "qualify": true, "window": true,
	"union": true, "except": true, "intersect": true, "select": true, "on": false, "using": false,
}

// qualify prefixes ns. to the TPC-H table names that stand as FROM items:
// right after FROM, JOIN or a comma inside a FROM list. Column aliases that
// happen to be table names (q08 and q09 call a column "nation") and names
// inside string literals stay as they are.
func qualify(text, ns string) string {
	isTable := map[string]bool{}
	for _, n := range tpchTableNames() {
		isTable[n] = true
	}
	var b strings.Builder
	inFrom := []bool{false} // per parenthesis depth
	prev := ""              // previous significant token, lower-cased
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(text) {
				if text[j] == '\'' {
					if j+1 < len(text) && text[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(text))
			b.WriteString(text[i:j])
			prev, i = "'", j
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			b.WriteString(text[i : i+j])
			i += j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(text) && (text[j] == '_' || text[j] >= 'a' && text[j] <= 'z' || text[j] >= 'A' && text[j] <= 'Z' || text[j] >= '0' && text[j] <= '9') {
				j++
			}
			word := strings.ToLower(text[i:j])
			top := len(inFrom) - 1
			next := strings.TrimLeft(text[j:], " \t\r\n")
			if inFrom[top] && isTable[word] && (prev == "from" || prev == "join" || prev == ",") &&
				!strings.HasPrefix(next, ".") && !strings.HasPrefix(next, "(") {
				b.WriteString(ns + ".")
			}
			b.WriteString(text[i:j])
			switch {
			case word == "from":
				inFrom[top] = true
			case tpchKeywordsEndingFrom[word]:
				inFrom[top] = false
			}
			prev, i = word, j
		case c == '(':
			inFrom = append(inFrom, false)
			b.WriteByte(c)
			prev, i = "(", i+1
		case c == ')':
			if len(inFrom) > 1 {
				inFrom = inFrom[:len(inFrom)-1]
			}
			b.WriteByte(c)
			prev, i = ")", i+1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			prev, i = string(c), i+1
		}
	}
	return b.String()
}
