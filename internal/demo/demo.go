package demo

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Scale sets how much data Generate writes. Customers, Orders and Events
// count distinct entities; the files hold a few more rows because of the
// duplicates a real source delivers.
type Scale struct {
	Customers int
	Products  int
	Orders    int // each has 1–6 line items, about 2.6 on average
	Events    int
}

// DefaultScale is the size edp demo uses: big enough for the gold tables to
// look like a business, small enough to generate and load in seconds.
func DefaultScale() Scale {
	return Scale{Customers: 2_000, Products: 300, Orders: 20_000, Events: 100_000}
}

// File is one raw file written by Generate, ready to be loaded into Table.
type File struct {
	Table  string // e.g. "bronze.customers"
	Path   string
	Format string // "csv" or "ndjson"
	Rows   int    // data rows, header excluded, duplicates included
}

// Generate writes the bronze files into dir (created if missing) and returns
// them in load order. The output depends only on sc and seed: the same
// arguments produce byte-identical files on every run and machine.
func Generate(dir string, sc Scale, seed uint64) ([]File, error) {
	if sc.Customers < 1 || sc.Products < 1 || sc.Orders < 0 || sc.Events < 0 {
		return nil, fmt.Errorf("demo: invalid scale %+v: need at least one customer and one product", sc)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	cal := newCalendar(newRand(seed, streamCalendar))
	cr := newRand(seed, streamCustomers)
	custs := genCustomers(cr, sc.Customers)
	revs := reviseCustomers(cr, custs)
	custWeights := make([]int, len(custs))
	for i, c := range custs {
		custWeights[i] = c.weight
	}
	custCum := cumulative(custWeights)
	prods, prodCum := genProducts(newRand(seed, streamProducts), sc.Products)
	orders := genOrders(newRand(seed, streamOrders), sc.Orders, cal, custs, custCum, prods, prodCum)
	events := genEvents(newRand(seed, streamEvents), sc.Events, cal, custs, custCum, prods, prodCum, orders)

	dirt := newRand(seed, streamDirt)
	outputs := []struct {
		table, file, format string
		write               func(*bufio.Writer) (int, error)
	}{
		{"bronze.customers", "customers.csv", "csv", func(w *bufio.Writer) (int, error) { return writeCustomers(w, dirt, custs, revs) }},
		{"bronze.products", "products.csv", "csv", func(w *bufio.Writer) (int, error) { return writeProducts(w, dirt, prods) }},
		{"bronze.orders", "orders.ndjson", "ndjson", func(w *bufio.Writer) (int, error) { return writeOrders(w, dirt, orders, custs) }},
		{"bronze.order_items", "order_items.csv", "csv", func(w *bufio.Writer) (int, error) { return writeOrderItems(w, orders, prods) }},
		{"bronze.events", "events.ndjson", "ndjson", func(w *bufio.Writer) (int, error) { return writeEvents(w, dirt, events) }},
	}
	files := make([]File, 0, len(outputs))
	for _, o := range outputs {
		path := filepath.Join(dir, o.file)
		rows, err := writeFile(path, o.write)
		if err != nil {
			return nil, fmt.Errorf("demo: writing %s: %w", path, err)
		}
		files = append(files, File{Table: o.table, Path: path, Format: o.format, Rows: rows})
	}
	return files, nil
}

func writeFile(path string, fill func(*bufio.Writer) (int, error)) (rows int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	rows, err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	return rows, errors.Join(err, f.Close())
}

// revision is an earlier state of a customer that the source system still
// exports next to the current one; silver must keep only the newest.
type revision struct {
	idx      int
	old      customer
	oldFirst bool // whether the stale row sits in the customer's usual position
}

// reviseCustomers gives about 1% of customers a later update (new email,
// sometimes a new phone) and returns their previous states.
func reviseCustomers(r *rand.Rand, custs []customer) []revision {
	n := len(custs) / 100
	revs := make([]revision, 0, n)
	for _, i := range r.Perm(len(custs))[:n] {
		c := &custs[i]
		old := *c
		c.updated = old.updated + 1 + r.Int64N(windowEnd-1-old.updated)
		for c.email == old.email {
			c.email = makeEmail(r, c.first, c.last)
		}
		if percent(r, 40) {
			c.phone = makePhone(r, c.addr.dial)
		}
		revs = append(revs, revision{idx: i, old: old, oldFirst: percent(r, 50)})
	}
	return revs
}

func formatTS(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.DateTime) }

