package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pingcap/go-tpc/tpch/dbgen"
)

// tpchTable is one TPC-H table: its columns with DuckDB types, in the order
// the generator's rows carry them.
type tpchTable struct {
	name string
	cols [][2]string
}

const money = "DECIMAL(15,2)"

var tpchTables = []tpchTable{
	{"nation", [][2]string{{"n_nationkey", "BIGINT"}, {"n_name", "VARCHAR"}, {"n_regionkey", "BIGINT"}, {"n_comment", "VARCHAR"}}},
	{"region", [][2]string{{"r_regionkey", "BIGINT"}, {"r_name", "VARCHAR"}, {"r_comment", "VARCHAR"}}},
	{"part", [][2]string{{"p_partkey", "BIGINT"}, {"p_name", "VARCHAR"}, {"p_mfgr", "VARCHAR"}, {"p_brand", "VARCHAR"}, {"p_type", "VARCHAR"},
		{"p_size", "BIGINT"}, {"p_container", "VARCHAR"}, {"p_retailprice", money}, {"p_comment", "VARCHAR"}}},
	{"supplier", [][2]string{{"s_suppkey", "BIGINT"}, {"s_name", "VARCHAR"}, {"s_address", "VARCHAR"}, {"s_nationkey", "BIGINT"},
		{"s_phone", "VARCHAR"}, {"s_acctbal", money}, {"s_comment", "VARCHAR"}}},
	{"partsupp", [][2]string{{"ps_partkey", "BIGINT"}, {"ps_suppkey", "BIGINT"}, {"ps_availqty", "BIGINT"}, {"ps_supplycost", money}, {"ps_comment", "VARCHAR"}}},
	{"customer", [][2]string{{"c_custkey", "BIGINT"}, {"c_name", "VARCHAR"}, {"c_address", "VARCHAR"}, {"c_nationkey", "BIGINT"},
		{"c_phone", "VARCHAR"}, {"c_acctbal", money}, {"c_mktsegment", "VARCHAR"}, {"c_comment", "VARCHAR"}}},
	{"orders", [][2]string{{"o_orderkey", "BIGINT"}, {"o_custkey", "BIGINT"}, {"o_orderstatus", "VARCHAR"}, {"o_totalprice", money},
		{"o_orderdate", "DATE"}, {"o_orderpriority", "VARCHAR"}, {"o_clerk", "VARCHAR"}, {"o_shippriority", "BIGINT"}, {"o_comment", "VARCHAR"}}},
	{"lineitem", [][2]string{{"l_orderkey", "BIGINT"}, {"l_partkey", "BIGINT"}, {"l_suppkey", "BIGINT"}, {"l_linenumber", "BIGINT"},
		{"l_quantity", money}, {"l_extendedprice", money}, {"l_discount", money}, {"l_tax", money}, {"l_returnflag", "VARCHAR"},
		{"l_linestatus", "VARCHAR"}, {"l_shipdate", "DATE"}, {"l_commitdate", "DATE"}, {"l_receiptdate", "DATE"},
		{"l_shipinstruct", "VARCHAR"}, {"l_shipmode", "VARCHAR"}, {"l_comment", "VARCHAR"}}},
}

func tpchTableNames() []string {
	names := make([]string, len(tpchTables))
	for i, t := range tpchTables {
		names[i] = t.name
	}
	return names
}

// tpchParquet is where the generator leaves table name's Parquet file.
func tpchParquet(dir, name string) string { return filepath.Join(dir, name+".parquet") }

// rowWriter writes '|'-separated rows; the generator's values never
// contain '|' or a quote.
type rowWriter struct {
	f *os.File
	w *bufio.Writer
}

