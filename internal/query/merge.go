package query

import (
	"context"
	"fmt"
	"strings"

	"github.com/edp-data/edp/internal/duck"
	"github.com/edp-data/edp/internal/query/sqlstmt"
)

// merge runs MERGE INTO as two reads and one commit: matched target rows
// (joined to the source) pick their first qualifying WHEN MATCHED clause,
// and source rows with no match pick their first WHEN NOT MATCHED clause.
// Updated and deleted rows get position deletes, updated and inserted rows
// are appended, all in one snapshot.
func (e *Engine) merge(ctx context.Context, st sqlstmt.Merge) (*Result, error) {
	id, tbl, err := e.target(ctx, st.Target)
	if err != nil {
		return nil, err
	}
	ta := unquote(st.TargetAlias)
	if ta == "" {
		ta = id.Name
	}
	sa := unquote(st.SourceAlias)
	if sa == "" {
		sa = strings.Trim(st.Source[strings.LastIndex(st.Source, ".")+1:], `"`)
	}
	source := st.Source + " AS " + duck.Ident(sa)
	target := qualified(id) + " AS " + duck.Ident(ta)
	fields := tbl.Schema().Fields()
	col := func(alias, name string) string { return duck.Ident(alias) + "." + duck.Ident(name) }

	// Each WHEN picks rows in order; the first clause whose condition holds
	// wins. Every column's new value is a CASE with the same arms, so it
	// agrees with the clause number computed beside it.
	var matchedCase, notMatchedCase []string
	var updateIDs, deleteIDs, insertIDs []string
	matchedVals := make([][]string, len(fields))
	insertVals := make([][]string, len(fields))
	for k, c := range st.Clauses {
		cond := c.Cond
		if cond == "" {
			cond = "true"
		}
		n := fmt.Sprint(k + 1)
		arm := "WHEN (" + cond + ") THEN "
		if c.Matched {
			matchedCase = append(matchedCase, arm+n)
		} else {
			notMatchedCase = append(notMatchedCase, arm+n)
		}
		vals := map[string]string{}
		switch c.Action {
		case "UPDATE":
			if !c.Matched {
				return nil, fmt.Errorf("MERGE INTO %s: UPDATE belongs in WHEN MATCHED", id)
			}
			updateIDs = append(updateIDs, n)
			for _, a := range c.Set {
				f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(a.Column.Name)
				if !ok {
					return nil, fmt.Errorf("MERGE INTO %s: no column %q", id, a.Column.Name)
				}
				vals[f.Name] = a.Expr
			}
			if c.SetStar {
				for _, f := range fields {
					vals[f.Name] = col(sa, f.Name)
				}
			}
		case "DELETE":
			if !c.Matched {
				return nil, fmt.Errorf("MERGE INTO %s: DELETE belongs in WHEN MATCHED", id)
			}
			deleteIDs = append(deleteIDs, n)
		case "INSERT":
			if c.Matched {
				return nil, fmt.Errorf("MERGE INTO %s: INSERT belongs in WHEN NOT MATCHED", id)
			}
			insertIDs = append(insertIDs, n)
			switch {
			case c.InsertStar:
				for _, f := range fields {
					vals[f.Name] = col(sa, f.Name)
				}
			case len(c.InsertColumns) == 0:
				if len(c.InsertValues) != len(fields) {
					return nil, fmt.Errorf("MERGE INTO %s: INSERT VALUES has %d values but the table has %d columns", id, len(c.InsertValues), len(fields))
				}
				for i, f := range fields {
					vals[f.Name] = c.InsertValues[i]
				}
			default:
				if len(c.InsertColumns) != len(c.InsertValues) {
					return nil, fmt.Errorf("MERGE INTO %s: INSERT names %d columns but gives %d values", id, len(c.InsertColumns), len(c.InsertValues))
				}
				for i, cn := range c.InsertColumns {
					f, ok := tbl.Schema().FindFieldByNameCaseInsensitive(cn.Name)
					if !ok {
						return nil, fmt.Errorf("MERGE INTO %s: no column %q", id, cn.Name)
					}
					vals[f.Name] = c.InsertValues[i]
				}
			}
		case "DO NOTHING":
		default:
			return nil, fmt.Errorf("MERGE INTO %s: unsupported action %s", id, c.Action)
		}
		for i, f := range fields {
			x, ok := vals[f.Name]
			switch {
			case ok:
				x = "(" + x + ")"
			case c.Matched:
				x = col(ta, f.Name)
			default:
				x = "NULL"
			}
			if c.Matched {
				matchedVals[i] = append(matchedVals[i], arm+x)
			} else {
				insertVals[i] = append(insertVals[i], arm+x)
			}
		}
	}
	valueList := func(arms [][]string) string {
		out := make([]string, len(arms))
		for i, a := range arms {
			out[i] = fmt.Sprintf("(CASE %s END) AS __v%d", strings.Join(a, " "), i)
		}
		return strings.Join(out, ", ")
	}

	s, err := e.session(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	drop := func(t string) { s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+t) }

	// Matched rows, with the clause each picked.
	matched := tempName("__edp_merge_m_")
	var plans []*planned
	if len(matchedCase) > 0 {
		q := "SELECT " + col(ta, duck.FileColumn) + ", " + col(ta, duck.PosColumn) + ", (CASE " + strings.Join(matchedCase, " ") + " END) AS __clause, " +
			valueList(matchedVals) + " FROM " + target + " JOIN " + source + " ON " + st.On
		src, p, err := s.prepare(ctx, q, true)
		if err != nil {
			return nil, err
		}
		plans = p
		if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+matched+" AS SELECT * FROM ("+src+") WHERE __clause IS NOT NULL"); err != nil {
			return nil, fmt.Errorf("MERGE INTO %s: %w", id, err)
		}
		defer drop(matched)
		var dup int64
		if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+matched+" GROUP BY "+duck.FileColumn+", "+duck.PosColumn+" HAVING count(*) > 1)").Scan(&dup); err != nil {
			return nil, err
		}
		if dup > 0 {
			return nil, fmt.Errorf("MERGE INTO %s: %d target rows match more than one source row; make the ON condition match at most one", id, dup)
		}
	}
	// Unmatched source rows, with the clause each picked.
	unmatched := tempName("__edp_merge_n_")
	if len(notMatchedCase) > 0 {
		q := "SELECT (CASE " + strings.Join(notMatchedCase, " ") + " END) AS __clause, " + valueList(insertVals) + " FROM " + source +
			" WHERE NOT EXISTS (SELECT 1 FROM " + target + " WHERE " + st.On + ")"
		src, p, err := s.prepare(ctx, q, false)
		if err != nil {
			return nil, err
		}
		if plans == nil {
			plans = p
		}
		if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+unmatched+" AS SELECT * FROM ("+src+") WHERE __clause IS NOT NULL"); err != nil {
			return nil, fmt.Errorf("MERGE INTO %s: %w", id, err)
		}
		defer drop(unmatched)
	}

	var adds []string
	if len(updateIDs) > 0 {
		adds = append(adds, "SELECT "+valueCols(len(fields))+" FROM "+matched+" WHERE __clause IN ("+strings.Join(updateIDs, ", ")+")")
	}
	if len(insertIDs) > 0 {
		adds = append(adds, "SELECT "+valueCols(len(fields))+" FROM "+unmatched+" WHERE __clause IN ("+strings.Join(insertIDs, ", ")+")")
	}
	delQuery := "SELECT NULL::VARCHAR AS " + duck.FileColumn + ", NULL::BIGINT AS " + duck.PosColumn + " WHERE false"
	if ids := append(append([]string{}, updateIDs...), deleteIDs...); len(ids) > 0 && len(matchedCase) > 0 {
		delQuery = "SELECT " + duck.FileColumn + ", " + duck.PosColumn + " FROM " + matched + " WHERE __clause IN (" + strings.Join(ids, ", ") + ")"
	}
	addQuery := strings.Join(adds, " UNION ALL ")
	tp := targetPlan(plans)
	var updated int64
	if len(updateIDs) > 0 {
		if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+matched+" WHERE __clause IN ("+strings.Join(updateIDs, ", ")+")").Scan(&updated); err != nil {
			return nil, err
		}
	}
	deleted, added, err := e.rowDelta(ctx, s, id, tbl, tp, "sql:merge", delQuery, addQuery)
	if err != nil {
		return nil, fmt.Errorf("MERGE INTO %s: %w", id, err)
	}
	// Rows affected: updated and deleted target rows, plus inserted ones.
	return statusResult(fmt.Sprintf("MERGE %d", deleted+added-updated)), nil
}
