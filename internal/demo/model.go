package demo

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// All randomness flows through integer draws and integer weights: float
// arithmetic may be fused differently per architecture, which would break
// the "same seed, same bytes" promise across machines.

var (
	windowStart = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC).Unix() // 90 days ending 2026-06-30
	windowEnd   = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Unix() // exclusive
	signupStart = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC).Unix()
)

const (
	windowDays = 90
	day        = int64(86400)
	shopURL    = "https://shop.example.com"
)

// Each table draws from its own PCG stream, so growing one Scale field does
// not reshuffle the tables generated before it.
const (
	streamCalendar uint64 = iota + 1
	streamCustomers
	streamProducts
	streamOrders
	streamEvents
	streamDirt
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15))
}

func cumulative[T int | int64](weights []T) []int64 {
	cum := make([]int64, len(weights))
	var total int64
	for i, w := range weights {
		total += int64(w)
		cum[i] = total
	}
	return cum
}

// pickPrefix draws an index in [0, n) proportionally to the weights whose
// running totals are cum.
func pickPrefix(r *rand.Rand, cum []int64, n int) int {
	x := r.Int64N(cum[n-1])
	return sort.Search(n, func(i int) bool { return cum[i] > x })
}

func pick(r *rand.Rand, cum []int64) int { return pickPrefix(r, cum, len(cum)) }

func choose(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	panic("unreachable")
}

func percent(r *rand.Rand, p int) bool { return r.IntN(100) < p }

func oneOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// calendar spreads activity over the window: more on weekends and evenings,
// gentle growth, a sale weekend in June and some day-to-day noise.
type calendar struct {
	dayCum  []int64
	hourCum []int64
}

var (
	weekdayWeight = [7]int64{13, 11, 10, 10, 10, 11, 14} // indexed by time.Weekday
	hourWeight    = []int64{3, 2, 2, 1, 1, 2, 3, 5, 7, 8, 9, 10, 11, 11, 10, 10, 11, 12, 14, 15, 15, 13, 9, 6}
)

func newCalendar(r *rand.Rand) calendar {
	weights := make([]int64, windowDays)
	for d := range weights {
		t := time.Unix(windowStart+int64(d)*day, 0).UTC()
		w := weekdayWeight[t.Weekday()] * (1000 + 4*int64(d))
		if t.Month() == time.June && t.Day() >= 12 && t.Day() <= 14 {
			w = w * 9 / 5
		}
		weights[d] = w * (90 + r.Int64N(21)) / 100
	}
	return calendar{dayCum: cumulative(weights), hourCum: cumulative(hourWeight)}
}

// sample returns a Unix time (seconds) inside the window.
func (c calendar) sample(r *rand.Rand) int64 {
	d := pick(r, c.dayCum)
	h := pick(r, c.hourCum)
	return windowStart + int64(d)*day + int64(h)*3600 + r.Int64N(3600)
}

type address struct {
	street, city, country, region, postcode string
	dial                                    string
}

func randomAddress(r *rand.Rand) address {
	ri := choose(r, regionWeights())
	reg := regions[ri]
	cw := make([]int, len(reg.countries))
	for i, c := range reg.countries {
		cw[i] = c.weight
	}
	c := reg.countries[choose(r, cw)]
	street := fmt.Sprintf("%d %s %s", 1+r.IntN(2400), oneOf(r, streetNames), oneOf(r, streetSuffixes))
	switch x := r.IntN(100); {
	case x < 8:
		street += fmt.Sprintf(", Apt %d", 1+r.IntN(40))
	case x < 11:
		street += fmt.Sprintf(", Suite %d", 100+r.IntN(900))
	}
	return address{
		street:   street,
		city:     oneOf(r, c.cities),
		country:  c.name,
		region:   reg.name,
		postcode: postcode(r, c.postcode),
		dial:     c.dial,
	}
}

func regionWeights() []int {
	w := make([]int, len(regions))
	for i, reg := range regions {
		w[i] = reg.weight
	}
	return w
}

