package demo

import "strings"

// Step is one statement of the bronze → silver → gold refinement.
type Step struct {
	Name string // the table it creates, e.g. "silver.customers"
	Doc  string // one line: what it does
	SQL  string // a single CREATE TABLE … AS SELECT in DuckDB dialect
}

// Query is a ready-made question to try on the refined tables.
type Query struct {
	Doc string
	SQL string
}

// The bronze loader infers column types, so the same column may arrive as
// VARCHAR, a number, a TIMESTAMP or a TIMESTAMPTZ depending on what the
// sample looked like. Every silver expression therefore goes through text
// first and converts with TRY_CAST, which behaves the same for all of them.

// utcTimestamp converts a timestamp in any of those shapes to a UTC
// TIMESTAMP. Text without an offset is UTC by contract of the source; it gets
// an explicit "+00" so that the session time zone never leaks in, and text
// with an offset (including a TIMESTAMPTZ rendered as text) keeps its own.
func utcTimestamp(col string) string {
	return `timezone('UTC', TRY_CAST(regexp_replace(trim(CAST(` + col + ` AS VARCHAR)), '^([0-9-]+[ T][0-9:.]+)$', '\1+00') AS TIMESTAMPTZ))`
}

// flag maps the boolean spellings found in exports to BOOLEAN; anything
// else becomes NULL rather than a guess.
func flag(col string) string {
	tok := `lower(trim(CAST(` + col + ` AS VARCHAR)))`
	return `CASE WHEN ` + tok + ` IN ('true', 't', 'yes', 'y', '1') THEN true
                 WHEN ` + tok + ` IN ('false', 'f', 'no', 'n', '0') THEN false END`
}

// amount parses money text such as "19.99", "$1,299.00" or a number.
func amount(col, typ string) string {
	return `TRY_CAST(regexp_replace(CAST(` + col + ` AS VARCHAR), '[^0-9.-]', '', 'g') AS ` + typ + `)`
}

func text(col string) string { return `trim(CAST(` + col + ` AS VARCHAR))` }

// expand replaces {{name}} placeholders so the statements read like SQL
// while the conversions above stay written once.
func expand(sql string, kv ...string) string {
	r := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		r = append(r, "{{"+kv[i]+"}}", kv[i+1])
	}
	return strings.TrimSpace(strings.NewReplacer(r...).Replace(sql))
}

