package datastore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/jsonpos"
)

// Attribute types (Attribute.Type of storage attributes).
const (
	TypeString = "string"
	TypeLong   = "long"
	TypeNumber = "number"
	TypeBool   = "bool"
	TypeDate   = "date"
	TypeUUID   = "uuid"
	TypeObject = "object"
	// TypeBlob and TypePicture are binary attributes (binary.go): bytes stored in the database,
	// never read with the entity; REST shows them as deferred URIs ($catalog: "blob", "image").
	TypeBlob    = "blob"
	TypePicture = "picture"
)

// Attribute kinds (Attribute.Kind).
const (
	KindStorage         = "storage"
	KindRelatedEntity   = "relatedEntity"
	KindRelatedEntities = "relatedEntities"
)

// DefaultModelFile is the file name ParseModel uses in its error messages.
const DefaultModelFile = "model.json"

// maxNameLen keeps names within PostgreSQL's identifier limit, so a model stays portable.
const maxNameLen = 63

var storageTypes = map[string]bool{
	TypeString: true, TypeLong: true, TypeNumber: true, TypeBool: true,
	TypeDate: true, TypeUUID: true, TypeObject: true, TypeBlob: true, TypePicture: true,
}

// Model is a parsed model.json: the dataclasses of the datastore. A Model is immutable once
// parsed; build one with ParseModel or LoadModel (which validate it and link relations).
type Model struct {
	DataClasses []*DataClass

	byName map[string]*DataClass
}

// DataClass returns the dataclass called name (case-sensitive), or nil.
func (m *Model) DataClass(name string) *DataClass {
	if m == nil {
		return nil
	}
	if m.byName != nil {
		return m.byName[name]
	}
	for _, dc := range m.DataClasses {
		if dc.Name == name {
			return dc
		}
	}
	return nil
}

// DataClass describes one dataclass (one table).
type DataClass struct {
	Name       string
	Exposed    bool
	Attributes []*Attribute // in declaration order; an implicit key comes first
	// Key is the primary key attribute. When model.json declares none, ParseModel adds an
	// attribute "ID" of type long, autoincrement, as the first attribute (4D does the same for
	// new tables); declaring an attribute named "ID" that is not the key is then an error.
	Key *Attribute

	byName map[string]*Attribute
}