func postcode(r *rand.Rand, pattern string) string {
	var b strings.Builder
	for _, ch := range pattern {
		switch ch {
		case '9':
			b.WriteByte(byte('0' + r.IntN(10)))
		case 'A':
			b.WriteByte(byte('A' + r.IntN(26)))
		default:
			b.WriteRune(ch)
		}
	}
	return b.String()
}

type customer struct {
	id          int
	first, last string
	email       string // canonical: what silver should end up with
	phone       string // empty when the customer gave none
	addr        address
	signup      int64
	updated     int64
	birth       string // empty when unknown
	optIn       bool
	weight      int
}

func asciiLower(s string) string {
	var b strings.Builder
	for _, ch := range strings.ToLower(s) {
		if rep, ok := asciiFold[ch]; ok {
			b.WriteString(rep)
		} else if ch >= 'a' && ch <= 'z' {
			b.WriteRune(ch)
		}
	}
	return b.String()
}

func makeEmail(r *rand.Rand, first, last string) string {
	f, l := asciiLower(first), asciiLower(last)
	var local string
	switch r.IntN(6) {
	case 0:
		local = f + "." + l
	case 1:
		local = f + l
	case 2:
		local = f[:1] + "." + l
	case 3:
		local = f + "_" + l
	case 4:
		local = fmt.Sprintf("%s.%s%d", f, l, 1+r.IntN(99))
	default:
		local = fmt.Sprintf("%s%d", f, 1960+r.IntN(50))
	}
	return local + "@" + oneOf(r, emailDomains)
}

func makePhone(r *rand.Rand, dial string) string {
	a, b, c := 200+r.IntN(800), r.IntN(1000), r.IntN(10000)
	switch choose(r, []int{70, 20, 10}) {
	case 0:
		return fmt.Sprintf("+%s %03d %03d %04d", dial, a, b, c)
	case 1:
		return fmt.Sprintf("+%s-%03d-%03d-%04d", dial, a, b, c)
	default:
		return fmt.Sprintf("+%s (%03d) %03d-%04d", dial, a, b, c)
	}
}

func genCustomers(r *rand.Rand, n int) []customer {
	span := windowEnd - day - signupStart
	signups := make([]int64, n)
	for i := 1; i < n; i++ {
		// max of two draws skews sign-ups toward the recent past, as for a growing shop.
		signups[i] = signupStart + max(r.Int64N(span), r.Int64N(span))
	}
	// Customer 1 is the shop's first sign-up, which guarantees every order
	// in the window has at least one eligible customer.
	signups[0] = signupStart
	slices.Sort(signups)

	birthStart := time.Date(1946, 1, 1, 0, 0, 0, 0, time.UTC)
	custs := make([]customer, n)
	for i := range custs {
		c := customer{
			id:     i + 1,
			first:  oneOf(r, firstNames),
			last:   oneOf(r, lastNames),
			addr:   randomAddress(r),
			signup: signups[i],
			optIn:  percent(r, 45),
			weight: []int{1, 2, 5}[choose(r, []int{55, 33, 12})],
		}
		c.email = makeEmail(r, c.first, c.last)
		if !percent(r, 5) {
			c.phone = makePhone(r, c.addr.dial)
		}
		if !percent(r, 2) {
			c.birth = birthStart.AddDate(0, 0, r.IntN(62*365)).Format(time.DateOnly)
		}
		c.updated = c.signup + r.Int64N(max(1, (windowEnd-c.signup)/2))
		custs[i] = c
	}
	return custs
}

type product struct {
	id       int
	sku      string
	name     string
	noun     string
	brand    string
	category string
	cents    int
	active   bool
}

