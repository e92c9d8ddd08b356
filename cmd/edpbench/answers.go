package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
)

const goTPC = "github.com/pingcap/go-tpc"

// answerFile finds go-tpc's tpch/answer.go (its SF1 answers, which the
// package keeps unexported) in the module cache.
func answerFile() (string, error) {
	version := "v1.0.7"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == goTPC {
				version = d.Version
			}
		}
	}
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		caches = append(caches, strings.TrimSpace(string(out)))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		p := filepath.Join(c, goTPC+"@"+version, "tpch", "answer.go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("go-tpc %s tpch/answer.go not found in the module cache (%s); pass -answers", version, strings.Join(caches, ", "))
}

var answerVar = regexp.MustCompile(`^q(\d+)a$`)

// readAnswers parses answer.go's `var qNa = [][]string{…}` literals into
// answers by query number.
func readAnswers(path string) (map[int][][]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	out := map[int][][]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				m := answerVar.FindStringSubmatch(name.Name)
				if m == nil || i >= len(vs.Values) {
					continue
				}
				n, _ := strconv.Atoi(m[1])
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					return nil, fmt.Errorf("%s: %s is not a literal", path, name.Name)
				}
				rows := [][]string{}
				for _, r := range lit.Elts {
					rl, ok := r.(*ast.CompositeLit)
					if !ok {
						return nil, fmt.Errorf("%s: %s: a row is not a literal", path, name.Name)
					}
					var row []string
					for _, c := range rl.Elts {
						bl, ok := c.(*ast.BasicLit)
						if !ok || bl.Kind != token.STRING {
							return nil, fmt.Errorf("%s: %s: a cell is not a string", path, name.Name)
						}
						s, err := strconv.Unquote(bl.Value)
						if err != nil {
							return nil, err
						}
						row = append(row, s)
					}
					rows = append(rows, row)
				}
				out[n] = rows
			}
		}
	}
	if len(out) != 22 {
		return nil, fmt.Errorf("%s: found answers to %d queries, want 22", path, len(out))
	}
	return out, nil
}

// sameCell compares one result cell with the expected one: whole numbers
// (keys, counts) exactly, other numbers within 0.01 (absolute or relative),
// anything else exactly.
func sameCell(want, got string) bool {
	if want == got {
		return true
	}
	if _, err := strconv.ParseInt(want, 10, 64); err == nil {
		return false
	}
	w, err1 := strconv.ParseFloat(want, 64)
	g, err2 := strconv.ParseFloat(got, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	d := math.Abs(w - g)
	return d <= 0.01 || d <= 0.01*math.Abs(w)
}

// compareRows returns "" when got matches want row for row, or what
// differs first.
func compareRows(want, got [][]string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if len(want[i]) != len(got[i]) {
			return fmt.Sprintf("row %d has %d columns, want %d", i+1, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if !sameCell(want[i][j], got[i][j]) {
				return fmt.Sprintf("row %d column %d is %q, want %q", i+1, j+1, got[i][j], want[i][j])
			}
		}
	}
	return ""
}
