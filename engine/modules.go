package engine

import (
	"errors"
	"path"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
)

// A module's source is wrapped in a function, CommonJS style. The prefix has
// no newline, so line numbers stay those of the file; only columns on the
// first line move, and they are corrected when reported.
const (
	wrapPrefix = "(function (exports, require, module, __filename, __dirname) {"
	wrapSuffix = "\n})"
)

// compileModule compiles one file. The source is first parsed on its own, so
// syntax errors are reported at their place in the file and a source cannot
// close the wrapper function early. Scripts run in strict mode. Source maps
// are off: a sourceMappingURL comment must not make the parser read files.
//
// A pure module (see analyze) is wrapped so that its function returns the
// values of its top-level bindings, which are frozen when it is shared.
func compileModule(name, src string) (*goja.Program, shape, []*ScriptError) {
	src = strings.TrimPrefix(src, "\ufeff")
	plain, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, shape{}, syntaxErrors(name, err, 0)
	}
	names, sh := analyze(plain)
	suffix := wrapSuffix
	if sh.pure {
		suffix = "\nreturn [" + strings.Join(names, ", ") + "];" + wrapSuffix
	}
	ast, err := parser.ParseFile(nil, name, wrapPrefix+src+suffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, shape{}, syntaxErrors(name, err, len(wrapPrefix))
	}
	prg, err := goja.CompileAST(ast, true)
	if err != nil {
		return nil, shape{}, syntaxErrors(name, err, len(wrapPrefix))
	}
	return prg, sh, nil
}

// syntaxErrors converts goja's parse and compile errors. shift is the
// length of the text added before the file's first line.
func syntaxErrors(name string, err error, shift int) []*ScriptError {
	at := func(p file.Position, msg string) *ScriptError {
		col := p.Column
		if p.Line == 1 && col > shift {
			col -= shift
		}
		return &ScriptError{File: name, Line: p.Line, Column: col, Message: "SyntaxError: " + msg}
	}
	var list parser.ErrorList
	var one *parser.Error
	var compile *goja.CompilerSyntaxError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		// Only the first: the parser's later errors mostly follow from it.
		return []*ScriptError{at(list[0].Position, list[0].Message)}
	case errors.As(err, &one):
		return []*ScriptError{at(one.Position, one.Message)}
	case errors.As(err, &compile):
		if compile.File != nil {
			return []*ScriptError{at(compile.File.Position(compile.Offset), compile.Message)}
		}
		return []*ScriptError{{File: name, Message: "SyntaxError: " + compile.Message}}
	}
	return []*ScriptError{{File: name, Message: err.Error()}}
}

// module returns the module object of file for the current call, running
// the file's top-level code the first time the call needs it; a shared
// module's runs once per runtime and script set (see shared.go).
func (rt *runtime) module(file string) (*goja.Object, error) {
	c := rt.cur
	if m := c.modules[file]; m != nil {
		return m, nil // loaded, or being loaded (a require cycle sees partial exports)
	}
	shared := c.scripts.shared[file]
	if shared {
		if m := rt.shared[file]; m != nil {
			return m, nil
		}
	}
	prg := c.scripts.program(file)
	if prg == nil {
		return nil, errors.New("engine: no module " + file)
	}
	wrapper, err := rt.vm.RunProgram(prg)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(wrapper)
	if !ok {
		return nil, errors.New("engine: module " + file + " did not compile to a function")
	}
	vm := rt.vm
	exports := vm.NewObject()
	module := vm.NewObject()
	_ = module.Set("exports", exports)
	_ = module.Set("id", file)
	if c.modules == nil {
		c.modules = map[string]*goja.Object{}
	}
	c.modules[file] = module
	dir := path.Dir(file)
	require := rt.fn("require", rt.requireFrom(dir))
	values, err := fn(goja.Undefined(), exports, require, module, vm.ToValue(file), vm.ToValue(dir))
	if err != nil {
		delete(c.modules, file) // a failed module is not cached (Node does the same)
		return nil, err
	}
	if shared {
		if err := rt.share(file, module, require, values); err != nil {
			return nil, err
		}
	}
	return module, nil
}

// requireFrom makes the require function of modules in dir ("." for the
// scripts folder itself, which is where the global require resolves from).
func (rt *runtime) requireFrom(dir string) func(goja.FunctionCall) goja.Value {
	return func(fc goja.FunctionCall) goja.Value {
		spec := rt.stringArg(fc, 0, "require", "path")
		file, msg := resolve(rt.cur.scripts, dir, spec)
		if msg != "" {
			return rt.throw("Error", "require(%q): %s", spec, msg)
		}
		m, err := rt.module(file)
		if err != nil {
			rethrowErr(err)
		}
		return m.Get("exports")
	}
}

// resolve finds the file that spec names from dir: relative paths only,
// ".js" optional, index.js for a folder, never outside the scripts folder.
// It returns a message for the script when there is no such module.
func resolve(sc *Scripts, dir, spec string) (string, string) {
	if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
		return "", "only relative paths inside the scripts folder can be required (start with ./ or ../)"
	}
	p := path.Join(dir, spec)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", "path leads outside the scripts folder"
	}
	for _, candidate := range []string{p, p + ".js", path.Join(p, "index.js")} {
		if strings.HasSuffix(candidate, ".js") && sc.program(candidate) != nil {
			return candidate, ""
		}
	}
	return "", "no such module in the scripts folder"
}
