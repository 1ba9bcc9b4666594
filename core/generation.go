package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"gatehouse/datastore"
	"gatehouse/engine"
	"gatehouse/internal/appfile"
	"gatehouse/roles"
)

// The app files a generation is made of.
const (
	RolesFile = "roles.json"
	ModelFile = "model.json"
)

// The script modules with a meaning of their own (SPEC §5.1). These names, and
// authentifyFunction, are known here and nowhere else: Resolve maps URL names to them.
const (
	dataStoreModule    = "DataStore"            // scripts/DataStore.js: ds.* functions
	authModule         = "onRESTAuthentication" // scripts/onRESTAuthentication.js
	authentifyFunction = "authentify"           // the force-login entry point
)

// reservedModules are module names no dataclass may take: a dataclass named DataStore
// would reach the datastore functions through /rest/DataStore/fn under the dataclass's
// permissions instead of ds.*'s.
var reservedModules = []string{dataStoreModule, authModule}

// Generation is one loaded app: roles.json, model.json and the scripts, validated together
// and swapped as one unit. It is immutable. A request pins one generation when it starts
// and uses it to the end — permission checks, function lookup and the script call — so a
// reload can never mix an old roles.json with a new model.
type Generation struct {
	Roles   *roles.Config
	Model   *datastore.Model
	Scripts *engine.Scripts // nil: no scripts folder

	// Seq numbers generations from 1, in the order they came into force.
	Seq    uint64
	Loaded time.Time
	// Warnings are things worth saying that do not reject the generation (no roles.json).
	Warnings []string

	hasRoles, hasModel bool
	modelSource        []byte // model.json as read, to skip the schema step when unchanged
}

// ModelChanged reports whether g's model.json differs from prev's (the schema step runs
// only then).
func (g *Generation) ModelChanged(prev *Generation) bool {
	return prev == nil || g.hasModel != prev.hasModel || !bytes.Equal(g.modelSource, prev.modelSource)
}

// HasAuthentication reports whether onRESTAuthentication.js decides logins.
func (g *Generation) HasAuthentication() bool { return g.Scripts.HasAuthentication() }

// ForceLogin reports whether new sessions are guests until authentify grants privileges.
func (g *Generation) ForceLogin() bool { return g.Roles.ForceLogin() }

// loader reads an app folder into generations.
type loader struct {
	dir    string
	engine ScriptHost
}

