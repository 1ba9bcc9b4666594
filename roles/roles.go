package roles

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"slices"
	"strings"
)

// Action is a permission action of roles.json.
type Action string

// The six actions of roles.json.
const (
	Read    Action = "read"
	Create  Action = "create"
	Update  Action = "update"
	Drop    Action = "drop"
	Execute Action = "execute"
	Promote Action = "promote"
)

// actions lists every action in index order; an action's index selects its
// setting in a rule.
var actions = [...]Action{Read, Create, Update, Drop, Execute, Promote}

const (
	readIdx = iota
	createIdx
	updateIdx
	dropIdx
	executeIdx
	promoteIdx
	numActions
)

// actionIndex returns the index of a, and false for an unknown action.
func actionIndex(a Action) (int, bool) {
	switch a {
	case Read:
		return readIdx, true
	case Create:
		return createIdx, true
	case Update:
		return updateIdx, true
	case Drop:
		return dropIdx, true
	case Execute:
		return executeIdx, true
	case Promote:
		return promoteIdx, true
	}
	return 0, false
}

// Kind is the kind of resource a permission applies to (roles.json "type").
type Kind int

// The resource kinds of roles.json.
const (
	Datastore Kind = iota
	DataClass
	Attribute
	Method
	// Singleton: a singleton as a whole (applyTo "Name"): execute and promote for all its
	// functions, as 4D's roles.json "singleton".
	Singleton
	// SingletonMethod: one function of a singleton (applyTo "Name.fn"), 4D's
	// "singletonMethod".
	SingletonMethod
)

