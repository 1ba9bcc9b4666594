package roles

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gatehouse/internal/jsonpos"
)

// bom is the UTF-8 byte order mark, which Parse skips.
const bom = jsonpos.BOM

// document is the validated content of a roles.json, before indexing.
type document struct {
	forceLogin bool
	restricted bool
	privileges []privDecl
	roles      []roleDecl
	entries    []entryDecl
}

type privDecl struct {
	name     string
	includes []string
}

type roleDecl struct {
	name       string
	privileges []string
}

type entryDecl struct {
	res   Resource
	set   [numActions]bool
	lists [numActions][]string
}

// ref is a privilege name used somewhere in the file, and where.
type ref struct {
	name string
	off  int
	path string
}

// decl is a declared privilege or role name. Both share one case-insensitive
// namespace, so that a name means one thing wherever it is used.
type decl struct {
	name string
	role bool
	line int   // 0 for the implicit WebAdmin and guest
	refs []ref // a privilege's includes, a role's privileges
}

// names returns the referenced names.
func (d *decl) names() []string {
	out := make([]string, len(d.refs))
	for i, r := range d.refs {
		out[i] = r.name
	}
	return out
}

// Keys accepted in each object of roles.json.
var (
	topKeys        = []string{"privileges", "roles", "permissions", "forceLogin", "restrictedByDefault"}
	privilegeKeys  = []string{"privilege", "includes"}
	roleKeys       = []string{"role", "privileges"}
	permissionKeys = []string{"allowed"}
	entryKeys      = []string{"applyTo", "type", "read", "create", "update", "drop", "execute", "promote"}
)

