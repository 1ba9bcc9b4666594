package engine

import (
	_ "embed"
	"path"
	"reflect"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"
)

// Shared modules.
//
// A call must not see anything an earlier call left behind. The simple way is
// to run every module's top-level code again in each call, which costs more
// than a trivial function itself. Most modules, though, only declare: their
// top level defines functions, binds constants to literals, functions or
// required modules, and assigns functions to exports. Such a module is *pure*
// (see analyze), and a pure module whose static requires are all shared is
// *shared*: a runtime evaluates it once per script set, deep-freezes all it
// made (the module object, its exports, its require function and every
// top-level binding's value), and every later call on that runtime reuses it.
// Nothing in a shared module can then change: its bindings are never assigned
// (analyze checks every assignment in the file), and the objects they hold
// are frozen, so a call that tries throws a TypeError (scripts are strict).
//
// Every other module runs as before, fresh in every call: its state (a `let`
// counter, a cache object, exported data) is the call's own.

//go:embed freeze.js
var freezeSource string

var freezeProgram = goja.MustCompile("gatehouse:freeze", freezeSource, true)

// shape is what the compiler learnt of a file for sharing.
type shape struct {
	pure  bool
	specs []string // the require() arguments of its top level
}

// analyze decides whether a module's top level is pure and returns the names
// of its top-level bindings (the wrapper returns their values, to freeze them)
// and what its top level requires.
//
// Pure means: every statement is a function declaration, a var/let/const
// declaration initialised with a "simple" expression (a primitive literal, a
// function, a require('…') of a literal path, an identifier, or a property of
// one of these), an assignment to exports (or module.exports) of functions,
// or an assignment to a property of an export (exports.f.onHttpGet = true);
// no top-level binding, nor exports, module or require, is assigned anywhere
// in the file; and the file never names eval (a direct eval could reach the
// bindings).
func analyze(prg *ast.Program) (names []string, sh shape) {
	fnLike := map[string]bool{} // top-level names bound to a function or a module
	isSimple := func(e ast.Expression) bool { return simple(e, &sh.specs) }
	exported := func(e ast.Expression) bool {
		switch x := e.(type) {
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
			return true
		case *ast.Identifier:
			return fnLike[x.Name.String()]
		}
		return requireOf(e) != "" && isSimple(e)
	}
	for _, st := range prg.Body {
		switch s := st.(type) {
		case *ast.EmptyStatement:
		case *ast.FunctionDeclaration:
			n := s.Function.Name.Name.String()
			names = append(names, n)
			fnLike[n] = true
		case *ast.VariableStatement, *ast.LexicalDeclaration:
			var list []*ast.Binding
			if v, ok := s.(*ast.VariableStatement); ok {
				list = v.List
			} else {
				list = s.(*ast.LexicalDeclaration).List
			}
			for _, b := range list {
				if b.Initializer != nil && !isSimple(b.Initializer) {
					return nil, shape{}
				}
				bound, ok := targetNames(b.Target)
				if !ok {
					return nil, shape{}
				}
				names = append(names, bound...)
				if id, ok := b.Target.(*ast.Identifier); ok {
					switch b.Initializer.(type) {
					case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
						fnLike[id.Name.String()] = true
					default:
						fnLike[id.Name.String()] = requireOf(b.Initializer) != ""
					}
				}
			}
		case *ast.ExpressionStatement:
			if _, ok := s.Expression.(*ast.StringLiteral); ok {
				continue // a directive ("use strict")
			}
			a, ok := s.Expression.(*ast.AssignExpression)
			if !ok || a.Operator != token.ASSIGN {
				return nil, shape{}
			}
			depth, ok := exportPath(a.Left)
			switch {
			case !ok:
				return nil, shape{}
			case depth > 1: // exports.f.onHttpGet = true: a property of an export
				if !isSimple(a.Right) {
					return nil, shape{}
				}
			case depth == 0: // module.exports = …
				if obj, isObj := a.Right.(*ast.ObjectLiteral); isObj {
					for _, p := range obj.Value {
						switch p := p.(type) {
						case *ast.PropertyShort:
							if p.Initializer != nil || !fnLike[p.Name.Name.String()] {
								return nil, shape{}
							}
						case *ast.PropertyKeyed:
							if p.Computed || (p.Kind != ast.PropertyKindValue && p.Kind != ast.PropertyKindMethod) || !exported(p.Value) {
								return nil, shape{}
							}
						default:
							return nil, shape{}
						}
					}
				} else if !exported(a.Right) {
					return nil, shape{}
				}
			default: // exports.name = …
				if !exported(a.Right) {
					return nil, shape{}
				}
			}
		default:
			return nil, shape{}
		}
	}
	// No binding of the module's scope may change after its top level ran.
	frozen := map[string]bool{"exports": true, "module": true, "require": true, "__filename": true, "__dirname": true}
	for _, n := range names {
		frozen[n] = true
	}
	ok := true
	walk(reflect.ValueOf(prg), func(n ast.Node) {
		switch x := n.(type) {
		case *ast.Identifier:
			if x.Name == "eval" {
				ok = false
			}
		case *ast.AssignExpression:
			ok = ok && !assigns(x.Left, frozen)
		case *ast.UnaryExpression:
			if x.Operator == token.INCREMENT || x.Operator == token.DECREMENT {
				ok = ok && !assigns(x.Operand, frozen)
			}
		case *ast.ForIntoExpression:
			ok = ok && !assigns(x.Expression, frozen)
		}
	})
	if !ok {
		return nil, shape{}
	}
	sh.pure = true
	return names, sh
}

