package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/dop251/goja"

	"gatehouse/internal/appfile"
)

// authFile is the module that implements onRESTAuthentication.
const authFile = "onRESTAuthentication.js"

// Bounds of one script set, so that a stray folder (a node_modules, a link that
// multiplies a tree) cannot make a load read without end.
const (
	// maxScriptFiles bounds the .js files and folders of a script set.
	maxScriptFiles = 10_000
	// maxScriptBytes bounds the total size of a script set's .js files; each
	// file is also bounded by appfile.MaxSize.
	maxScriptBytes = 32 << 20
)

// Scripts is one loaded script set: every .js file of the scripts folder,
// compiled, and what load-time inspection learnt of the top-level files. It
// is immutable once Load returns it, and may be used by any number of calls
// at once; a reload makes a new one and the caller decides which one a call
// runs on. A nil *Scripts is the empty set (no scripts folder).
type Scripts struct {
	programs map[string]*goja.Program // by file, relative with slashes
	modules  map[string]*moduleInfo   // top-level files, by module name
	names    []string                 // the keys of modules, sorted
	auth     bool                     // onRESTAuthentication.js exports a function
	shared   map[string]bool          // files evaluated once per runtime (shared.go)
}

// moduleInfo is what load-time inspection learnt of a top-level file.
type moduleInfo struct {
	file   string
	funcs  []FunctionInfo // every scope, sorted by scope then name
	byName map[string]FunctionInfo
	// entity and selection: exports.entity.fn and exports.selection.fn, by name
	entity, selection map[string]FunctionInfo
}

// scope returns the functions of scope s, by name.
func (m *moduleInfo) scope(s Scope) map[string]FunctionInfo {
	switch s {
	case EntityScope:
		return m.entity
	case SelectionScope:
		return m.selection
	}
	return m.byName
}

// HasAuthentication reports whether scripts/onRESTAuthentication.js exists
// and exports a function.
func (sc *Scripts) HasAuthentication() bool {
	return sc != nil && sc.auth
}

// Function returns an exported function of module: "DataStore" or a
// dataclass name (file scripts/{module}.js).
func (sc *Scripts) Function(module, name string) (FunctionInfo, bool) {
	return sc.FunctionIn(module, ModuleScope, name)
}

// FunctionIn returns an exported function of module in scope s (exports.fn,
// exports.entity.fn or exports.selection.fn).
func (sc *Scripts) FunctionIn(module string, s Scope, name string) (FunctionInfo, bool) {
	m := sc.module(module)
	if m == nil {
		return FunctionInfo{}, false
	}
	fi, ok := m.scope(s)[name]
	return fi, ok
}

// Functions returns the exported functions of module of every scope, sorted
// by scope then name. The slice is the caller's.
func (sc *Scripts) Functions(module string) []FunctionInfo {
	m := sc.module(module)
	if m == nil {
		return nil
	}
	return slices.Clone(m.funcs)
}

// Modules returns the names of the top-level modules (the files directly in
// the scripts folder, without ".js", and "singletons/{Name}"), sorted. The slice is the caller's.
func (sc *Scripts) Modules() []string {
	if sc == nil {
		return nil
	}
	return slices.Clone(sc.names)
}

// Has reports whether scripts/{module}.js is in the set.
func (sc *Scripts) Has(module string) bool {
	return sc.module(module) != nil
}

func (sc *Scripts) module(name string) *moduleInfo {
	if sc == nil {
		return nil
	}
	return sc.modules[name]
}

// program returns the compiled file, nil when the set has no such file.
func (sc *Scripts) program(file string) *goja.Program {
	if sc == nil {
		return nil
	}
	return sc.programs[file]
}

// Load reads, compiles and inspects the whole scripts folder (Options.Dir).
// A missing folder is the empty set. A set with problems is not returned:
// the error is an ErrorList with every problem found, each a *ScriptError
// with file and line. When ctx ends first, Load stops and returns ctx's
// error (wrapped).
//
// Inspection runs each top-level file once, so loading takes runtimes from
// the engine's pool, but no call slot: a reload never waits behind calls.
// Load may run at the same time as calls and as other Loads.
func (e *Engine) Load(ctx context.Context) (*Scripts, error) {
	sc := &Scripts{programs: map[string]*goja.Program{}, modules: map[string]*moduleInfo{}}
	sources, errs := readSources(ctx, e.opts.Dir)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("engine: load: %w", err)
	}
	files := make([]string, 0, len(sources))
	for f := range sources {
		files = append(files, f)
	}
	slices.Sort(files)
	shapes := make(map[string]shape, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("engine: load: %w", err)
		}
		prg, sh, serrs := compileModule(f, sources[f])
		errs = append(errs, serrs...)
		sc.programs[f] = prg
		shapes[f] = sh
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sc.sharing(shapes)
	for _, f := range files {
		if !isModuleFile(f) {
			continue // a helper under a folder: reached through require only
		}
		info, err := e.inspect(ctx, sc, f)
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("engine: load: %w", cerr)
		}
		if err != nil {
			errs = append(errs, asScriptErrors(f, err)...)
			continue
		}
		name := strings.TrimSuffix(f, ".js")
		sc.modules[name] = info
		sc.names = append(sc.names, name)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// inspect runs a top-level file once, without a session and without the