// Steps returns the refinement in dependency order: silver tables first,
// then gold tables built only from silver.
func Steps() []Step {
	return []Step{
		{
			Name: "silver.customers",
			Doc:  "Types customers, normalises emails and phones, and keeps the latest row per customer_id.",
			SQL: expand(`
CREATE TABLE silver.customers AS
WITH typed AS (
    SELECT
        TRY_CAST(customer_id AS BIGINT)       AS customer_id,
        {{first_name}}                        AS first_name,
        {{last_name}}                         AS last_name,
        lower({{email}})                      AS email,
        -- E.164-style digits, and an empty phone becomes NULL
        NULLIF('+' || regexp_replace(CAST(phone AS VARCHAR), '[^0-9]', '', 'g'), '+') AS phone,
        {{street}}                            AS street,
        {{city}}                              AS city,
        {{region}}                            AS region,
        {{country}}                           AS country,
        {{signup_ts}}                         AS signup_ts,
        TRY_CAST(CAST(birth_date AS VARCHAR) AS DATE) AS birth_date,
        {{opt_in}}                            AS marketing_opt_in,
        {{updated_at}}                        AS updated_at
    FROM bronze.customers
)
SELECT *
FROM typed
WHERE customer_id IS NOT NULL
-- the source re-exports changed customers, and file order says nothing about recency
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC NULLS LAST, email) = 1
ORDER BY customer_id`,
				"first_name", text("first_name"), "last_name", text("last_name"), "email", text("email"),
				"street", text("street"), "city", text("city"), "region", text("region"), "country", text("country"),
				"signup_ts", utcTimestamp("signup_ts"), "updated_at", utcTimestamp("updated_at"),
				"opt_in", flag("marketing_opt_in")),
		},
		{
			Name: "silver.products",
			Doc:  "Types the catalogue: prices as DECIMAL(10,2) with currency symbols stripped, active as BOOLEAN.",
			SQL: expand(`
CREATE TABLE silver.products AS
SELECT
    TRY_CAST(product_id AS BIGINT) AS product_id,
    {{sku}}                        AS sku,
    {{name}}                       AS name,
    {{category}}                   AS category,
    {{brand}}                      AS brand,
    {{unit_price}}                 AS unit_price,
    {{active}}                     AS active
FROM bronze.products
WHERE TRY_CAST(product_id AS BIGINT) IS NOT NULL
ORDER BY product_id`,
				"sku", text("sku"), "name", text("name"), "category", text("category"), "brand", text("brand"),
				"unit_price", amount("unit_price", "DECIMAL(10,2)"), "active", flag("active")),
		},
		{
			Name: "silver.orders",
			Doc:  "Deduplicates orders, lower-cases status, types order_ts as UTC and flattens the shipping address.",
			SQL: expand(`
CREATE TABLE silver.orders AS
WITH typed AS (
    SELECT
        TRY_CAST(order_id AS BIGINT)       AS order_id,
        TRY_CAST(customer_id AS BIGINT)    AS customer_id,
        {{order_ts}}                       AS order_ts,
        lower({{status}})                  AS status,
        upper({{currency}})                AS currency,
        {{shipping_region}}                AS shipping_region,
        lower({{payment_method}})          AS payment_method,
        {{city}}                           AS shipping_city,
        {{country}}                        AS shipping_country,
        NULLIF({{postcode}}, '')           AS shipping_postcode
    FROM bronze.orders
)
SELECT
    order_id, customer_id, order_ts, CAST(order_ts AS DATE) AS order_date,
    status, currency, shipping_region, payment_method,
    shipping_city, shipping_country, shipping_postcode
FROM typed
WHERE order_id IS NOT NULL
-- the feed delivers at least once, so the same order can appear twice
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts DESC NULLS LAST, status) = 1
ORDER BY order_id`,
				"order_ts", utcTimestamp("order_ts"), "status", text("status"), "currency", text("currency"),
				"shipping_region", text("shipping_region"), "payment_method", text("payment_method"),
				"city", text("shipping.city"), "country", text("shipping.country"), "postcode", text("shipping.postcode")),
		},
		{
			Name: "silver.order_items",
			Doc:  "Types order lines and computes line_total = quantity × unit_price × (1 − discount_pct/100) as DECIMAL(12,2).",
			SQL: expand(`
CREATE TABLE silver.order_items AS
WITH typed AS (
    SELECT
        TRY_CAST(order_id AS BIGINT)    AS order_id,
        TRY_CAST(line_no AS INTEGER)    AS line_no,
        TRY_CAST(product_id AS BIGINT)  AS product_id,
        TRY_CAST(quantity AS INTEGER)   AS quantity,
        {{unit_price}}                  AS unit_price,
        COALESCE({{discount_pct}}, 0)   AS discount_pct
    FROM bronze.order_items
)
SELECT
    *,
    -- "* 0.01" rather than "/ 100": DuckDB divides decimals as DOUBLE, and
    -- revenue has to add up to the cent
    CAST(quantity * unit_price * (1 - discount_pct * 0.01) AS DECIMAL(12,2)) AS line_total
FROM typed
WHERE order_id IS NOT NULL
ORDER BY order_id, line_no`,
				"unit_price", amount("unit_price", "DECIMAL(10,2)"), "discount_pct", amount("discount_pct", "DECIMAL(5,2)")),
		},
		{
			Name: "silver.events",
			Doc:  "Types the clickstream, adds event_date and device, lifts common properties into columns, and dedupes by event_id.",
			SQL: expand(`
CREATE TABLE silver.events AS
WITH typed AS (
    SELECT
        {{event_id}}                       AS event_id,
        {{session_id}}                     AS session_id,
        TRY_CAST(customer_id AS BIGINT)    AS customer_id,
        lower({{event_type}})              AS event_type,
        {{event_ts}}                       AS event_ts,
        {{url}}                            AS url,
        TRY_CAST(product_id AS BIGINT)     AS product_id,
        {{user_agent}}                     AS user_agent,
        {{ip_address}}                     AS ip_address,
        -- works whether the loader kept properties as a STRUCT or as JSON text
        CAST(properties AS JSON)           AS props
    FROM bronze.events
)
SELECT
    event_id, session_id, customer_id, event_type, event_ts,
    CAST(event_ts AS DATE) AS event_date,
    url, product_id,
    json_extract_string(props, '$.query')                    AS search_query,
    json_extract_string(props, '$.referrer')                 AS referrer,
    TRY_CAST(json_extract_string(props, '$.quantity') AS INTEGER)       AS quantity,
    TRY_CAST(json_extract_string(props, '$.order_id') AS BIGINT)        AS order_id,
    TRY_CAST(json_extract_string(props, '$.value') AS DECIMAL(12,2))    AS order_value,
    CASE
        WHEN user_agent LIKE '%iPad%' THEN 'tablet'
        WHEN user_agent LIKE '%iPhone%' OR user_agent LIKE '%Mobile%' THEN 'mobile'
        ELSE 'desktop'
    END AS device,
    user_agent, ip_address
FROM typed
WHERE event_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_ts NULLS LAST, session_id) = 1
ORDER BY event_ts, event_id`,
				"event_id", text("event_id"), "session_id", text("session_id"), "event_type", text("event_type"),
				"event_ts", utcTimestamp("event_ts"), "url", text("url"),
				"user_agent", text("user_agent"), "ip_address", text("ip_address")),
		},
		{
			Name: "gold.daily_revenue_by_region",
			Doc:  "Orders, items, revenue and average order value per day and shipping region, cancelled orders excluded.",
			SQL: `
CREATE TABLE gold.daily_revenue_by_region AS
WITH order_totals AS (
    SELECT
        o.order_id,
        o.order_date,
        o.shipping_region                    AS region,
        COALESCE(sum(i.quantity), 0)         AS items,
        COALESCE(sum(i.line_total), 0)       AS revenue
    FROM silver.orders o
    LEFT JOIN silver.order_items i ON i.order_id = o.order_id
    WHERE o.status <> 'cancelled'
    GROUP BY o.order_id, o.order_date, o.shipping_region
)
SELECT
    order_date,
    region,
    count(*)                                          AS orders,
    -- sums widen to HUGEINT and DECIMAL(38,2), so narrow them to types every table format supports
    CAST(sum(items) AS BIGINT)                        AS items,
    CAST(sum(revenue) AS DECIMAL(18,2))               AS revenue,
    CAST(sum(revenue) / count(*) AS DECIMAL(12,2))    AS avg_order_value
FROM order_totals
GROUP BY order_date, region
ORDER BY order_date, region`[1:],
		},
		{
			Name: "gold.top_products",
			Doc:  "The 50 products with the most revenue from non-cancelled orders, with units sold and rank.",
			SQL: `
CREATE TABLE gold.top_products AS
WITH sales AS (
    SELECT
        i.product_id,
        CAST(sum(i.quantity) AS BIGINT)          AS units,
        CAST(sum(i.line_total) AS DECIMAL(18,2)) AS revenue
    FROM silver.order_items i
    JOIN silver.orders o ON o.order_id = i.order_id
    WHERE o.status <> 'cancelled'
    GROUP BY i.product_id
)
SELECT
    s.product_id,
    p.name,
    p.category,
    s.units,
    s.revenue,
    CAST(row_number() OVER (ORDER BY s.revenue DESC, s.product_id) AS INTEGER) AS rank
FROM sales s
LEFT JOIN silver.products p ON p.product_id = s.product_id
QUALIFY row_number() OVER (ORDER BY s.revenue DESC, s.product_id) <= 50
ORDER BY rank`[1:],
		},
		{
			Name: "gold.conversion_funnel",
			Doc:  "Per day, web sessions that viewed → added to cart → checked out → purchased, as a strict funnel.",
			SQL: `
CREATE TABLE gold.conversion_funnel AS
WITH sessions AS (
    SELECT
        session_id,
        CAST(min(event_ts) AS DATE)               AS session_date,
        bool_or(event_type = 'page_view')         AS has_view,
        bool_or(event_type = 'add_to_cart')       AS has_cart,
        bool_or(event_type = 'checkout')          AS has_checkout,
        bool_or(event_type = 'purchase')          AS has_purchase
    FROM silver.events
    GROUP BY session_id
),
daily AS (
    SELECT
        session_date                                                               AS event_date,
        count(*)                                                                   AS sessions,
        -- each stage only counts sessions that passed every earlier stage
        count(*) FILTER (WHERE has_view)                                           AS viewed,
        count(*) FILTER (WHERE has_view AND has_cart)                              AS added_to_cart,
        count(*) FILTER (WHERE has_view AND has_cart AND has_checkout)             AS checked_out,
        count(*) FILTER (WHERE has_view AND has_cart AND has_checkout AND has_purchase) AS purchased
    FROM sessions
    GROUP BY session_date
)
SELECT
    *,
    CAST(100.0 * purchased / nullif(sessions, 0) AS DECIMAL(5,2)) AS conversion_pct
FROM daily
ORDER BY event_date`[1:],
		},
	}
}

