package rest

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gorilla/mux"
)

// static serves dir at / like 4D's web folder: files, index.html for folders, no
// directory listings, no hidden files, nothing outside dir. No session is involved.
func (s *Server) static(dir string) http.Handler {
	files := http.FileServerFS(os.DirFS(dir))
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
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(clean)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if fi.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(clean), "index.html")); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
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
	v, err := urlUnescape(mux.Vars(r)[name])
	if err != nil {
		return "", errorf(http.StatusBadRequest, codeMalformedURL, "Malformed URL")
	}
	return v, nil
}