// String returns the roles.json spelling of the kind ("datastore", ...).
func (k Kind) String() string {
	switch k {
	case Datastore:
		return "datastore"
	case DataClass:
		return "dataclass"
	case Attribute:
		return "attribute"
	case Method:
		return "method"
	case Singleton:
		return "singleton"
	case SingletonMethod:
		return "singletonMethod"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Resource names what is being accessed. DataClass is "" for the datastore and
// for datastore functions, and the singleton's name for a singleton and its
// functions; Member is the attribute or function name.
// Names are case-sensitive.
type Resource struct {
	Kind      Kind
	DataClass string
	Member    string
}

// DatastoreResource is the datastore as a whole ("ds").
func DatastoreResource() Resource { return Resource{Kind: Datastore} }

// DataClassResource is the dataclass dc.
func DataClassResource(dc string) Resource { return Resource{Kind: DataClass, DataClass: dc} }

// AttributeResource is the attribute attr of dataclass dc.
func AttributeResource(dc, attr string) Resource {
	return Resource{Kind: Attribute, DataClass: dc, Member: attr}
}

// MethodResource is the function fn of dataclass dc, or the datastore function
// fn ("ds.fn") when dc is "".
func MethodResource(dc, fn string) Resource {
	return Resource{Kind: Method, DataClass: dc, Member: fn}
}

// SingletonResource is the singleton name as a whole.
func SingletonResource(name string) Resource { return Resource{Kind: Singleton, DataClass: name} }

// SingletonMethodResource is the function fn of singleton name.
func SingletonMethodResource(name, fn string) Resource {
	return Resource{Kind: SingletonMethod, DataClass: name, Member: fn}
}

// String returns the roles.json "applyTo" spelling of r ("ds", "Users",
// "Users.name", "ds.authentify").
func (r Resource) String() string {
	switch r.Kind {
	case Datastore:
		return "ds"
	case DataClass, Singleton:
		return r.DataClass
	}
	if r.DataClass == "" {
		return "ds." + r.Member
	}
	return r.DataClass + "." + r.Member
}

// wellFormed reports whether r has exactly the names its kind needs. A
// malformed resource is refused rather than resolved at some other level.
func (r Resource) wellFormed() bool {
	switch r.Kind {
	case Datastore:
		return r.DataClass == "" && r.Member == ""
	case DataClass:
		return r.DataClass != "" && r.Member == ""
	case Attribute:
		return r.DataClass != "" && r.Member != ""
	case Method:
		return r.Member != ""
	case Singleton:
		return r.DataClass != "" && r.Member == ""
	case SingletonMethod:
		return r.DataClass != "" && r.Member != ""
	}
	return false
}

// Reserved privilege names, declared implicitly in every configuration.
const (
	// WebAdmin is the privilege required by the administration endpoints.
	WebAdmin = "WebAdmin"
	// Guest is the pseudo privilege held by every session, so that listing it
	// opens an action to everyone.
	Guest = "guest"
)

// Config is one parsed, validated roles.json. It is immutable and safe for
// concurrent use; a reload builds a new Config. Obtain one from Default, Parse
// or Load.
type Config struct {
	forceLogin bool
	restricted bool

	// Privileges are numbered in byte order of their declared spelling, so
	// walking a bitset in index order yields a sorted list.
	privNames []string       // index -> declared spelling
	closure   []bitset       // index -> itself and every privilege it includes, transitively
	privExact map[string]int // declared spelling -> index (the hot path: held names are canonical)
	privFold  map[string]int // folded name -> index
	guestIdx  int

	roles map[string]*role // folded name -> role

	ds    rule               // datastore-level settings
	rules map[Resource]*rule // dataclass, attribute and method settings
}

// role is a declared role and the privileges it grants, expanded.
type role struct {
	name   string
	grants bitset
}

// rule is the settings of one permission entry.
type rule struct {
	settings [numActions]setting
}

// setting is one action of one permission entry.
type setting struct {
	set      bool     // the entry lists this action
	guest    bool     // "guest" is listed: everyone may
	privs    bitset   // listed privileges (not expanded: held lists are)
	promoted []string // promote only: listed privileges, expanded and sorted, without guest
}

// Default returns the configuration used when there is no roles.json: default
// login mode, nothing restricted.
func Default() *Config { return build(&document{}) }

// Load reads and parses the roles.json at path. A missing file is not an
// error: it yields Default(). Validation errors name path as their file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return parse(path, data)
}

// Parse parses and validates the contents of a roles.json file. It returns
// either a valid Config or an ErrorList naming every problem, with "roles.json"
// as the file name.
func Parse(data []byte) (*Config, error) {
	return parse("roles.json", data)
}

// ParseFile is Parse with the file name to use in error messages.
func ParseFile(file string, data []byte) (*Config, error) {
	return parse(file, data)
}

// ForceLogin reports whether new sessions are guests until a script grants
// privileges (roles.json "forceLogin").
func (c *Config) ForceLogin() bool { return c.forceLogin }

// RestrictedByDefault reports whether an action with no setting at any level
// is refused (roles.json "restrictedByDefault").
func (c *Config) RestrictedByDefault() bool { return c.restricted }

// IsPrivilege reports whether name (case-insensitive) is a declared privilege,
// WebAdmin and guest included.
func (c *Config) IsPrivilege(name string) bool {
	_, ok := c.privFold[fold(name)]
	return ok
}

// IsRole reports whether name (case-insensitive) is a declared role.
func (c *Config) IsRole(name string) bool {
	_, ok := c.roles[fold(name)]
	return ok
}

// Canonical returns the declared spelling of a privilege or role name, and
// false when the name is not declared.
func (c *Config) Canonical(name string) (string, bool) {
	key := fold(name)
	if i, ok := c.privFold[key]; ok {
		return c.privNames[i], true
	}
	if r, ok := c.roles[key]; ok {
		return r.name, true
	}
	return "", false
}

// Expand turns what a session was granted into the sorted, de-duplicated list
// of every privilege it holds: roles are replaced by their privileges and
// includes are followed transitively; names are spelled as declared. Names
// are case-insensitive and undeclared names are ignored. Because privilege
// and role names share one namespace, a role name in privileges (or the
// reverse) is honoured too. Guest is never listed: every session holds it.
func (c *Config) Expand(privileges, roles []string) []string {
	held := newBitset(len(c.privNames))
	for _, names := range [2][]string{privileges, roles} {
		for _, name := range names {
			key := fold(name)
			if i, ok := c.privFold[key]; ok {
				held.or(c.closure[i])
			} else if r, ok := c.roles[key]; ok {
				held.or(r.grants)
			}
		}
	}
	held.clear(c.guestIdx)
	return c.names(held)
}

// names lists the privileges of b, sorted (indexes follow name order).
func (c *Config) names(b bitset) []string {
	out := make([]string, 0, b.count())
	b.each(func(i int) { out = append(out, c.privNames[i]) })
	return out
}

// Allowed decides action a on resource r for a session holding the expanded
// privileges held (the output of Expand; guest is implicitly held).
//
// A dataclass-level setting overrides the datastore level. An attribute-level
// setting adds a condition to its dataclass: both must allow. A method is
// governed by its own execute setting, else its dataclass's, else the
// datastore's. Update and drop also need read on the same resource. An action
// with no setting at any level is open, unless RestrictedByDefault.
//
// Only meaningful questions are answered yes: read, create, update and drop
// on the datastore, a dataclass or an attribute; execute on a method (or, for
// "any function of", on a dataclass or the datastore). Promote is not an
// access (see Promoted), and an unknown action or malformed resource is
// refused.
func (c *Config) Allowed(held []string, a Action, r Resource) bool {
	ai, ok := actionIndex(a)
	if !ok || !r.wellFormed() {
		return false
	}
	if !c.allowed(held, ai, r) {
		return false
	}
	if ai == updateIdx || ai == dropIdx {
		return c.allowed(held, readIdx, r)
	}
	return true
}

// allowed decides one action, without the read that update and drop also need.
func (c *Config) allowed(held []string, ai int, r Resource) bool {
	if ai == promoteIdx {
		return false
	}
	switch r.Kind {
	case Datastore:
		return c.permits(&c.ds.settings[ai], held)
	case DataClass:
		return c.permits(c.classSetting(ai, r.DataClass), held)
	case Attribute:
		if ai == executeIdx || !c.permits(c.classSetting(ai, r.DataClass), held) {
			return false
		}
		// An unset attribute setting adds no condition, whatever
		// restrictedByDefault says: the dataclass level already decided.
		if attr := c.rules[r]; attr != nil && attr.settings[ai].set {
			return c.permits(&attr.settings[ai], held)
		}
		return true
	case Method, Singleton, SingletonMethod:
		return ai == executeIdx && c.permits(c.methodSetting(ai, r), held)
	}
	return false
}

// classSetting returns the setting governing action ai on dataclass dc: its
// own, else the datastore's (which may be unset).
func (c *Config) classSetting(ai int, dc string) *setting {
	if dc != "" {
		if r := c.rules[DataClassResource(dc)]; r != nil && r.settings[ai].set {
			return &r.settings[ai]
		}
	}
	return &c.ds.settings[ai]
}

// methodSetting returns the setting governing action ai on method m: its own,
// else its dataclass's, else the datastore's.
//
// For a singleton function: its own, else its singleton's, else the datastore's.
func (c *Config) methodSetting(ai int, m Resource) *setting {
	if r := c.rules[m]; r != nil && r.settings[ai].set {
		return &r.settings[ai]
	}
	switch m.Kind {
	case SingletonMethod:
		if r := c.rules[SingletonResource(m.DataClass)]; r != nil && r.settings[ai].set {
			return &r.settings[ai]
		}
		return &c.ds.settings[ai]
	case Singleton:
		return &c.ds.settings[ai]
	}
	return c.classSetting(ai, m.DataClass)
}

// permits applies one setting to the held privileges. It must not allocate:
// it runs for every REST request.
func (c *Config) permits(s *setting, held []string) bool {
	if !s.set {
		return !c.restricted
	}
	if s.guest {
		return true
	}
	for _, name := range held {
		i, ok := c.privExact[name]
		if !ok {
			// Not spelled as declared: a caller that did not use Expand.
			i, ok = c.privFold[fold(name)]
		}
		if ok && s.privs.has(i) {
			return true
		}
	}
	return false
}

// Promoted returns the privileges (expanded, spelled as declared, sorted) that
// method r's promote setting grants while it runs: the method's own setting,
// else its dataclass's, else the datastore's. It returns nil when no promote
// applies or r is not a method.
func (c *Config) Promoted(r Resource) []string {
	if r.Kind != Method && r.Kind != SingletonMethod || !r.wellFormed() {
		return nil
	}
	s := c.methodSetting(promoteIdx, r)
	if !s.set || len(s.promoted) == 0 {
		return nil
	}
	return slices.Clone(s.promoted)
}

// fold returns the case-insensitive key of a privilege or role name.
func fold(name string) string { return strings.ToLower(name) }

// bitset is a set of privilege indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) add(i int) { b[i/64] |= 1 << (i % 64) }

func (b bitset) clear(i int) {
	if i/64 < len(b) {
		b[i/64] &^= 1 << (i % 64)
	}
}

func (b bitset) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0 }

// or adds every member of o (of the same size) to b.
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// each calls f for every member, in increasing order.
func (b bitset) each(f func(int)) {
	for wi, w := range b {
		for w != 0 {
			f(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
}

// Resources lists the dataclasses, attributes and functions that the permissions name,
// sorted by their applyTo spelling, so that a caller can check them against the model and
// the scripts: a misspelt name is a permission that protects nothing.
func (c *Config) Resources() []Resource {
	out := make([]Resource, 0, len(c.rules))
	for r := range c.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.String(), b.String()) })
	return out
}