func genProducts(r *rand.Rand, n int) ([]product, []int64) {
	cw := make([]int, len(categories))
	for i, c := range categories {
		cw[i] = c.weight
	}
	prods := make([]product, n)
	for i := range prods {
		cat := categories[choose(r, cw)]
		noun := oneOf(r, cat.nouns)
		brand := oneOf(r, cat.brands)
		spread := cat.maxCents - cat.minCents
		// Cheap items outnumber expensive ones.
		dollars := (cat.minCents + min(r.IntN(spread), r.IntN(spread))) / 100
		ending := []int{99, 49, 0, 95}[choose(r, []int{60, 15, 15, 10})]
		prods[i] = product{
			id:       i + 1,
			sku:      fmt.Sprintf("%s-%05d", cat.code, i+1),
			name:     brand + " " + noun + oneOf(r, editions[cat.code]),
			noun:     noun,
			brand:    brand,
			category: cat.name,
			cents:    max(dollars*100+ending, 99),
			active:   !percent(r, 8),
		}
	}
	// A Zipf-like popularity curve over a random ranking gives a realistic
	// long tail, and dampening by price keeps a $900 monitor from selling as
	// often as a $9 lip balm, which keeps average order values believable.
	weights := make([]int64, n)
	for i, rank := range r.Perm(n) {
		weights[i] = 1_000_000_000 / (int64(rank+4) * int64(prods[i].cents/2000+3))
		if !prods[i].active {
			weights[i] /= 4
		}
	}
	return prods, cumulative(weights)
}

type lineItem struct {
	product  int // index into products
	quantity int
	cents    int
	discount int // percent
}

// total returns the line total in cents, rounded half away from zero
// exactly as DECIMAL(12,2) does.
func (li lineItem) total() int64 {
	x := int64(li.cents) * int64(li.quantity) * int64(100-li.discount) // in 1/10000 of the currency unit
	return (x + 50) / 100
}

type order struct {
	id       int
	customer int // index into customers
	ts       int64
	status   string
	payment  string
	ship     address
	items    []lineItem
}

func (o *order) totalCents() int64 {
	var t int64
	for _, li := range o.items {
		t += li.total()
	}
	return t
}

// eligible returns how many customers (a prefix, since IDs follow sign-up
// order) had signed up by t.
func eligible(custs []customer, t int64) int {
	return sort.Search(len(custs), func(i int) bool { return custs[i].signup > t })
}

func genOrders(r *rand.Rand, n int, cal calendar, custs []customer, custCum []int64, prods []product, prodCum []int64) []order {
	times := make([]int64, n)
	for i := range times {
		times[i] = cal.sample(r)
	}
	slices.Sort(times)

	orders := make([]order, n)
	for i, t := range times {
		o := order{
			id:       100001 + i,
			customer: pickPrefix(r, custCum, eligible(custs, t)),
			ts:       t,
			payment:  paymentMethods[choose(r, paymentWeights)],
		}
		age := windowEnd - t
		switch {
		case percent(r, 4):
			o.status = "cancelled"
		case age < 2*day:
			o.status = []string{"placed", "shipped"}[choose(r, []int{60, 40})]
		case age < 6*day:
			o.status = []string{"shipped", "delivered"}[choose(r, []int{60, 40})]
		case percent(r, 5):
			o.status = "returned"
		default:
			o.status = "delivered"
		}
		o.ship = custs[o.customer].addr
		if percent(r, 8) { // a gift sent elsewhere
			o.ship = randomAddress(r)
		}

		nItems := min(1+choose(r, []int{30, 25, 20, 12, 8, 5}), len(prods))
		coupon := 0
		if percent(r, 25) {
			coupon = []int{5, 10, 15, 20, 25}[choose(r, []int{30, 30, 20, 12, 8})]
		}
		seen := make(map[int]bool, nItems)
		for len(o.items) < nItems {
			p := pick(r, prodCum)
			for tries := 0; seen[p] && tries < 20; tries++ {
				p = pick(r, prodCum)
			}
			for seen[p] { // tiny catalogues: fall back to the next unused product
				p = (p + 1) % len(prods)
			}
			seen[p] = true
			cents := prods[p].cents
			if percent(r, 8) { // flash-sale price at order time
				cents = cents * 85 / 100
			}
			o.items = append(o.items, lineItem{
				product:  p,
				quantity: 1 + choose(r, []int{75, 17, 6, 1, 1}),
				cents:    cents,
				discount: coupon,
			})
		}
		orders[i] = o
	}
	return orders
}