// load reads, compiles and cross-validates the whole app folder. prev is the generation
// in force (nil at start): removing a file that decides logins or permissions from a
// running server is a rejection, since falling back to a missing file's default would open
// everything (SPEC §5.6); a restart accepts the absence. Every problem is reported.
func (l *loader) load(ctx context.Context, prev *Generation) (*Generation, error) {
	g := &Generation{Loaded: time.Now()}
	var errs []error
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, fmt.Errorf("app folder %s: %w", l.dir, err)
	}
	defer root.Close()

	data, err := appfile.Read(root, RolesFile, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		g.Roles = roles.Default()
		g.Warnings = append(g.Warnings, "no roles.json: every resource is open to every session and the login mode is the default (as in 4D); add a roles.json to restrict access")
	case err != nil:
		errs = append(errs, fmt.Errorf("%s: %w", RolesFile, err))
	default:
		g.hasRoles = true
		if g.Roles, err = roles.ParseFile(filepath.Join(l.dir, RolesFile), data); err != nil {
			errs = append(errs, err)
		}
	}

	data, err = appfile.Read(root, ModelFile, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		g.Model, _ = datastore.ParseModel([]byte(`{"dataClasses":[]}`))
	case err != nil:
		errs = append(errs, fmt.Errorf("%s: %w", ModelFile, err))
	default:
		g.hasModel, g.modelSource = true, data
		if g.Model, err = datastore.ParseModelFile(filepath.Join(l.dir, ModelFile), data); err != nil {
			errs = append(errs, err)
		}
	}

	scriptsErr := error(nil)
	if g.Scripts, scriptsErr = l.engine.Load(ctx); scriptsErr != nil {
		errs = append(errs, scriptsErr)
	}

	if prev != nil {
		if prev.hasRoles && !g.hasRoles && g.Roles != nil {
			errs = append(errs, removed(RolesFile))
		}
		if prev.hasModel && !g.hasModel && g.Model != nil {
			errs = append(errs, removed(ModelFile))
		}
		if scriptsErr == nil {
			for _, m := range reservedModules {
				if prev.Scripts.Has(m) && !g.Scripts.Has(m) {
					errs = append(errs, removed("scripts/"+m+".js"))
				}
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, g.crossCheck()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return g, nil
}

func removed(file string) error {
	return fmt.Errorf("%s was removed: keeping the last good version (restart to serve without it)", file)
}

// crossCheck finds what no single file can see: dataclasses named after reserved modules,
// and permissions naming a dataclass, attribute or function that the model or the scripts
// do not have (a misspelt name is a permission that protects nothing: "Users.pasword"
// leaves the password readable).
func (g *Generation) crossCheck() []error {
	var errs []error
	for _, m := range reservedModules {
		if g.Model.DataClass(m) != nil {
			errs = append(errs, fmt.Errorf("model.json: a dataclass may not be named %q: scripts/%s.js is reserved (SPEC §7)", m, m))
		}
	}
	for _, m := range g.Scripts.Modules() {
		if strings.Contains(m, "/") || slices.Contains(reservedModules, m) || g.Model.DataClass(m) != nil {
			continue
		}
		for _, f := range g.Scripts.Functions(m) {
			if f.Scope != engine.ModuleScope {
				errs = append(errs, fmt.Errorf("scripts/%s.js: exports.%s.%s: there is no dataclass %q in model.json for its entities or selections",
					m, map[engine.Scope]string{engine.EntityScope: "entity", engine.SelectionScope: "selection"}[f.Scope], f.Name, m))
				break
			}
		}
	}
	for _, sg := range g.Singletons() {
		switch {
		case !validName(sg.Name):
			errs = append(errs, fmt.Errorf("scripts/%s.js: a singleton name must be an identifier (letters, digits, _ and $)", singletonModule(sg.Name)))
		case g.Model.DataClass(sg.Name) != nil || slices.Contains(reservedModules, sg.Name):
			errs = append(errs, fmt.Errorf("scripts/%s.js: the singleton %q clashes with the dataclass or module of that name", singletonModule(sg.Name), sg.Name))
		}
	}
	for _, r := range g.Roles.Resources() {
		if problem := g.dangling(r); problem != "" {
			errs = append(errs, fmt.Errorf("roles.json: permission on %q (%s): %s", r.String(), r.Kind, problem))
		}
	}
	return errs
}

// dangling says what is missing for the permission resource r, "" when nothing is.
func (g *Generation) dangling(r roles.Resource) string {
	switch r.Kind {
	case roles.DataClass:
		if g.Model.DataClass(r.DataClass) == nil {
			return "no such dataclass in model.json"
		}
	case roles.Attribute:
		dc := g.Model.DataClass(r.DataClass)
		if dc == nil {
			return "no such dataclass in model.json"
		}
		if dc.Attribute(r.Member) == nil {
			return "no such attribute in model.json"
		}
	case roles.Singleton:
		if !g.Scripts.Has(singletonModule(r.DataClass)) {
			return fmt.Sprintf("no scripts/%s.js", singletonModule(r.DataClass))
		}
	case roles.SingletonMethod:
		if _, ok := g.Scripts.Function(singletonModule(r.DataClass), r.Member); !ok {
			return fmt.Sprintf("scripts/%s.js exports no function %q", singletonModule(r.DataClass), r.Member)
		}
	case roles.Method:
		module := r.DataClass
		if module == "" {
			module = dataStoreModule
		} else if g.Model.DataClass(module) == nil {
			return "no such dataclass in model.json"
		}
		if !g.hasFunction(module, r.Member) {
			return fmt.Sprintf("scripts/%s.js exports no function %q", module, r.Member)
		}
	}
	return ""
}

// Check loads the app folder in dir once and reports every problem, without serving it
// (gatehouse check). warnings are the generation's warnings when it loads.
func Check(ctx context.Context, dir string) (warnings []string, err error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("app folder %s: not a folder", dir)
	}
	eng, err := engine.New(engine.Options{Dir: filepath.Join(dir, "scripts")})
	if err != nil {
		return nil, err
	}
	g, err := (&loader{dir: dir, engine: eng}).load(ctx, nil)
	if err != nil {
		return nil, err
	}
	return g.Warnings, nil
}

// FuncKind is what a function URL names a function of.
type FuncKind uint8

const (
	// DatastoreFunction: POST /rest/$catalog/{fn}, a function of scripts/DataStore.js.
	DatastoreFunction FuncKind = iota
	// DataClassFunction: POST /rest/{DC}/{fn}, a function of scripts/{DC}.js.
	DataClassFunction
	// EntityFunction: POST /rest/{DC}({key})/{fn}, exports.entity.fn of scripts/{DC}.js.
	EntityFunction
	// SelectionFunction: POST /rest/{DC}/{fn}?$filter=… and /rest/{DC}/$entityset/{ID}/{fn},
	// exports.selection.fn of scripts/{DC}.js.
	SelectionFunction
	// SingletonFunction: POST /rest/$singleton/{Name}/{fn}, a function of
	// scripts/singletons/{Name}.js (Resolve's dataClass is the singleton's name).
	SingletonFunction
)

// singletonModule is the module of singleton name.
func singletonModule(name string) string { return engine.SingletonFolder + "/" + name }

// Singleton is a singleton and its exported functions (for $catalog).
type Singleton struct {
	Name      string
	Functions []engine.FunctionInfo
}

// Singletons lists the singletons (scripts/singletons/*.js), sorted by name.
func (g *Generation) Singletons() []Singleton {
	var out []Singleton
	for _, m := range g.Scripts.Modules() {
		if name, ok := strings.CutPrefix(m, engine.SingletonFolder+"/"); ok {
			out = append(out, Singleton{Name: name, Functions: g.Scripts.Functions(m)})
		}
	}
	return out
}

// scope is where in its module a function of kind k is exported.
func (k FuncKind) scope() engine.Scope {
	switch k {
	case EntityFunction:
		return engine.EntityScope
	case SelectionFunction:
		return engine.SelectionScope
	}
	return engine.ModuleScope
}

// hasFunction reports whether module exports name in any scope: a method permission
// "DC.fn" guards the dataclass, entity and selection functions named fn alike (as 4D's
// roles.json names functions by dataclass and name only).
func (g *Generation) hasFunction(module, name string) bool {
	for _, s := range []engine.Scope{engine.ModuleScope, engine.EntityScope, engine.SelectionScope} {
		if _, ok := g.Scripts.FunctionIn(module, s, name); ok {
			return true
		}
	}
	return false
}

// Target is a script function a URL names, resolved: the module to run, the function, and
// the permission resource that guards it.
type Target struct {
	Module   string
	Function string
	// Kind is the kind of function: an entity or selection function runs with a this.
	Kind     FuncKind
	Resource roles.Resource
	// OnHTTPGet: the script opened the function to GET (exports.f.onHttpGet = true).
	OnHTTPGet bool
	// entry: authentify, the force-login entry point, callable by every session (guests
	// included) whatever roles.json says (SPEC §3.3).
	entry bool
}

// Resolve is the one map from a function URL — (kind, dataclass, name) — to the script
// module and function it runs and the permission resource that guards it. dataClass is
// ignored for DatastoreFunction. An unknown or unexposed dataclass, or a function its
// module does not export, is ErrUnknownFunction.
func (g *Generation) Resolve(kind FuncKind, dataClass, name string) (Target, error) {
	var t Target
	switch kind {
	case DatastoreFunction:
		t = Target{Module: dataStoreModule, Function: name, Resource: roles.MethodResource("", name),
			entry: name == authentifyFunction}
	case SingletonFunction:
		if dataClass == "" || strings.ContainsAny(dataClass, "/\\.") {
			return Target{}, ErrUnknownFunction
		}
		t = Target{Module: singletonModule(dataClass), Function: name, Resource: roles.SingletonMethodResource(dataClass, name)}
	case DataClassFunction, EntityFunction, SelectionFunction:
		dc := g.Model.DataClass(dataClass)
		if dc == nil || !dc.Exposed || slices.Contains(reservedModules, dc.Name) {
			return Target{}, ErrUnknownFunction
		}
		t = Target{Module: dc.Name, Function: name, Resource: roles.MethodResource(dc.Name, name)}
	default:
		return Target{}, ErrUnknownFunction
	}
	t.Kind = kind
	info, ok := g.Scripts.FunctionIn(t.Module, kind.scope(), t.Function)
	if !ok {
		return Target{}, ErrUnknownFunction
	}
	t.OnHTTPGet = info.OnHTTPGet
	return t, nil
}

// DataClassFunctions lists the exported functions of dataclass dc, of every scope (for
// $catalog): FunctionInfo.Scope says whether each is a dataclass, entity or selection
// function.
func (g *Generation) DataClassFunctions(dc string) []engine.FunctionInfo {
	if slices.Contains(reservedModules, dc) {
		return nil
	}
	return g.Scripts.Functions(dc)
}

// validName reports whether s is an identifier: letters, digits, _ and $, not starting with
// a digit (the names roles.json can name).
func validName(s string) bool {
	for i, c := range s {
		switch {
		case c == '_' || c == '$' || unicode.IsLetter(c):
		case i > 0 && unicode.IsDigit(c):
		default:
			return false
		}
	}
	return s != ""
}