// TryQueries returns questions worth asking once the steps have run; they
// read silver and gold only.
func TryQueries() []Query {
	return []Query{
		{
			Doc: "Revenue by region over the whole 90 days",
			SQL: `
SELECT region,
       sum(orders)                                      AS orders,
       sum(revenue)                                     AS revenue,
       CAST(sum(revenue) / sum(orders) AS DECIMAL(12,2)) AS avg_order_value
FROM gold.daily_revenue_by_region
GROUP BY region
ORDER BY revenue DESC`[1:],
		},
		{
			Doc: "Top 10 products by revenue",
			SQL: `
SELECT rank, name, category, units, revenue
FROM gold.top_products
ORDER BY rank
LIMIT 10`[1:],
		},
		{
			Doc: "Weekly conversion funnel from the clickstream",
			SQL: `
SELECT date_trunc('week', event_date)                              AS week,
       sum(sessions)                                               AS sessions,
       sum(added_to_cart)                                          AS added_to_cart,
       sum(checked_out)                                            AS checked_out,
       sum(purchased)                                              AS purchased,
       CAST(100.0 * sum(purchased) / sum(sessions) AS DECIMAL(5,2)) AS conversion_pct
FROM gold.conversion_funnel
GROUP BY week
ORDER BY week`[1:],
		},
		{
			Doc: "Best customers with their contact details (PII: names, emails, phones)",
			SQL: `
SELECT c.customer_id,
       c.first_name || ' ' || c.last_name AS name,
       c.email,
       c.phone,
       c.city,
       c.country,
       count(DISTINCT o.order_id)         AS orders,
       sum(i.line_total)                  AS lifetime_value
FROM silver.customers c
JOIN silver.orders o ON o.customer_id = c.customer_id
JOIN silver.order_items i ON i.order_id = o.order_id
WHERE o.status NOT IN ('cancelled', 'returned')
GROUP BY ALL
ORDER BY lifetime_value DESC
LIMIT 10`[1:],
		},
		{
			Doc: "Category mix per region: each category's share of the region's revenue",
			SQL: `
WITH sales AS (
    SELECT o.shipping_region AS region, p.category, sum(i.line_total) AS revenue
    FROM silver.order_items i
    JOIN silver.orders o ON o.order_id = i.order_id
    JOIN silver.products p ON p.product_id = i.product_id
    WHERE o.status <> 'cancelled'
    GROUP BY ALL
)
SELECT region, category, revenue,
       CAST(100 * revenue / sum(revenue) OVER (PARTITION BY region) AS DECIMAL(5,1)) AS share_pct
FROM sales
ORDER BY region, revenue DESC`[1:],
		},
		{
			Doc: "When people shop: orders and revenue by weekday",
			SQL: `
SELECT dayname(order_date)                     AS weekday,
       sum(orders)                             AS orders,
       sum(revenue)                            AS revenue
FROM gold.daily_revenue_by_region
GROUP BY weekday, isodow(order_date)
ORDER BY isodow(order_date)`[1:],
		},
		{
			Doc: "Most frequent searches and how often they lead to an add-to-cart in the same session",
			SQL: `
WITH searches AS (
    SELECT session_id, search_query FROM silver.events WHERE event_type = 'search'
),
carts AS (
    SELECT DISTINCT session_id FROM silver.events WHERE event_type = 'add_to_cart'
)
SELECT s.search_query,
       count(*)                                                      AS searches,
       CAST(100.0 * count(c.session_id) / count(*) AS DECIMAL(5,1)) AS cart_rate_pct
FROM searches s
LEFT JOIN carts c ON c.session_id = s.session_id
GROUP BY s.search_query
ORDER BY searches DESC, s.search_query
LIMIT 10`[1:],
		},
	}
}