func dirtyEmail(r *rand.Rand, email string) string {
	switch x := r.IntN(100); {
	case x < 3:
		email = strings.ToUpper(email)
	case x < 8: // "Jane.Doe@Example.com", as typed into a form
		local, domain, _ := strings.Cut(email, "@")
		parts := strings.Split(local, ".")
		for i, p := range parts {
			if p != "" {
				parts[i] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
		email = strings.Join(parts, ".") + "@" + strings.ToUpper(domain[:1]) + domain[1:]
	}
	switch x := r.IntN(100); {
	case x < 2:
		email = " " + email
	case x < 4:
		email += " "
	}
	return email
}

var (
	trueTokens  = []string{"true", "yes", "1", "TRUE", "Yes"}
	falseTokens = []string{"false", "no", "0", "FALSE", "No"}
)

func optInToken(r *rand.Rand, v bool) string {
	if v {
		return oneOf(r, trueTokens)
	}
	return oneOf(r, falseTokens)
}

func writeCustomers(w *bufio.Writer, r *rand.Rand, custs []customer, revs []revision) (int, error) {
	row := func(c customer) []string {
		return []string{
			strconv.Itoa(c.id), c.first, c.last, dirtyEmail(r, c.email), c.phone,
			c.addr.street, c.addr.city, c.addr.region, c.addr.country,
			formatTS(c.signup), c.birth, optInToken(r, c.optIn), formatTS(c.updated),
		}
	}
	stale := make([]*revision, len(custs))
	for i := range revs {
		stale[revs[i].idx] = &revs[i]
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"customer_id", "first_name", "last_name", "email", "phone", "street", "city",
		"region", "country", "signup_ts", "birth_date", "marketing_opt_in", "updated_at"}); err != nil {
		return 0, err
	}
	rows := 0
	for i, c := range custs {
		if rev := stale[i]; rev != nil && rev.oldFirst {
			c = rev.old
		}
		if err := cw.Write(row(c)); err != nil {
			return rows, err
		}
		rows++
	}
	// The other version of each revised customer arrives at the end, as
	// from an incremental export appended to a full one.
	for _, rev := range revs {
		c := custs[rev.idx]
		if !rev.oldFirst {
			c = rev.old
		}
		if err := cw.Write(row(c)); err != nil {
			return rows, err
		}
		rows++
	}
	cw.Flush()
	return rows, cw.Error()
}

func money(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// dollars renders a price the way a spreadsheet export does: "$1,299.00".
func dollars(cents int64) string {
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	b.WriteByte('$')
	for i, ch := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	fmt.Fprintf(&b, ".%02d", cents%100)
	return b.String()
}

func writeProducts(w *bufio.Writer, r *rand.Rand, prods []product) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"product_id", "sku", "name", "category", "brand", "unit_price", "active"}); err != nil {
		return 0, err
	}
	for _, p := range prods {
		price := money(int64(p.cents))
		if percent(r, 4) {
			price = dollars(int64(p.cents))
		}
		if err := cw.Write([]string{strconv.Itoa(p.id), p.sku, p.name, p.category, p.brand, price, strconv.FormatBool(p.active)}); err != nil {
			return 0, err
		}
	}
	cw.Flush()
	return len(prods), cw.Error()
}

// dupLines writes NDJSON and, like an at-least-once pipeline, now and then
// delivers a line a second time a few lines later.
type dupLines struct {
	w       *bufio.Writer
	r       *rand.Rand
	per10k  int
	rows    int
	pending []pendingLine
}

type pendingLine struct {
	due  int
	line []byte
}

func (d *dupLines) emit(line []byte) error {
	_, err := d.w.Write(line)
	d.rows++
	return err
}