// host globals, to learn its exported functions.
func (e *Engine) inspect(ctx context.Context, sc *Scripts, file string) (*moduleInfo, error) {
	info := &moduleInfo{file: file, byName: map[string]FunctionInfo{},
		entity: map[string]FunctionInfo{}, selection: map[string]FunctionInfo{}}
	var authOK bool
	_, err := e.run(ctx, nil, sc, &task{what: file, file: file, loading: true,
		body: func(rt *runtime, module *goja.Object) (any, error) {
			return nil, rt.protect(func() {
				exports := module.Get("exports")
				_, authOK = goja.AssertFunction(exports)
				obj, ok := exports.(*goja.Object)
				if !ok {
					return
				}
				collect := func(obj *goja.Object, s Scope) {
					for _, name := range obj.Keys() {
						fn, ok := obj.Get(name).(*goja.Object)
						if !ok {
							continue
						}
						if _, callable := goja.AssertFunction(fn); !callable {
							continue
						}
						fi := FunctionInfo{Name: name, Scope: s, OnHTTPGet: isTrue(fn.Get("onHttpGet"))}
						info.funcs = append(info.funcs, fi)
						info.scope(s)[name] = fi
					}
				}
				collect(obj, ModuleScope)
				for _, s := range []Scope{EntityScope, SelectionScope} {
					sub, ok := obj.Get(s.exportsKey()).(*goja.Object)
					if !ok {
						continue
					}
					if _, callable := goja.AssertFunction(sub); callable {
						continue // a function named entity or selection: a function of the module
					}
					collect(sub, s)
				}
			})
		}})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(info.funcs, func(a, b FunctionInfo) int {
		if a.Scope != b.Scope {
			return int(a.Scope) - int(b.Scope)
		}
		return strings.Compare(a.Name, b.Name)
	})
	if file == authFile {
		if !authOK {
			return nil, &ScriptError{File: file, Message: "module.exports must be a function (user, password, isDigest, ip)"}
		}
		sc.auth = true
	}
	return info, nil
}

// SingletonFolder holds the singleton files (scripts/singletons/{Name}.js): like the files
// directly in the scripts folder they are modules, named "singletons/{Name}".
const SingletonFolder = "singletons"

// isModuleFile reports whether f (relative, with slashes) is a module whose exports are
// inspected: a file directly in the scripts folder or in its singletons folder.
func isModuleFile(f string) bool {
	dir, name := path.Split(f)
	return name != "" && (dir == "" || dir == SingletonFolder+"/")
}

// asScriptErrors turns a load failure of file into list entries.
func asScriptErrors(file string, err error) ErrorList {
	var list ErrorList
	if errors.As(err, &list) {
		return list
	}
	var se *ScriptError
	if errors.As(err, &se) {
		return ErrorList{se}
	}
	return ErrorList{{File: file, Message: err.Error()}}
}

// readSources returns the text of every .js file under dir, by path relative
// to dir with slashes. A missing dir is an empty set. Names starting with a
// dot (editor lock files, hidden folders) are skipped.
//
// Every read goes through an os.Root opened on dir, so nothing outside dir is
// ever opened, whatever the folder holds or how it changes during the walk:
// symbolic links are followed only while they stay inside dir (an absolute
// link is refused even when it points inside, as os.Root does), and one that
// leads outside is an error. A .js name that is not a regular file (a FIFO, a
// device, a socket) is an error and is not opened, so a load never blocks on
// it. Files are bounded by appfile.MaxSize each, and the set by maxScriptFiles
// and maxScriptBytes.
func readSources(ctx context.Context, dir string) (map[string]string, ErrorList) {
	sources := map[string]string{}
	if dir == "" {
		return sources, nil
	}
	// Stat first: os.OpenRoot would wait on a FIFO put in place of the folder.
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sources, nil
	case err != nil:
		return nil, ErrorList{{Message: "scripts folder: " + err.Error()}}
	case !fi.IsDir():
		return nil, ErrorList{{Message: "scripts folder " + dir + " is not a directory"}}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, ErrorList{{Message: "scripts folder: " + err.Error()}}
	}
	defer root.Close()
	top, err := root.Stat(".")
	if err != nil {
		return nil, ErrorList{{Message: "scripts folder: " + err.Error()}}
	}
	r := &reader{ctx: ctx, dir: dir, root: root, sources: sources}
	r.walk(".", []fs.FileInfo{top})
	if r.stopped {
		return nil, r.errs // not worth compiling: the set is refused anyway
	}
	return sources, r.errs
}