func newRowWriter(path string) (*rowWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &rowWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (r *rowWriter) row(fields ...string) error {
	_, err := r.w.WriteString(strings.Join(fields, "|") + "\n")
	return err
}

func (r *rowWriter) Flush() error { return r.w.Flush() }

func (r *rowWriter) close() error {
	if err := r.w.Flush(); err != nil {
		r.f.Close()
		return err
	}
	return r.f.Close()
}

func itoa[T ~int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// Loaders for dbgen: one per table, each writing the columns of tpchTables
// from the generator's structs, as go-tpc's own SQL loaders do.
type (
	nationRows   struct{ *rowWriter }
	regionRows   struct{ *rowWriter }
	partRows     struct{ *rowWriter }
	partsuppRows struct{ *rowWriter }
	supplierRows struct{ *rowWriter }
	customerRows struct{ *rowWriter }
	ordersRows   struct{ *rowWriter }
	lineitemRows struct{ *rowWriter }
)

func (w nationRows) Load(item any) error {
	n := item.(*dbgen.Nation)
	return w.row(itoa(n.Code), n.Text, itoa(n.Join), n.Comment)
}

func (w regionRows) Load(item any) error {
	r := item.(*dbgen.Region)
	return w.row(itoa(r.Code), r.Text, r.Comment)
}

func (w partRows) Load(item any) error {
	p := item.(*dbgen.Part)
	return w.row(itoa(p.PartKey), p.Name, p.Mfgr, p.Brand, p.Type, itoa(p.Size), p.Container, dbgen.FmtMoney(p.RetailPrice), p.Comment)
}

func (w partsuppRows) Load(item any) error {
	p := item.(*dbgen.Part)
	for _, s := range p.S {
		if err := w.row(itoa(s.PartKey), itoa(s.SuppKey), itoa(s.Qty), dbgen.FmtMoney(s.SCost), s.Comment); err != nil {
			return err
		}
	}
	return nil
}

func (w supplierRows) Load(item any) error {
	s := item.(*dbgen.Supp)
	return w.row(itoa(s.SuppKey), s.Name, s.Address, itoa(s.NationCode), s.Phone, dbgen.FmtMoney(s.Acctbal), s.Comment)
}

func (w customerRows) Load(item any) error {
	c := item.(*dbgen.Cust)
	return w.row(itoa(c.CustKey), c.Name, c.Address, itoa(c.NationCode), c.Phone, dbgen.FmtMoney(c.Acctbal), c.MktSegment, c.Comment)
}

func (w ordersRows) Load(item any) error {
	o := item.(*dbgen.Order)
	return w.row(itoa(o.OKey), itoa(o.CustKey), string(o.Status), dbgen.FmtMoney(o.TotalPrice), o.Date, o.OrderPriority, o.Clerk,
		strconv.FormatInt(o.ShipPriority, 10), o.Comment)
}

func (w lineitemRows) Load(item any) error {
	o := item.(*dbgen.Order)
	for _, l := range o.Lines {
		if err := w.row(itoa(l.OKey), itoa(l.PartKey), itoa(l.SuppKey), itoa(l.LCnt), itoa(l.Quantity),
			dbgen.FmtMoney(l.EPrice), dbgen.FmtMoney(l.Discount), dbgen.FmtMoney(l.Tax), string(l.RFlag), string(l.LStatus),
			l.SDate, l.CDate, l.RDate, l.ShipInstruct, l.ShipMode, l.Comment); err != nil {
			return err
		}
	}
	return nil
}

// tpchGenChild generates the TPC-H tables at scale factor -sf with go-tpc's
// dbgen and converts each to a typed Parquet file in -dir. It runs in a
// child process because dbgen keeps a 300 MB text pool for the life of
// the process.
func tpchGenChild(args []string) error {
	fs := flag.NewFlagSet("tpch gen child", flag.ContinueOnError)
	dir := fs.String("dir", "", "output directory")
	sf := fs.Int64("sf", 1, "scale factor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	writers := map[string]*rowWriter{}
	for _, t := range tpchTables {
		w, err := newRowWriter(filepath.Join(*dir, t.name+".tbl"))
		if err != nil {
			return err
		}
		writers[t.name] = w
	}
	loaders := map[dbgen.Table]dbgen.Loader{
		dbgen.TNation: nationRows{writers["nation"]},
		dbgen.TRegion: regionRows{writers["region"]},
		dbgen.TPart:   partRows{writers["part"]},
		dbgen.TPsupp:  partsuppRows{writers["partsupp"]},
		dbgen.TSupp:   supplierRows{writers["supplier"]},
		dbgen.TCust:   customerRows{writers["customer"]},
		dbgen.TOrder:  ordersRows{writers["orders"]},
		dbgen.TLine:   lineitemRows{writers["lineitem"]},
	}
	// dbgen reports progress on standard output.
	stdout := os.Stdout
	os.Stdout = os.Stderr
	dbgen.InitDbGen(*sf)
	err := dbgen.DbGen(loaders, []dbgen.Table{dbgen.TNation, dbgen.TRegion, dbgen.TCust, dbgen.TSupp, dbgen.TPartPsupp, dbgen.TOrderLine})
	os.Stdout = stdout
	if err != nil {
		return err
	}
	for _, w := range writers {
		if err := w.close(); err != nil {
			return err
		}
	}

	db, err := openDuck("")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET temp_directory = " + quote(filepath.Join(*dir, "tmp"))); err != nil {
		return err
	}
	for _, t := range tpchTables {
		cols := make([]string, len(t.cols))
		for i, c := range t.cols {
			cols[i] = quote(c[0]) + ": " + quote(c[1])
		}
		tbl := filepath.Join(*dir, t.name+".tbl")
		q := fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, delim = '|', header = false, quote = '', escape = '', columns = {%s})) TO %s (FORMAT parquet, COMPRESSION zstd)",
			quote(tbl), strings.Join(cols, ", "), quote(tpchParquet(*dir, t.name)))
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		os.Remove(tbl)
	}
	return nil
}
