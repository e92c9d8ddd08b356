package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestQualify(t *testing.T) {
	cases := map[string]string{
		"select * from lineitem":                               "select * from tpch.lineitem",
		"select n2.n_name as nation from nation n1, nation n2": "select n2.n_name as nation from tpch.nation n1, tpch.nation n2",
		"select nation, o_year from (select extract(year from o_orderdate) as o_year, n_name as nation from part, orders) as p group by nation, o_year": "select nation, o_year from (select extract(year from o_orderdate) as o_year, n_name as nation from tpch.part, tpch.orders) as p group by nation, o_year",
		"select c_custkey from customer left outer join orders on c_custkey = o_custkey and o_comment not like '%from orders%'":                         "select c_custkey from tpch.customer left outer join tpch.orders on c_custkey = o_custkey and o_comment not like '%from orders%'",
		"with r (a, b) as (select 1 from lineitem) select a from supplier, r where a = (select max(b) from r)":                                          "with r (a, b) as (select 1 from tpch.lineitem) select a from tpch.supplier, r where a = (select max(b) from r)",
		"select substring(c_phone from 1 for 2) from customer where c_acctbal > (select avg(c_acctbal) from customer)":                                  "select substring(c_phone from 1 for 2) from tpch.customer where c_acctbal > (select avg(c_acctbal) from tpch.customer)",
	}
	for in, want := range cases {
		if got := qualify(in, "tpch"); got != want {
			t.Errorf("qualify(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestQualifyQueries checks the shared TPC-H queries, when present: every
// FROM item that names a TPC-H table is qualified, and nothing else is.
func TestQualifyQueries(t *testing.T) {
	dir := "../../../shared/bench/tpch" // from cmd/edpbench, beside the repository
	if _, err := os.Stat(filepath.Join(dir, "q01.sql")); err != nil {
		t.Skip("no TPC-H queries here")
	}
	texts, err := readQueries(dir)
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`(?i)(\bfrom|\bjoin|,)\s+(` + strings.Join(tpchTableNames(), "|") + `)\b`)
	for q, text := range texts {
		got := qualify(text, "tpch")
		if m := bare.FindString(got); m != "" {
			t.Errorf("q%02d: %q left unqualified", q, m)
		}
		if strings.Count(got, "tpch.") != len(bare.FindAllString(text, -1)) {
			t.Errorf("q%02d: qualified %d names, the FROM/JOIN/comma pattern finds %d:\n%s", q, strings.Count(got, "tpch."), len(bare.FindAllString(text, -1)), got)
		}
	}
}

func TestSameCell(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"37734107.00", "37734107", true},
		{"0.049985", "0.04998563", true},
		{"1478493", "1478494", false}, // counts and keys exactly
		{"56586554400.73", "56586554400.7300", true},
		{"25.50", "25.52", true}, // within 0.01 relative
		{"0.05", "0.07", false},
		{"Supplier#000005391", "Supplier#000005391", true},
		{"CHINA", "CHINA ", false},
		{"1995-03-15", "1995-03-15", true},
	} {
		if got := sameCell(c.want, c.got); got != c.ok {
			t.Errorf("sameCell(%q, %q) = %v", c.want, c.got, got)
		}
	}
}