type reader struct {
	ctx     context.Context
	dir     string // the scripts folder, as configured (for messages)
	root    *os.Root
	sources map[string]string
	errs    ErrorList
	count   int   // files and folders seen (maxScriptFiles)
	size    int64 // bytes read (maxScriptBytes)
	stopped bool  // a bound was passed or ctx ended: read nothing more
}

// walk reads the folder rel ("." for the scripts folder). ancestors are the
// folders above it and itself, to detect symbolic link loops.
func (r *reader) walk(rel string, ancestors []fs.FileInfo) {
	if r.ctx.Err() != nil {
		r.stopped = true
		return
	}
	entries, err := r.readDir(rel)
	if err != nil {
		r.fail(rel, err.Error())
		return
	}
	for _, ent := range entries {
		if r.stopped {
			return
		}
		name := ent.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		relp := path.Join(rel, name)
		isJS := strings.HasSuffix(name, ".js")
		typ := ent.Type()
		var info fs.FileInfo
		if typ&fs.ModeSymlink != 0 {
			// Follow it, through the root: a link that leaves the folder fails here.
			info, err = r.root.Stat(relp)
			if err != nil {
				if isJS || !errors.Is(err, fs.ErrNotExist) {
					r.linkError(relp, err)
				}
				continue
			}
			typ = info.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if !r.counted() {
				return
			}
			if info == nil {
				if info, err = r.root.Stat(relp); err != nil {
					r.fail(relp, err.Error())
					continue
				}
			}
			if slices.ContainsFunc(ancestors, func(a fs.FileInfo) bool { return os.SameFile(a, info) }) {
				r.fail(relp, "symbolic link loop")
				continue
			}
			r.walk(relp, append(slices.Clip(ancestors), info))
		case !isJS:
			// not a script: never opened
		case !typ.IsRegular():
			r.fail(relp, "not a regular file") // a FIFO, device or socket: never opened
		default:
			if r.counted() {
				r.read(relp)
			}
		}
	}
}

// readDir lists the folder rel, sorted by name. O_DIRECTORY: should rel have
// been replaced by a FIFO since it was listed as a folder, the open fails
// instead of waiting for a writer.
func (r *reader) readDir(rel string) ([]fs.DirEntry, error) {
	f, err := r.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// counted counts one more file or folder, and reports whether the set is
// still within maxScriptFiles.
func (r *reader) counted() bool {
	r.count++
	if r.count > maxScriptFiles {
		r.fail("", fmt.Sprintf("scripts folder %s: more than %d files and folders", r.dir, maxScriptFiles))
		r.stopped = true
		return false
	}
	return true
}

func (r *reader) read(rel string) {
	b, err := appfile.Read(r.root, rel, appfile.MaxSize)
	switch {
	case errors.Is(err, appfile.ErrTooLarge):
		r.fail(rel, fmt.Sprintf("file too large (at most %d bytes)", appfile.MaxSize))
		return
	case errors.Is(err, appfile.ErrNotRegular):
		r.fail(rel, "not a regular file")
		return
	case err != nil:
		r.fail(rel, err.Error())
		return
	}
	r.size += int64(len(b))
	if r.size > maxScriptBytes {
		r.fail("", fmt.Sprintf("scripts folder %s: more than %d MiB of scripts", r.dir, maxScriptBytes>>20))
		r.stopped = true
		return
	}
	r.sources[rel] = string(b)
}

// linkError reports a symbolic link that cannot be followed.
func (r *reader) linkError(rel string, err error) {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.fail(rel, "broken symbolic link")
	case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
		// os.Root's escape error. The message only guides the author: an
		// absolute link that names a place inside the folder is refused too.
		if target, lerr := r.root.Readlink(rel); lerr == nil && filepath.IsAbs(target) && r.inside(target) {
			r.fail(rel, "absolute symbolic link: make it relative (links are followed only inside the scripts folder)")
			return
		}
		r.fail(rel, "symbolic link leads outside the scripts folder")
	default:
		r.fail(rel, err.Error())
	}
}

// inside reports whether the absolute path target names a place in the
// scripts folder (for messages only: the root decides what is read).
func (r *reader) inside(target string) bool {
	target = filepath.Clean(target)
	var dirs []string
	if abs, err := filepath.Abs(r.dir); err == nil {
		dirs = append(dirs, abs)
	}
	if real, err := filepath.EvalSymlinks(r.dir); err == nil {
		dirs = append(dirs, real)
	}
	for _, d := range dirs {
		if target == d || strings.HasPrefix(target, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (r *reader) fail(rel, msg string) {
	if rel == "." {
		rel = ""
	}
	r.errs = append(r.errs, &ScriptError{File: rel, Message: msg})
}