// simple reports whether evaluating e can make no object but functions, and
// adds the paths it requires to specs.
func simple(e ast.Expression, specs *[]string) bool {
	switch x := e.(type) {
	case *ast.StringLiteral, *ast.NumberLiteral, *ast.BooleanLiteral, *ast.NullLiteral,
		*ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.Identifier:
		return true
	case *ast.TemplateLiteral:
		return x.Tag == nil && len(x.Expressions) == 0
	case *ast.DotExpression:
		return simple(x.Left, specs)
	case *ast.CallExpression:
		if spec := requireOf(x); spec != "" {
			*specs = append(*specs, spec)
			return true
		}
	}
	return false
}

// requireOf returns the path of require('path') (or of a property of it), "" when e is not one.
func requireOf(e ast.Expression) string {
	for {
		d, ok := e.(*ast.DotExpression)
		if !ok {
			break
		}
		e = d.Left
	}
	c, ok := e.(*ast.CallExpression)
	if !ok || len(c.ArgumentList) != 1 {
		return ""
	}
	if id, ok := c.Callee.(*ast.Identifier); !ok || id.Name != "require" {
		return ""
	}
	if s, ok := c.ArgumentList[0].(*ast.StringLiteral); ok && s.Value != "" {
		return s.Value.String()
	}
	return ""
}

// exportPath reports whether e is exports.a[.b…] (depth 1, 2…) or module.exports[.a…]
// (depth 0, 1…).
func exportPath(e ast.Expression) (int, bool) {
	depth := 0
	for {
		d, ok := e.(*ast.DotExpression)
		if !ok {
			break
		}
		if id, ok := d.Left.(*ast.Identifier); ok && id.Name == "module" {
			return depth, d.Identifier.Name == "exports"
		}
		depth++
		e = d.Left
	}
	id, ok := e.(*ast.Identifier)
	return depth, ok && id.Name == "exports" && depth > 0
}