// Attribute returns the attribute called name (case-sensitive), or nil.
func (dc *DataClass) Attribute(name string) *Attribute {
	if dc.byName != nil {
		return dc.byName[name]
	}
	for _, a := range dc.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// ParseKey converts a key written as in URLs ("12", "A1B2…") to the Go value used in
// Entity.Key: int64 for long keys, string for string and uuid keys (uuid normalised to 32
// upper-case hex digits). It fails with a *ValueError when s cannot be a key of dc.
func (dc *DataClass) ParseKey(s string) (any, error) {
	return normalizeKey(dc.Key, s)
}

// Attribute describes one attribute of a dataclass.
type Attribute struct {
	Name string
	// Type is the storage type (string, long, number, bool, date, uuid, object, blob, picture); for relatedEntity
	// and relatedEntities it is the name of the related dataclass (the REST catalog shows
	// "<Name>Selection" for relatedEntities).
	Type          string
	Kind          string // KindStorage, KindRelatedEntity or KindRelatedEntities
	PrimaryKey    bool
	Autoincrement bool // on the key only: long keys count up, uuid keys are generated
	Indexed       bool // as declared; keys and relatedEntity columns are indexed in any case
	Exposed       bool
	// Path is, for relatedEntities, the name of the relatedEntity attribute on the other side
	// ("manager" for "staff"); "" otherwise.
	Path string
	// Related is the related dataclass for both relation kinds; nil for storage attributes.
	Related *DataClass
}

// IsStorage reports whether the attribute holds a value of its own (not a relation).
func (a *Attribute) IsStorage() bool { return a.Kind == KindStorage }

// IsBinary reports whether the attribute holds bytes (blob or picture): entity reads carry a
// BinaryInfo for it, DB.Binary reads the bytes.
func (a *Attribute) IsBinary() bool {
	return a.Kind == KindStorage && (a.Type == TypeBlob || a.Type == TypePicture)
}

// valueType is the type of the values the attribute holds in Entity.Values: its own type for
// storage attributes, the related key's type for a relatedEntity (a foreign key).
func (a *Attribute) valueType() string {
	if a.Kind == KindRelatedEntity {
		return a.Related.Key.Type
	}
	return a.Type
}

// hasColumn reports whether the attribute is stored in a column of its dataclass's table.
func (a *Attribute) hasColumn() bool { return a.Kind != KindRelatedEntities }

// ParseModel parses and validates model.json content. Errors are ModelErrors, each naming the
// file ("model.json"), line, column and JSON path of a problem.
func ParseModel(data []byte) (*Model, error) {
	return ParseModelFile(DefaultModelFile, data)
}

// LoadModel reads and parses the model file at path; errors name path. A missing file is an
// empty model (an app without dataclasses), not an error.
func LoadModel(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return emptyModel(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	return ParseModelFile(path, data)
}

// ParseModelFile is ParseModel with the file name to use in error messages.
func ParseModelFile(file string, data []byte) (*Model, error) {
	p := &modelParser{file: file, lines: jsonpos.NewLines(data), sources: map[*Attribute]attrSource{}}
	root, err := jsonpos.Parse(data)
	if err != nil {
		off := 0
		if se := (*jsonpos.SyntaxError)(nil); errors.As(err, &se) {
			off = se.Off
		}
		p.errorf(off, "", "invalid JSON: %v", err)
		return nil, p.errs
	}
	// A later value silently winning would hide mistakes, so a duplicate key makes the
	// document invalid, like a syntax error.
	if dup := jsonpos.FirstDuplicate(root); dup != nil {
		p.errorf(dup.KeyOff, "", "invalid JSON: duplicate key %q", dup.Key)
		return nil, p.errs
	}
	m := p.model(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return m, nil
}

func emptyModel() *Model { return &Model{byName: map[string]*DataClass{}} }

// modelParser validates the JSON tree and builds the Model, collecting every problem.
type modelParser struct {
	file    string
	lines   *jsonpos.Lines
	errs    ModelErrors
	sources map[*Attribute]attrSource
	dcPaths map[*DataClass]string
	dcNodes map[*DataClass]*jsonpos.Value
}

// attrSource remembers where an attribute was declared, for checks that need the whole model.
type attrSource struct {
	path     string
	node     *jsonpos.Value
	typeNode *jsonpos.Value
}

func (p *modelParser) errorf(off int, path, format string, args ...any) {
	line, col := p.lines.LineCol(off)
	p.errs = append(p.errs, &ModelError{
		File: p.file, Line: line, Col: col, Path: path, Message: fmt.Sprintf(format, args...),
	})
}

func (p *modelParser) model(root *jsonpos.Value) *Model {
	m := emptyModel()
	p.dcPaths = map[*DataClass]string{}
	p.dcNodes = map[*DataClass]*jsonpos.Value{}
	if root.Kind != jsonpos.Object {
		p.errorf(root.Off, "$", "must be an object, not %s", root.Kind)
		return m
	}
	for _, mem := range root.Fields {
		if mem.Key != "dataClasses" {
			p.errorf(mem.KeyOff, "$", "unknown key %q (expected \"dataClasses\")", mem.Key)
			continue
		}
		if mem.Val.Kind != jsonpos.Array {
			p.errorf(mem.Val.Off, "$.dataClasses", "must be an array, not %s", mem.Val.Kind)
			continue
		}
		folded := map[string]bool{}
		for i, n := range mem.Val.Elems {
			path := fmt.Sprintf("$.dataClasses[%d]", i)
			dc := p.dataClass(path, n)
			if dc == nil {
				continue
			}
			if folded[strings.ToLower(dc.Name)] {
				p.errorf(n.Off, path+".name", "duplicate dataclass name %q (names must differ by more than case)", dc.Name)
				continue
			}
			folded[strings.ToLower(dc.Name)] = true
			m.DataClasses = append(m.DataClasses, dc)
			m.byName[dc.Name] = dc
		}
	}
	for _, dc := range m.DataClasses {
		p.resolveRelations(m, dc)
	}
	return m
}

func (p *modelParser) dataClass(path string, n *jsonpos.Value) *DataClass {
	if n.Kind != jsonpos.Object {
		p.errorf(n.Off, path, "must be an object, not %s", n.Kind)
		return nil
	}
	dc := &DataClass{Exposed: true, byName: map[string]*Attribute{}}
	var attrs *jsonpos.Value
	nameOK := false
	for _, mem := range n.Fields {
		switch mem.Key {
		case "name":
			nameOK = p.name(path+".name", mem.Val, &dc.Name)
		case "exposed":
			p.boolean(path+".exposed", mem.Val, &dc.Exposed)
		case "attributes":
			if mem.Val.Kind != jsonpos.Array {
				p.errorf(mem.Val.Off, path+".attributes", "must be an array, not %s", mem.Val.Kind)
				continue
			}
			attrs = mem.Val
		default:
			p.errorf(mem.KeyOff, path, "unknown key %q", mem.Key)
		}
	}
	if !n.Has("name") {
		p.errorf(n.Off, path, "missing \"name\"")
	}
	if !nameOK {
		return nil
	}
	p.dcPaths[dc] = path
	p.dcNodes[dc] = n
	folded := map[string]bool{}
	if attrs != nil {
		for i, an := range attrs.Elems {
			apath := fmt.Sprintf("%s.attributes[%d]", path, i)
			a := p.attribute(apath, an)
			if a == nil {
				continue
			}
			if folded[strings.ToLower(a.Name)] {
				p.errorf(an.Off, apath+".name", "duplicate attribute name %q (names must differ by more than case)", a.Name)
				continue
			}
			folded[strings.ToLower(a.Name)] = true
			if a.PrimaryKey {
				if dc.Key != nil {
					p.errorf(an.Off, apath+".primaryKey", "dataclass %q already has primary key %q", dc.Name, dc.Key.Name)
					continue
				}
				dc.Key = a
			}
			dc.Attributes = append(dc.Attributes, a)
			dc.byName[a.Name] = a
		}
	}
	if dc.Key == nil {
		if id := dc.byName["ID"]; id != nil {
			p.errorf(p.sources[id].node.Off, p.sources[id].path,
				"dataclass %q has no primary key: mark an attribute \"primaryKey\": true (an implicit key would be called \"ID\")", dc.Name)
			return dc
		}
		if folded["id"] {
			p.errorf(n.Off, path, "dataclass %q has no primary key: mark an attribute \"primaryKey\": true", dc.Name)
			return dc
		}
		dc.Key = &Attribute{
			Name: "ID", Type: TypeLong, Kind: KindStorage,
			PrimaryKey: true, Autoincrement: true, Exposed: true,
		}
		dc.Attributes = append([]*Attribute{dc.Key}, dc.Attributes...)
		dc.byName["ID"] = dc.Key
	}
	return dc
}

func (p *modelParser) attribute(path string, n *jsonpos.Value) *Attribute {
	if n.Kind != jsonpos.Object {
		p.errorf(n.Off, path, "must be an object, not %s", n.Kind)
		return nil
	}
	a := &Attribute{Kind: KindStorage, Exposed: true}
	src := attrSource{path: path, node: n}
	ok := true
	var kindNode, pathNode *jsonpos.Value
	for _, mem := range n.Fields {
		fpath := path + "." + mem.Key
		switch mem.Key {
		case "name":
			ok = p.name(fpath, mem.Val, &a.Name) && ok
		case "kind":
			kindNode = mem.Val
			ok = p.str(fpath, mem.Val, &a.Kind) && ok
		case "type":
			src.typeNode = mem.Val
			ok = p.str(fpath, mem.Val, &a.Type) && ok
		case "path":
			pathNode = mem.Val
			ok = p.str(fpath, mem.Val, &a.Path) && ok
		case "primaryKey":
			ok = p.boolean(fpath, mem.Val, &a.PrimaryKey) && ok
		case "autoincrement":
			ok = p.boolean(fpath, mem.Val, &a.Autoincrement) && ok
		case "indexed":
			ok = p.boolean(fpath, mem.Val, &a.Indexed) && ok
		case "exposed":
			ok = p.boolean(fpath, mem.Val, &a.Exposed) && ok
		default:
			p.errorf(mem.KeyOff, path, "unknown key %q", mem.Key)
			ok = false
		}
	}
	if !n.Has("name") {
		p.errorf(n.Off, path, "missing \"name\"")
		return nil
	}
	if !ok {
		return nil
	}
	src.node = n
	switch a.Kind {
	case KindStorage:
		switch {
		case src.typeNode == nil:
			p.errorf(n.Off, path, "missing \"type\" (one of string, long, number, bool, date, uuid, object, blob, picture)")
			ok = false
		case !storageTypes[a.Type]:
			p.errorf(src.typeNode.Off, path+".type", "unknown type %q (expected string, long, number, bool, date, uuid, object, blob or picture)", a.Type)
			ok = false
		}
		if pathNode != nil {
			p.errorf(pathNode.Off, path+".path", "\"path\" is only allowed on relatedEntities attributes")
			ok = false
		}
		if a.Indexed && (a.Type == TypeBlob || a.Type == TypePicture) {
			p.errorf(n.Off, path+".indexed", "a %s attribute cannot be indexed", a.Type)
			ok = false
		}
	case KindRelatedEntity:
		if src.typeNode == nil {
			p.errorf(n.Off, path, "missing \"type\": the related dataclass")
			ok = false
		}
		if pathNode != nil {
			p.errorf(pathNode.Off, path+".path", "\"path\" is only allowed on relatedEntities attributes")
			ok = false
		}
	case KindRelatedEntities:
		if pathNode == nil {
			p.errorf(n.Off, path, "missing \"path\": the relatedEntity attribute on the other side")
			ok = false
		}
		if a.Indexed {
			p.errorf(n.Off, path+".indexed", "a relatedEntities attribute cannot be indexed")
			ok = false
		}
	default:
		p.errorf(kindNode.Off, path+".kind", "unknown kind %q (expected storage, relatedEntity or relatedEntities)", a.Kind)
		return nil
	}
	if a.PrimaryKey {
		switch {
		case a.Kind != KindStorage:
			p.errorf(n.Off, path+".primaryKey", "a relation cannot be the primary key")
			ok = false
		case a.Type != TypeLong && a.Type != TypeString && a.Type != TypeUUID:
			p.errorf(n.Off, path+".primaryKey", "the primary key must be of type long, string or uuid, not %q", a.Type)
			ok = false
		}
	}
	if a.Autoincrement {
		switch {
		case !a.PrimaryKey:
			p.errorf(n.Off, path+".autoincrement", "autoincrement is only supported on the primary key")
			ok = false
		case a.Type != TypeLong && a.Type != TypeUUID:
			p.errorf(n.Off, path+".autoincrement", "autoincrement needs a long or uuid key, not %q", a.Type)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	p.sources[a] = src
	return a
}

// resolveRelations links relation attributes to their dataclasses, once all are known.
func (p *modelParser) resolveRelations(m *Model, dc *DataClass) {
	for _, a := range dc.Attributes {
		src, ok := p.sources[a]
		if !ok { // the implicit key
			continue
		}
		switch a.Kind {
		case KindRelatedEntity:
			a.Related = m.DataClass(a.Type)
			if a.Related == nil {
				p.errorf(src.typeNode.Off, src.path+".type", "unknown dataclass %q", a.Type)
			}
		case KindRelatedEntities:
			p.resolveInverse(m, dc, a, src)
		}
	}
}

// resolveInverse finds the dataclass of a relatedEntities attribute: the one named by "type"
// ("Employee" or 4D's "EmployeeSelection"), else the only dataclass whose attribute "path" is a
// relatedEntity pointing back at dc.
func (p *modelParser) resolveInverse(m *Model, dc *DataClass, a *Attribute, src attrSource) {
	if src.typeNode != nil {
		target := m.DataClass(a.Type)
		if target == nil {
			target = m.DataClass(strings.TrimSuffix(a.Type, "Selection"))
		}
		if target == nil {
			p.errorf(src.typeNode.Off, src.path+".type", "unknown dataclass %q", a.Type)
			return
		}
		back := target.Attribute(a.Path)
		if back == nil || back.Kind != KindRelatedEntity || back.Type != dc.Name {
			p.errorf(src.node.Off, src.path+".path", "%s.%s must be a relatedEntity attribute of type %q", target.Name, a.Path, dc.Name)
			return
		}
		a.Related, a.Type = target, target.Name
		return
	}
	var found []*DataClass
	for _, other := range m.DataClasses {
		if back := other.Attribute(a.Path); back != nil && back.Kind == KindRelatedEntity && back.Type == dc.Name {
			found = append(found, other)
		}
	}
	switch len(found) {
	case 0:
		p.errorf(src.node.Off, src.path+".path", "no dataclass has a relatedEntity attribute %q of type %q", a.Path, dc.Name)
	case 1:
		a.Related, a.Type = found[0], found[0].Name
	default:
		p.errorf(src.node.Off, src.path+".path", "several dataclasses have a relatedEntity attribute %q of type %q: add \"type\"", a.Path, dc.Name)
	}
}

func (p *modelParser) name(path string, n *jsonpos.Value, dst *string) bool {
	if !p.str(path, n, dst) {
		return false
	}
	if msg := checkName(*dst); msg != "" {
		p.errorf(n.Off, path, "%s", msg)
		return false
	}
	return true
}

func (p *modelParser) str(path string, n *jsonpos.Value, dst *string) bool {
	if n.Kind != jsonpos.String {
		p.errorf(n.Off, path, "must be a string, not %s", n.Kind)
		return false
	}
	*dst = n.Str
	return true
}

func (p *modelParser) boolean(path string, n *jsonpos.Value, dst *bool) bool {
	if n.Kind != jsonpos.Bool {
		p.errorf(n.Off, path, "must be true or false, not %s", n.Kind)
		return false
	}
	*dst = n.Bool
	return true
}

// checkName returns why name cannot name a dataclass or attribute, or "". Names are identifiers
// (letters, digits, '_') because they appear in URLs and query paths; a leading "__" is reserved
// for the stamp and timestamp columns and the schema tables.
func checkName(name string) string {
	switch {
	case name == "":
		return "name must not be empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name %q is longer than %d bytes", name, maxNameLen)
	case strings.HasPrefix(name, "__"):
		return fmt.Sprintf("name %q must not start with \"__\" (reserved)", name)
	}
	for i, r := range name {
		if r == utf8.RuneError || !(isIdentStart(r) || i > 0 && isIdentPart(r)) {
			return fmt.Sprintf("name %q must consist of letters, digits and '_' and not start with a digit", name)
		}
	}
	return ""
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return isIdentStart(r) || unicode.IsDigit(r) }

// prepare checks the invariants the store relies on and indexes names of hand-built models.
// ParseModel output always passes and is not written to (it may be read concurrently).
func (m *Model) prepare() error {
	index := m.byName == nil
	if index {
		m.byName = map[string]*DataClass{}
	}
	for _, dc := range m.DataClasses {
		if msg := checkName(dc.Name); msg != "" {
			return fmt.Errorf("datastore: dataclass: %s", msg)
		}
		if index {
			m.byName[dc.Name] = dc
		}
		if dc.Key == nil || !dc.Key.PrimaryKey {
			return fmt.Errorf("datastore: dataclass %q has no primary key", dc.Name)
		}
		indexAttrs := dc.byName == nil
		if indexAttrs {
			dc.byName = map[string]*Attribute{}
		}
		for _, a := range dc.Attributes {
			if msg := checkName(a.Name); msg != "" {
				return fmt.Errorf("datastore: %s: %s", dc.Name, msg)
			}
			if indexAttrs {
				dc.byName[a.Name] = a
			}
			switch a.Kind {
			case KindStorage:
				if !storageTypes[a.Type] {
					return fmt.Errorf("datastore: %s.%s: unknown type %q", dc.Name, a.Name, a.Type)
				}
			case KindRelatedEntity, KindRelatedEntities:
				if a.Related == nil || a.Related.Key == nil {
					return fmt.Errorf("datastore: %s.%s: relation not resolved (build models with ParseModel)", dc.Name, a.Name)
				}
			default:
				return fmt.Errorf("datastore: %s.%s: unknown kind %q", dc.Name, a.Name, a.Kind)
			}
		}
	}
	return nil
}
