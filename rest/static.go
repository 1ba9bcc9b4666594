package rest

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/gorilla/mux"
)

// static serves dir at / like 4D's web folder: files, index.html for folders, no
// directory listings, no hidden files, nothing outside dir. No session is involved.
//
// dir is opened once, as an os.Root (SPEC §3.6): a link inside web/ may lead to another
// place inside it, but a link (or "..") that leaves it is not found, whatever it points at.
// Only regular files are served, and they are opened without blocking, so a FIFO or a device
// put in web/ answers 404 instead of holding the request. If dir cannot be opened, every
// request answers 404 (logged once, here).
func (s *Server) static(dir string) http.Handler {
	root, err := os.OpenRoot(dir)
	if err != nil {
		s.log.Error("web folder cannot be opened; static files answer 404", "dir", dir, "err", err)
		return http.NotFoundHandler()
	}
	// root stays open as long as the handler lives: one per server.
	fsys := root.FS()
	files := http.FileServerFS(webFS{root})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		clean := path.Clean("/" + r.URL.Path)
		for _, part := range strings.Split(clean, "/") {
			if strings.HasPrefix(part, ".") {
				http.NotFound(w, r)
				return
			}
		}
		// Decide here, and answer 404 for any error: the file server would answer 500 for
		// a link that escapes, and would list a folder without index.html.
		name := strings.TrimPrefix(clean, "/")
		if name == "" {
			name = "."
		}
		fi, err := fs.Stat(fsys, name)
		if err == nil && fi.IsDir() {
			fi, err = fs.Stat(fsys, path.Join(name, "index.html"))
		}
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// webFS is web/ for http.FileServerFS: files are opened through the os.Root (never out of
// it) without blocking, and anything but a regular file or a folder is refused once opened,
// so a file swapped for a FIFO between the check in static and the open cannot hold the
// request either. Every refusal is "not found", never a 500 or a 403 that would tell what
// is there.
type webFS struct{ root *os.Root }

func (w webFS) Open(name string) (fs.File, error) {
	notFound := &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	if !fs.ValidPath(name) {
		return nil, notFound
	}
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
	// It changes nothing for a regular file or a folder.
	f, err := w.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, notFound
	}
	if fi, err := f.Stat(); err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
		f.Close()
		return nil, notFound
	}
	return f, nil
}

// handleGetWebForm handles "GET /rest/$getWebForm/{name}": a page from webforms/, a
// descriptive request that guests may make. "name" may omit ".html".
func (s *Server) handleGetWebForm(w http.ResponseWriter, r *http.Request, _ *state) error {
	name, err := pathVar(r, "name")
	if err != nil {
		return err
	}
	notFound := errorf(http.StatusNotFound, codeUnknownDataClass, "Unknown web form")
	if s.cfg.WebFormsDir == "" || name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return notFound
	}
	root, err := os.OpenRoot(s.cfg.WebFormsDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound
		}
		return err
	}
	defer root.Close()
	for _, candidate := range []string{name, name + ".html"} {
		data, err := root.ReadFile(candidate)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return notFound // a folder, or unreadable
		}
		ctype := mime.TypeByExtension(path.Ext(candidate))
		if ctype == "" {
			ctype = http.DetectContentType(data)
		}
		w.Header().Set("Content-Type", ctype)
		w.Write(data)
		return nil
	}
	return notFound
}

// pathVar returns a decoded route variable (the router matches on encoded paths).
func pathVar(r *http.Request, name string) (string, error) {
	v, ok := "", false
	if st := stateOf(r); st != nil {
		v, ok = st.vars.get(name)
	}
	if !ok {
		v = mux.Vars(r)[name]
	}
	v, err := urlUnescape(v)
	if err != nil {
		return "", errorf(http.StatusBadRequest, codeMalformedURL, "Malformed URL")
	}
	return v, nil
}