// targetNames lists the names a declaration binds: an identifier, or an object pattern
// of plain names ({a, b: c}).
func targetNames(t ast.BindingTarget) ([]string, bool) {
	switch x := t.(type) {
	case *ast.Identifier:
		return []string{x.Name.String()}, true
	case *ast.ObjectPattern:
		if x.Rest != nil {
			return nil, false
		}
		var names []string
		for _, p := range x.Properties {
			switch p := p.(type) {
			case *ast.PropertyShort:
				if p.Initializer != nil {
					return nil, false
				}
				names = append(names, p.Name.Name.String())
			case *ast.PropertyKeyed:
				id, ok := p.Value.(*ast.Identifier)
				if !ok || p.Computed {
					return nil, false
				}
				names = append(names, id.Name.String())
			default:
				return nil, false
			}
		}
		return names, true
	}
	return nil, false
}

// assigns reports whether an assignment target names one of names, directly or in a
// destructuring pattern. It errs on the side of yes: a local variable of the same name
// counts too.
func assigns(target ast.Node, names map[string]bool) bool {
	if id, ok := target.(*ast.Identifier); ok {
		return names[id.Name.String()]
	}
	if _, ok := target.(*ast.DotExpression); ok {
		return false // a property: the object is frozen, or not the module's
	}
	found := false
	walk(reflect.ValueOf(target), func(n ast.Node) {
		if id, ok := n.(*ast.Identifier); ok && names[id.Name.String()] {
			found = true
		}
	})
	return found
}

var nodeType = reflect.TypeFor[ast.Node]()

// walk calls f on every node of the tree under v (an AST node or a value holding nodes).
func walk(v reflect.Value, f func(ast.Node)) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), f)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type().Implements(nodeType) {
			f(v.Interface().(ast.Node))
		}
		if v.Elem().Kind() == reflect.Struct {
			walk(v.Elem(), f)
		}
	case reflect.Struct:
		t := v.Type()
		if t.PkgPath() != "" && !strings.HasSuffix(t.PkgPath(), "goja/ast") {
			return // file positions and the like
		}
		if t == reflect.TypeFor[ast.Identifier]() {
			if v.CanAddr() {
				f(v.Addr().Interface().(ast.Node))
			}
			return
		}
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				walk(v.Field(i), f)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), f)
		}
	}
}

// sharing decides which modules of sc are shared: pure ones whose top-level requires
// resolve to shared modules and that are in no require cycle.
func (sc *Scripts) sharing(shapes map[string]shape) {
	sc.shared = map[string]bool{}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(f string) bool
	visit = func(f string) bool {
		switch state[f] {
		case visiting:
			return false // a cycle
		case done:
			return sc.shared[f]
		}
		state[f] = visiting
		sh := shapes[f]
		ok := sh.pure
		for _, spec := range sh.specs {
			dep, msg := resolve(sc, path.Dir(f), spec)
			if msg != "" || !visit(dep) {
				ok = false
			}
		}
		state[f] = done
		sc.shared[f] = ok
		return ok
	}
	for f := range shapes {
		visit(f)
	}
}

// share freezes what a shared module made and keeps its module object for the later
// calls of this runtime on the same script set.
func (rt *runtime) share(file string, module, require *goja.Object, values goja.Value) error {
	if rt.freeze == nil {
		f, err := rt.helper(freezeProgram)
		if err != nil {
			return err
		}
		rt.freeze = f
	}
	if _, err := rt.freeze(goja.Undefined(), rt.vm.NewArray(module, require, values)); err != nil {
		return err
	}
	if rt.shared == nil {
		rt.shared = map[string]*goja.Object{}
	}
	rt.shared[file] = module
	return nil
}

// exportKey names an exported function of a shared module (module.exports itself when
// name is "").
type exportKey struct {
	module *goja.Object
	name   string
}

// export is an exported function of a shared module and the exports object it is
// called on.
type export struct {
	this goja.Value
	fn   goja.Callable
}

// useSet drops what the runtime keeps for another script set (shared modules,
// prepared globals): a runtime serves one set at a time, and a reload moves it
// to the new one.
func (rt *runtime) useSet(sc *Scripts) {
	rt.set, rt.shared, rt.exported = sc, nil, nil
	clear(rt.prepared)
}
