package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dop251/goja"
)

// authFile is the module that implements onRESTAuthentication.
const authFile = "onRESTAuthentication.js"

// snapshot is one loaded script set. It is immutable once built: calls keep
// using the snapshot they started with while a reload swaps in the next.
type snapshot struct {
	programs map[string]*goja.Program // by file, relative with slashes
	modules  map[string]*moduleInfo   // top-level files, by module name
	auth     bool                     // onRESTAuthentication.js exports a function
}

// moduleInfo is what load-time inspection learnt of a top-level file.
type moduleInfo struct {
	file   string
	funcs  []FunctionInfo // sorted by name
	byName map[string]FunctionInfo
}

// load reads, compiles and inspects the whole scripts folder. Every problem
// is reported, as an ErrorList.
func (e *Engine) load() (*snapshot, error) {
	snap := &snapshot{programs: map[string]*goja.Program{}, modules: map[string]*moduleInfo{}}
	sources, errs := readSources(e.opts.Dir)
	files := make([]string, 0, len(sources))
	for f := range sources {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		prg, serrs := compileModule(f, sources[f])
		errs = append(errs, serrs...)
		snap.programs[f] = prg
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, f := range files {
		if strings.Contains(f, "/") {
			continue // a helper under a folder: reached through require only
		}
		info, err := e.inspect(snap, f)
		if err != nil {
			errs = append(errs, asScriptErrors(f, err)...)
			continue
		}
		snap.modules[strings.TrimSuffix(f, ".js")] = info
	}
	return snap, errs.err()
}

// inspect runs a top-level file once, without a session and without the
// host globals, to learn its exported functions.
func (e *Engine) inspect(snap *snapshot, file string) (*moduleInfo, error) {
	info := &moduleInfo{file: file, byName: map[string]FunctionInfo{}}
	var authOK bool
	_, err := e.run(context.Background(), nil, snap, &task{what: file, file: file, loading: true,
		body: func(rt *runtime, module *goja.Object) (any, error) {
			return nil, rt.protect(func() {
				exports := module.Get("exports")
				_, authOK = goja.AssertFunction(exports)
				obj, ok := exports.(*goja.Object)
				if !ok {
					return
				}
				for _, name := range obj.Keys() {
					fn, ok := obj.Get(name).(*goja.Object)
					if !ok {
						continue
					}
					if _, callable := goja.AssertFunction(fn); !callable {
						continue
					}
					fi := FunctionInfo{Name: name, OnHTTPGet: isTrue(fn.Get("onHttpGet"))}
					info.funcs = append(info.funcs, fi)
					info.byName[name] = fi
				}
			})
		}})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(info.funcs, func(a, b FunctionInfo) int { return strings.Compare(a.Name, b.Name) })
	if file == authFile {
		if !authOK {
			return nil, &ScriptError{File: file, Message: "module.exports must be a function (user, password, isDigest, ip)"}
		}
		snap.auth = true
	}
	return info, nil
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
// to dir. A missing dir is an empty set. Names starting with a dot (editor
// lock files, hidden folders) are skipped. Symbolic links are followed while
// they stay inside dir; one that leads outside is an error.
func readSources(dir string) (map[string]string, ErrorList) {
	sources := map[string]string{}
	if dir == "" {
		return sources, nil
	}
	root, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return sources, nil
	}
	if err != nil {
		return nil, ErrorList{{Message: "scripts folder: " + err.Error()}}
	}
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return nil, ErrorList{{Message: "scripts folder " + dir + " is not a directory"}}
	}
	r := &reader{root: root, sources: sources}
	r.walk(root, "", []string{root})
	return sources, r.errs
}

type reader struct {
	root    string // the real path of the scripts folder
	sources map[string]string
	errs    ErrorList
}

// walk reads the directory whose real path is real. ancestors are the real
// paths of the directories above, to detect symbolic link loops.
func (r *reader) walk(real, rel string, ancestors []string) {
	entries, err := os.ReadDir(real)
	if err != nil {
		r.fail(rel, err.Error())
		return
	}
	for _, ent := range entries {
		name := ent.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		abs := filepath.Join(real, name)
		relp := path.Join(rel, name)
		isJS := strings.HasSuffix(name, ".js")
		switch {
		case ent.Type()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(abs)
			if err != nil {
				if isJS {
					r.fail(relp, "broken symbolic link")
				}
				continue
			}
			info, err := os.Stat(target)
			if err != nil {
				r.fail(relp, err.Error())
				continue
			}
			if !info.IsDir() && !isJS {
				continue
			}
			if target != r.root && !strings.HasPrefix(target, r.root+string(filepath.Separator)) {
				r.fail(relp, "symbolic link leads outside the scripts folder")
				continue
			}
			if info.IsDir() {
				if slices.Contains(ancestors, target) {
					r.fail(relp, "symbolic link loop")
					continue
				}
				r.walk(target, relp, append(ancestors, target))
			} else if info.Mode().IsRegular() {
				r.read(target, relp)
			}
		case ent.IsDir():
			r.walk(abs, relp, append(ancestors, abs))
		case isJS && ent.Type().IsRegular():
			r.read(abs, relp)
		}
	}
}

func (r *reader) read(abs, rel string) {
	b, err := os.ReadFile(abs)
	if err != nil {
		r.fail(rel, err.Error())
		return
	}
	r.sources[rel] = string(b)
}

func (r *reader) fail(rel, msg string) {
	r.errs = append(r.errs, &ScriptError{File: rel, Message: msg})
}
