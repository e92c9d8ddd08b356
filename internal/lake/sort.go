package lake

import (
	"cmp"
	"slices"
)

func sortIdents(ids []Ident) {
	slices.SortFunc(ids, func(a, b Ident) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}