// parse validates data and builds a Config, or returns every problem found.
func parse(file string, data []byte) (*Config, error) {
	v := &validator{file: file, lines: jsonpos.NewLines(data), names: map[string]*decl{
		fold(WebAdmin): {name: WebAdmin},
		fold(Guest):    {name: Guest},
	}}
	root, err := jsonpos.Parse(data)
	if err != nil {
		off := 0
		if serr := (*jsonpos.SyntaxError)(nil); errors.As(err, &serr) {
			off = serr.Off
		}
		v.errorf(off, "", "%v", err)
		return nil, v.errs
	}
	doc := v.document(root)
	if len(v.errs) > 0 {
		slices.SortStableFunc(v.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, v.errs
	}
	return build(doc), nil
}

// validator walks the JSON tree, collecting every problem rather than
// stopping at the first.
type validator struct {
	file  string
	lines *jsonpos.Lines
	errs  ErrorList

	names            map[string]*decl // folded name -> declaration
	webAdminDeclared bool
}

func (v *validator) errorf(off int, path, format string, args ...any) {
	line, col := v.lines.LineCol(off)
	v.errs = append(v.errs, &Error{
		File:    v.file,
		Line:    line,
		Column:  col,
		Path:    path,
		Message: fmt.Sprintf(format, args...),
	})
}

// lineOf returns the line of a byte offset.
func (v *validator) lineOf(off int) int {
	line, _ := v.lines.LineCol(off)
	return line
}

// is reports whether val is of kind want, and reports an error if not.
func (v *validator) is(val *jsonpos.Value, want jsonpos.Kind, path string) bool {
	if val.Kind != want {
		v.errorf(val.Off, path, "want %s, got %s", want, val.Kind)
		return false
	}
	return true
}

// members checks that val is an object and calls f for each key, in order,
// reporting duplicate keys (which JSON decoders silently resolve to the last).
func (v *validator) members(val *jsonpos.Value, path string, f func(m jsonpos.Field, path string)) {
	if !v.is(val, jsonpos.Object, path) {
		return
	}
	seen := make(map[string]bool, len(val.Fields))
	for _, m := range val.Fields {
		p := memberPath(path, m.Key)
		if seen[m.Key] {
			v.errorf(m.KeyOff, p, "duplicate key %q", m.Key)
			continue
		}
		seen[m.Key] = true
		f(m, p)
	}
}

func (v *validator) unknownKey(m jsonpos.Field, path string, known []string) {
	v.errorf(m.KeyOff, path, "unknown key %q%s", m.Key, suggest(m.Key, known))
}

// suggest proposes a known key that differs from key only in case.
func suggest(key string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

// refs checks that val is an array of strings and returns them.
func (v *validator) refs(val *jsonpos.Value, path string) []ref {
	if !v.is(val, jsonpos.Array, path) {
		return nil
	}
	out := make([]ref, 0, len(val.Elems))
	for i, e := range val.Elems {
		p := path + "[" + strconv.Itoa(i) + "]"
		if v.is(e, jsonpos.String, p) {
			out = append(out, ref{name: e.Str, off: e.Off, path: p})
		}
	}
	return out
}

// str checks that val is a string and returns it.
func (v *validator) str(val *jsonpos.Value, path string) (string, bool) {
	if !v.is(val, jsonpos.String, path) {
		return "", false
	}
	return val.Str, true
}

func (v *validator) document(root *jsonpos.Value) *document {
	doc := &document{}
	var privileges, roles, permissions *jsonpos.Value
	var privilegesPath, rolesPath, permissionsPath string
	v.members(root, "$", func(m jsonpos.Field, path string) {
		switch m.Key {
		case "privileges":
			privileges, privilegesPath = m.Val, path
		case "roles":
			roles, rolesPath = m.Val, path
		case "permissions":
			permissions, permissionsPath = m.Val, path
		case "forceLogin":
			if v.is(m.Val, jsonpos.Bool, path) {
				doc.forceLogin = m.Val.Bool
			}
		case "restrictedByDefault":
			if v.is(m.Val, jsonpos.Bool, path) {
				doc.restricted = m.Val.Bool
			}
		default:
			v.unknownKey(m, path, topKeys)
		}
	})
	// Every name is declared before any reference is checked, so that the
	// order of sections and entries in the file does not matter.
	var privs, roleDecls []*decl
	var orphans []ref // references made by entries whose name is invalid
	if privileges != nil {
		privs, orphans = v.declarations(privileges, privilegesPath, false, orphans)
	}
	if roles != nil {
		roleDecls, orphans = v.declarations(roles, rolesPath, true, orphans)
	}
	for _, d := range slices.Concat(privs, roleDecls) {
		for _, r := range d.refs {
			v.privilegeRef(r)
		}
	}
	for _, r := range orphans {
		v.privilegeRef(r)
	}
	v.checkCycles(privs)
	if permissions != nil {
		doc.entries = v.permissions(permissions, permissionsPath)
	}
	for _, d := range privs {
		doc.privileges = append(doc.privileges, privDecl{name: d.name, includes: d.names()})
	}
	for _, d := range roleDecls {
		doc.roles = append(doc.roles, roleDecl{name: d.name, privileges: d.names()})
	}
	return doc
}

// declarations validates the "privileges" or "roles" array and declares its
// names. The references of entries that could not be declared are appended to
// orphans, to be checked all the same.
func (v *validator) declarations(val *jsonpos.Value, path string, isRole bool, orphans []ref) ([]*decl, []ref) {
	if !v.is(val, jsonpos.Array, path) {
		return nil, orphans
	}
	nameKey, refsKey, known := "privilege", "includes", privilegeKeys
	if isRole {
		nameKey, refsKey, known = "role", "privileges", roleKeys
	}
	var decls []*decl
	for i, e := range val.Elems {
		p := path + "[" + strconv.Itoa(i) + "]"
		var name *jsonpos.Value
		var refs []ref
		v.members(e, p, func(m jsonpos.Field, path string) {
			switch m.Key {
			case nameKey:
				if v.is(m.Val, jsonpos.String, path) {
					name = m.Val
				}
			case refsKey:
				refs = v.refs(m.Val, path)
			default:
				v.unknownKey(m, path, known)
			}
		})
		var d *decl
		switch {
		case e.Kind != jsonpos.Object:
		case name != nil:
			d = v.declare(name, memberPath(p, nameKey), isRole)
		case !e.Has(nameKey):
			v.errorf(e.Off, p, "missing %q", nameKey)
		}
		if d == nil {
			orphans = append(orphans, refs...)
			continue
		}
		d.refs = refs
		decls = append(decls, d)
	}
	return decls, orphans
}

// declare adds a privilege or role name, reporting invalid, reserved and
// duplicate names. It returns nil when the name was not declared.
func (v *validator) declare(name *jsonpos.Value, path string, isRole bool) *decl {
	what := "privilege"
	if isRole {
		what = "role"
	}
	if msg := checkName(name.Str); msg != "" {
		v.errorf(name.Off, path, "%s name %s", what, msg)
		return nil
	}
	key := fold(name.Str)
	prev, exists := v.names[key]
	switch {
	case key == fold(Guest):
		v.errorf(name.Off, path, "%q is reserved: every session holds it implicitly", name.Str)
		return nil
	case key == fold(WebAdmin) && isRole:
		v.errorf(name.Off, path, "%q is a reserved privilege and cannot name a role", name.Str)
		return nil
	case key == fold(WebAdmin) && !v.webAdminDeclared:
		// Declaring WebAdmin is allowed (to give it includes); it keeps its
		// reserved spelling.
		v.webAdminDeclared = true
		prev.line = v.lineOf(name.Off)
		return prev
	case exists && prev.role == isRole:
		v.errorf(name.Off, path, "duplicate %s %q (first declared at line %d)", what, name.Str, prev.line)
		return nil
	case exists:
		other := "privilege"
		if prev.role {
			other = "role"
		}
		v.errorf(name.Off, path, "%s %q has the name of %s %q declared at line %d (privilege and role names share one case-insensitive namespace)",
			what, name.Str, other, prev.name, prev.line)
		return nil
	}
	d := &decl{name: name.Str, role: isRole, line: v.lineOf(name.Off)}
	v.names[key] = d
	return d
}

// checkName returns why name cannot name a privilege or role, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case strings.TrimSpace(name) != name:
		return fmt.Sprintf("%q has leading or trailing white space", name)
	case strings.ContainsRune(name, ','):
		// Session.setPrivileges splits a string at commas.
		return fmt.Sprintf("%q contains a comma", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Sprintf("%q contains a control character", name)
	}
	return ""
}

// privilegeRef reports whether r names a declared privilege, and reports an
// error if not.
func (v *validator) privilegeRef(r ref) bool {
	d, ok := v.names[fold(r.name)]
	switch {
	case !ok:
		v.errorf(r.off, r.path, "undeclared privilege %q", r.name)
		return false
	case d.role:
		v.errorf(r.off, r.path, "%q is a role, not a privilege", r.name)
		return false
	}
	return true
}

// checkCycles reports every includes cycle, naming its privileges, at the
// include that closes it.
func (v *validator) checkCycles(privs []*decl) {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[string]int)
	var stack []string // declared spellings on the current path
	var visit func(name string)
	visit = func(name string) {
		key := fold(name)
		d := v.names[key]
		state[key] = onStack
		stack = append(stack, d.name)
		for _, r := range d.refs {
			next, ok := v.names[fold(r.name)]
			if !ok || next.role {
				continue // already reported
			}
			switch state[fold(next.name)] {
			case unvisited:
				visit(next.name)
			case onStack:
				start := slices.Index(stack, next.name)
				cycle := append(slices.Clone(stack[start:]), next.name)
				v.errorf(r.off, r.path, "includes cycle: %s", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[key] = done
	}
	for _, p := range privs {
		if state[fold(p.name)] == unvisited {
			visit(p.name)
		}
	}
}

// permissions validates the "permissions" object.
func (v *validator) permissions(val *jsonpos.Value, path string) []entryDecl {
	var out []entryDecl
	v.members(val, path, func(m jsonpos.Field, path string) {
		if m.Key != "allowed" {
			v.unknownKey(m, path, permissionKeys)
			return
		}
		if !v.is(m.Val, jsonpos.Array, path) {
			return
		}
		first := make(map[Resource]int) // resource -> offset of its first applyTo
		for i, e := range m.Val.Elems {
			p := path + "[" + strconv.Itoa(i) + "]"
			entry, applyTo, resolved := v.entry(e, p)
			if !resolved {
				continue
			}
			if off, dup := first[entry.res]; dup {
				v.errorf(applyTo.Off, p+".applyTo", "duplicate permission for %s %q (first at line %d)",
					entry.res.Kind, applyTo.Str, v.lineOf(off))
				continue
			}
			first[entry.res] = applyTo.Off
			out = append(out, entry)
		}
	})
	return out
}

// entry validates one permission entry. resolved reports whether its type and
// applyTo name a resource, so that duplicates can be found even among entries
// with other errors.
func (v *validator) entry(val *jsonpos.Value, path string) (entry entryDecl, applyTo *jsonpos.Value, resolved bool) {
	var typ *jsonpos.Value
	var lists [numActions][]ref
	var actionKeys [numActions]jsonpos.Field
	v.members(val, path, func(m jsonpos.Field, path string) {
		switch m.Key {
		case "applyTo":
			if v.is(m.Val, jsonpos.String, path) {
				applyTo = m.Val
			}
		case "type":
			if v.is(m.Val, jsonpos.String, path) {
				typ = m.Val
			}
		default:
			ai, known := actionIndex(Action(m.Key))
			if !known {
				hint := suggest(m.Key, entryKeys)
				if hint == "" {
					hint = " (want read, create, update, drop, execute or promote)"
				}
				v.errorf(m.KeyOff, path, "unknown action %q%s", m.Key, hint)
				return
			}
			entry.set[ai] = true
			actionKeys[ai] = m
			lists[ai] = v.refs(m.Val, path)
		}
	})
	if val.Kind != jsonpos.Object {
		return entry, nil, false
	}
	for _, key := range []string{"applyTo", "type"} {
		if !val.Has(key) {
			v.errorf(val.Off, path, "missing %q", key)
		}
	}
	for ai := range numActions {
		for _, r := range lists[ai] {
			if v.privilegeRef(r) {
				entry.lists[ai] = append(entry.lists[ai], r.name)
			}
		}
	}
	if typ != nil {
		kind, known := kindOf(typ.Str)
		if !known {
			v.errorf(typ.Off, path+".type", "unknown type %q (want datastore, dataclass, attribute, method, singleton or singletonMethod)", typ.Str)
		} else {
			for ai := range numActions {
				if entry.set[ai] && !applies(ai, kind) {
					m := actionKeys[ai]
					v.errorf(m.KeyOff, memberPath(path, m.Key), "action %q does not apply to %s", m.Key, article(kind))
				}
			}
			if applyTo != nil {
				res, msg := resourceOf(kind, applyTo.Str)
				if msg != "" {
					v.errorf(applyTo.Off, path+".applyTo", "%s", msg)
				}
				entry.res = res
				resolved = msg == ""
			}
		}
	}
	return entry, applyTo, resolved
}

// kindOf parses a roles.json "type".
func kindOf(s string) (Kind, bool) {
	for k := Datastore; k <= SingletonMethod; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

func article(k Kind) string {
	if k == Attribute {
		return "an attribute"
	}
	return "a " + k.String()
}

// applies reports whether action ai can be set on resources of kind k: data
// actions on the datastore, dataclasses and attributes; execute and promote on
// methods (and, for all their functions, on dataclasses and the datastore).
func applies(ai int, k Kind) bool {
	switch k {
	case Attribute:
		return ai != executeIdx && ai != promoteIdx
	case Method, Singleton, SingletonMethod:
		return ai == executeIdx || ai == promoteIdx
	}
	return true
}

// resourceOf parses an "applyTo" for a kind. msg explains a malformed one.
func resourceOf(k Kind, applyTo string) (res Resource, msg string) {
	bad := func(want string) (Resource, string) {
		return Resource{}, fmt.Sprintf("applyTo of %s permission must be %s, got %q", article(k), want, applyTo)
	}
	dc, member, dotted := strings.Cut(applyTo, ".")
	switch k {
	case Datastore:
		if applyTo != "ds" {
			return bad(`"ds"`)
		}
		return DatastoreResource(), ""
	case DataClass:
		if dotted || !isIdent(dc) || dc == "ds" {
			return bad(`a dataclass name like "Users"`)
		}
		return DataClassResource(dc), ""
	case Attribute:
		if !dotted || !isIdent(dc) || dc == "ds" || !isIdent(member) {
			return bad(`"DataClass.attribute"`)
		}
		return AttributeResource(dc, member), ""
	case Singleton:
		if dotted || !isIdent(dc) || dc == "ds" {
			return bad(`a singleton name like "Cart"`)
		}
		return SingletonResource(dc), ""
	case SingletonMethod:
		if !dotted || !isIdent(dc) || dc == "ds" || !isIdent(member) {
			return bad(`"Singleton.function"`)
		}
		return SingletonMethodResource(dc, member), ""
	default: // Method
		if !dotted || !isIdent(dc) || !isIdent(member) {
			return bad(`"ds.function" or "DataClass.function"`)
		}
		if dc == "ds" {
			dc = ""
		}
		return MethodResource(dc, member), ""
	}
}

// isIdent reports whether s is a valid dataclass, attribute or function name:
// letters, digits, _ and $, not starting with a digit.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c == '$' || unicode.IsLetter(c):
		case unicode.IsDigit(c) && i > 0:
		default:
			return false
		}
	}
	return true
}

// memberPath appends an object key to a JSON path, in bracket form when the
// key is not a plain identifier.
func memberPath(path, key string) string {
	plain := key != ""
	for i, c := range key {
		if !(c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9')) {
			plain = false
			break
		}
	}
	if plain {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// build indexes a validated document.
func build(doc *document) *Config {
	// WebAdmin and guest are always declared; an explicit WebAdmin keeps
	// its reserved spelling.
	includes := map[string][]string{fold(WebAdmin): nil, fold(Guest): nil}
	spelling := map[string]string{fold(WebAdmin): WebAdmin, fold(Guest): Guest}
	for _, p := range doc.privileges {
		key := fold(p.name)
		includes[key] = p.includes
		if _, reserved := spelling[key]; !reserved {
			spelling[key] = p.name
		}
	}
	c := &Config{
		forceLogin: doc.forceLogin,
		restricted: doc.restricted,
		privExact:  make(map[string]int, len(spelling)),
		privFold:   make(map[string]int, len(spelling)),
		roles:      make(map[string]*role, len(doc.roles)),
		rules:      make(map[Resource]*rule, len(doc.entries)),
	}
	for _, name := range spelling {
		c.privNames = append(c.privNames, name)
	}
	sort.Strings(c.privNames)
	for i, name := range c.privNames {
		c.privExact[name] = i
		c.privFold[fold(name)] = i
	}
	c.guestIdx = c.privFold[fold(Guest)]

	// Closures by depth-first search; validation rejected cycles, and the
	// in-progress mark keeps even a cyclic graph from recursing forever.
	n := len(c.privNames)
	c.closure = make([]bitset, n)
	var expand func(i int) bitset
	expand = func(i int) bitset {
		if c.closure[i] != nil {
			return c.closure[i]
		}
		b := newBitset(n)
		b.add(i)
		c.closure[i] = b
		for _, inc := range includes[fold(c.privNames[i])] {
			b.or(expand(c.privFold[fold(inc)]))
		}
		return b
	}
	for i := range n {
		expand(i)
	}

	for _, r := range doc.roles {
		grants := newBitset(n)
		for _, p := range r.privileges {
			grants.or(c.closure[c.privFold[fold(p)]])
		}
		c.roles[fold(r.name)] = &role{name: r.name, grants: grants}
	}

	for _, e := range doc.entries {
		ru := &c.ds
		if e.res.Kind != Datastore {
			ru = &rule{}
			c.rules[e.res] = ru
		}
		for ai := range numActions {
			if !e.set[ai] {
				continue
			}
			s := &ru.settings[ai]
			s.set = true
			s.privs = newBitset(n)
			expanded := newBitset(n)
			for _, name := range e.lists[ai] {
				i := c.privFold[fold(name)]
				s.privs.add(i)
				expanded.or(c.closure[i])
				if i == c.guestIdx {
					s.guest = true
				}
			}
			if ai == promoteIdx {
				expanded.clear(c.guestIdx)
				s.promoted = c.names(expanded)
			}
		}
	}
	return c
}
