package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
)

// newTableLocation gives a new table a directory of its own:
// <warehouse>/<ns>.db/<name>-<random>. Without the suffix a table renamed
// away keeps <ns>.db/<name>, and a new table of that name would be put in
// the same directory — where one table's orphan cleanup or purge deletes
// the other's files.
func (l *Lake) newTableLocation(id Ident) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return l.whURI + "/" + url.PathEscape(id.Namespace+".db") + "/" + url.PathEscape(id.Name+"-"+hex.EncodeToString(b[:])), nil
}

// SharedLocation reports another table of the catalog whose location
// equals loc, contains it or lies inside it; such a location is not loc's
// table's alone, so nothing may delete files under it wholesale. It
// returns "" when the location is the table's own.
func (l *Lake) SharedLocation(ctx context.Context, id Ident, loc string) (string, error) {
	mine := parseLocation(loc)
	nss, err := l.cat.ListNamespaces(ctx, nil)
	if err != nil {
		return "", err
	}
	for _, ns := range nss {
		for ident, err := range l.cat.ListTables(ctx, ns) {
			if err != nil {
				return "", err
			}
			other := Ident{Namespace: strings.Join(ident[:len(ident)-1], "."), Name: ident[len(ident)-1]}
			if other == id {
				continue
			}
			tbl, err := l.cat.LoadTable(ctx, ident)
			if err != nil {
				continue // a table that cannot be loaded owns no files we can see
			}
			theirs := parseLocation(tbl.Location())
			if mine.root == theirs.root && (nested(mine.path, theirs.path) || nested(theirs.path, mine.path)) {
				return other.String(), nil
			}
		}
	}
	return "", nil
}