func (d *dupLines) write(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	line := buf.Bytes()
	if err := d.emit(line); err != nil {
		return err
	}
	if d.r.IntN(10_000) < d.per10k {
		d.pending = append(d.pending, pendingLine{due: d.rows + d.r.IntN(8), line: line})
	}
	var later []pendingLine
	for _, p := range d.pending {
		if p.due > d.rows {
			later = append(later, p)
		} else if err := d.emit(p.line); err != nil {
			return err
		}
	}
	d.pending = later
	return nil
}

func (d *dupLines) close() (int, error) {
	for _, p := range d.pending {
		if err := d.emit(p.line); err != nil {
			return d.rows, err
		}
	}
	d.pending = nil
	return d.rows, nil
}

type shippingJSON struct {
	City     string `json:"city"`
	Country  string `json:"country"`
	Postcode string `json:"postcode"`
}

type orderJSON struct {
	OrderID        int          `json:"order_id"`
	CustomerID     int          `json:"customer_id"`
	OrderTS        string       `json:"order_ts"`
	Status         string       `json:"status"`
	Currency       string       `json:"currency"`
	ShippingRegion string       `json:"shipping_region"`
	PaymentMethod  string       `json:"payment_method"`
	Shipping       shippingJSON `json:"shipping"`
}

func writeOrders(w *bufio.Writer, r *rand.Rand, orders []order, custs []customer) (int, error) {
	d := &dupLines{w: w, r: r, per10k: 40}
	for _, o := range orders {
		status := o.status
		switch x := r.IntN(100); {
		case x < 2:
			status = strings.ToUpper(status[:1]) + status[1:]
		case x < 3:
			status = strings.ToUpper(status)
		}
		err := d.write(orderJSON{
			OrderID:        o.id,
			CustomerID:     custs[o.customer].id,
			OrderTS:        time.Unix(o.ts, 0).UTC().Format("2006-01-02T15:04:05Z"),
			Status:         status,
			Currency:       "USD",
			ShippingRegion: o.ship.region,
			PaymentMethod:  o.payment,
			Shipping:       shippingJSON{City: o.ship.city, Country: o.ship.country, Postcode: o.ship.postcode},
		})
		if err != nil {
			return d.rows, err
		}
	}
	return d.close()
}

func writeOrderItems(w *bufio.Writer, orders []order, prods []product) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"order_id", "line_no", "product_id", "quantity", "unit_price", "discount_pct"}); err != nil {
		return 0, err
	}
	rows := 0
	for _, o := range orders {
		for i, li := range o.items {
			err := cw.Write([]string{strconv.Itoa(o.id), strconv.Itoa(i + 1), strconv.Itoa(prods[li.product].id),
				strconv.Itoa(li.quantity), money(int64(li.cents)), strconv.Itoa(li.discount)})
			if err != nil {
				return rows, err
			}
			rows++
		}
	}
	cw.Flush()
	return rows, cw.Error()
}

type eventJSON struct {
	EventID    string     `json:"event_id"`
	SessionID  string     `json:"session_id"`
	CustomerID *int       `json:"customer_id"`
	EventType  string     `json:"event_type"`
	URL        string     `json:"url"`
	ProductID  *int       `json:"product_id"`
	EventTS    string     `json:"event_ts"`
	UserAgent  string     `json:"user_agent"`
	IPAddress  string     `json:"ip_address"`
	Properties eventProps `json:"properties"`
}

func writeEvents(w *bufio.Writer, r *rand.Rand, events []event) (int, error) {
	d := &dupLines{w: w, r: r, per10k: 30}
	nullable := func(id int) *int {
		if id == 0 {
			return nil
		}
		return &id
	}
	for _, e := range events {
		err := d.write(eventJSON{
			EventID:    e.id,
			SessionID:  e.session.id,
			CustomerID: nullable(e.session.customer),
			EventType:  e.kind,
			URL:        e.url,
			ProductID:  nullable(e.product),
			EventTS:    time.UnixMilli(e.ms).UTC().Format("2006-01-02T15:04:05.000Z"),
			UserAgent:  e.session.userAgent,
			IPAddress:  e.session.ip,
			Properties: e.props,
		})
		if err != nil {
			return d.rows, err
		}
	}
	return d.close()
}
