package sqlstmt

// id is an unquoted identifier, qid a quoted one.
func id(name string) Ident  { return Ident{Name: name} }
func qid(name string) Ident { return Ident{Name: name, Quoted: true} }

// name builds a Name from unquoted parts.
func name(parts ...string) Name {
	n := make(Name, len(parts))
	for i, p := range parts {
		n[i] = id(p)
	}
	return n
}