type eventProps struct {
	Referrer string `json:"referrer,omitempty"`
	Query    string `json:"query,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	OrderID  int    `json:"order_id,omitempty"`
	Value    string `json:"value,omitempty"` // a decimal string, as trackers often send money
}

type event struct {
	ms       int64
	id       string
	session  *session
	kind     string
	url      string
	product  int // product ID, 0 when none
	props    eventProps
	sequence int // generation order, breaks timestamp ties deterministically
}

type session struct {
	id        string
	customer  int // customer ID, 0 for anonymous visitors
	userAgent string
	ip        string
}

var ipFirstOctets = []int{23, 31, 37, 41, 45, 49, 58, 62, 66, 73, 77, 81, 86, 92, 98, 101, 103, 109, 115, 121, 131, 142, 152, 165, 176, 185, 188, 196, 201, 212}

func uuid(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, ch := range strings.ToLower(s) {
		if rep, ok := asciiFold[ch]; ok {
			b.WriteString(rep)
			dash = false
		} else if ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' {
			b.WriteRune(ch)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func productURL(p product) string { return fmt.Sprintf("%s/p/%s-%d", shopURL, slug(p.name), p.id) }

func searchQuery(r *rand.Rand, p product) string {
	q := strings.ToLower(p.noun)
	switch x := r.IntN(100); {
	case x < 30:
		q = q[strings.LastIndexByte(q, ' ')+1:]
	case x < 40:
		q = strings.ToLower(p.brand) + " " + q
	}
	return q
}

func searchURL(q string) string {
	return shopURL + "/search?q=" + strings.ReplaceAll(strings.ReplaceAll(q, "&", "%26"), " ", "+")
}

// clickstream generates web sessions until exactly budget events exist.
// Only a share of orders gets a tracked session (the rest came through the
// apps or the phone), which keeps the session conversion rate plausible.
type clickstream struct {
	r       *rand.Rand
	cal     calendar
	custs   []customer
	custCum []int64
	prods   []product
	prodCum []int64
	budget  int
	events  []event
}

func (cs *clickstream) full() bool { return len(cs.events) >= cs.budget }

func (cs *clickstream) newSession(customerID int) *session {
	r := cs.r
	return &session{
		id:        fmt.Sprintf("%016x", r.Uint64()),
		customer:  customerID,
		userAgent: userAgents[choose(r, userAgentWeights)],
		ip:        fmt.Sprintf("%d.%d.%d.%d", oneOf(r, ipFirstOctets), r.IntN(256), r.IntN(256), 1+r.IntN(254)),
	}
}

// add appends planned events (with ms already set) while the budget lasts.
func (cs *clickstream) add(s *session, plan []event) {
	for _, e := range plan {
		if cs.full() {
			return
		}
		e.session = s
		e.id = uuid(cs.r)
		e.sequence = len(cs.events)
		cs.events = append(cs.events, e)
	}
}

func (cs *clickstream) landing() event {
	r := cs.r
	e := event{kind: "page_view", url: shopURL + "/", props: eventProps{Referrer: referrers[choose(r, referrerWeights)]}}
	if percent(r, 35) {
		e.url = shopURL + "/c/" + slug(oneOf(r, categories).name)
	}
	return e
}

func (cs *clickstream) view(p int) event {
	return event{kind: "page_view", url: productURL(cs.prods[p]), product: cs.prods[p].id}
}

func (cs *clickstream) purchaseSession(o *order) {
	r := cs.r
	first := o.items[0].product
	plan := []event{cs.landing()}
	if percent(r, 40) {
		q := searchQuery(r, cs.prods[first])
		plan = append(plan, event{kind: "search", url: searchURL(q), props: eventProps{Query: q}})
	}
	if percent(r, 40) {
		plan = append(plan, cs.view(pick(r, cs.prodCum)))
	}
	for _, li := range o.items {
		p := cs.prods[li.product]
		plan = append(plan, cs.view(li.product),
			event{kind: "add_to_cart", url: productURL(p), product: p.id, props: eventProps{Quantity: li.quantity}})
	}
	total := o.totalCents()
	plan = append(plan,
		event{kind: "checkout", url: shopURL + "/checkout"},
		event{kind: "purchase", url: fmt.Sprintf("%s/checkout/confirmation?order=%d", shopURL, o.id),
			props: eventProps{OrderID: o.id, Value: fmt.Sprintf("%d.%02d", total/100, total%100)}})

	// Times run backwards from the order: the purchase lands within the
	// order's second, the checkout a few minutes before, browsing before that.
	n := len(plan)
	plan[n-1].ms = o.ts*1000 + r.Int64N(1000)
	plan[n-2].ms = plan[n-1].ms - 20_000 - r.Int64N(220_000)
	for i := n - 3; i >= 0; i-- {
		plan[i].ms = plan[i+1].ms - 5_000 - r.Int64N(145_000)
	}
	for i := range plan {
		plan[i].ms = max(plan[i].ms, windowStart*1000)
	}
	cs.add(cs.newSession(cs.custs[o.customer].id), plan)
}

func (cs *clickstream) browseSession() {
	r := cs.r
	start := cs.cal.sample(r)*1000 + r.Int64N(1000)
	customerID := 0
	if percent(r, 45) {
		customerID = cs.custs[pickPrefix(r, cs.custCum, eligible(cs.custs, start/1000))].id
	}
	plan := []event{cs.landing()}
	var viewed []int
	if percent(r, 30) {
		p := pick(r, cs.prodCum)
		q := searchQuery(r, cs.prods[p])
		if percent(r, 10) {
			q = oneOf(r, searchTypos)
		}
		plan = append(plan, event{kind: "search", url: searchURL(q), props: eventProps{Query: q}})
		if percent(r, 70) {
			plan = append(plan, cs.view(p))
			viewed = append(viewed, p)
		}
	}
	for range r.IntN(4) {
		p := pick(r, cs.prodCum)
		plan = append(plan, cs.view(p))
		viewed = append(viewed, p)
	}
	if len(viewed) > 0 && percent(r, 25) {
		p := cs.prods[oneOf(r, viewed)]
		plan = append(plan, event{kind: "add_to_cart", url: productURL(p), product: p.id, props: eventProps{Quantity: 1 + choose(r, []int{85, 15})}})
		if percent(r, 30) { // abandoned checkout
			plan = append(plan, event{kind: "checkout", url: shopURL + "/checkout"})
		}
	}
	t := start
	for i := range plan {
		if i > 0 {
			t += 5_000 + r.Int64N(175_000)
		}
		plan[i].ms = t
	}
	if over := t - (windowEnd*1000 - 1); over > 0 {
		shift := over + r.Int64N(600_000)
		for i := range plan {
			plan[i].ms -= shift
		}
	}
	cs.add(cs.newSession(customerID), plan)
}

func genEvents(r *rand.Rand, budget int, cal calendar, custs []customer, custCum []int64, prods []product, prodCum []int64, orders []order) []event {
	cs := &clickstream{r: r, cal: cal, custs: custs, custCum: custCum, prods: prods, prodCum: prodCum, budget: budget}
	cs.events = make([]event, 0, budget)
	tracked := min(len(orders), budget/30)
	picks := r.Perm(len(orders))[:tracked]
	slices.Sort(picks)
	for _, i := range picks {
		if cs.full() {
			break
		}
		cs.purchaseSession(&orders[i])
	}
	for !cs.full() {
		cs.browseSession()
	}
	slices.SortStableFunc(cs.events, func(a, b event) int {
		if a.ms != b.ms {
			return cmp.Compare(a.ms, b.ms)
		}
		return a.sequence - b.sequence
	})
	return cs.events
}
