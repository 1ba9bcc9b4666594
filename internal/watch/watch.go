// Package watch reports settled changes to files and directory trees.
//
// gatehouse reloads scripts/, roles.json and model.json while it runs. Editors
// save in many ways (write in place, write a temporary file and rename it over
// the original, create lock and swap files), and one save produces several
// file-system events. A Watcher hides all of that: it watches directories
// (never single files, so a rename over a file is seen), drops editors'
// temporary names, and calls OnChange once after the events have stopped
// arriving for a short while.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a Watcher waits after the last event before it
// reports a change.
const DefaultDebounce = 100 * time.Millisecond

// ErrOpen is returned by Open when the Watcher is already open or was closed.
var ErrOpen = errors.New("watch: watcher already opened")

// Options configure a Watcher.
type Options struct {
	// Paths are the files and directories to watch. Directories are watched
	// recursively; a path that does not exist yet is watched through its
	// nearest existing parent, so its creation is reported.
	Paths []string
	// Debounce is the quiet period after the last event before OnChange is
	// called (DefaultDebounce when zero).
	Debounce time.Duration
	// OnChange is called on the watcher's goroutine once per settled burst of
	// changes. Events that arrive while it runs are reported by a later call.
	OnChange func()
	// Logger receives watch errors (none when nil).
	Logger *slog.Logger
}

// Watcher reports settled changes under a set of paths. Create it with New,
// start it with Open and stop it with Close.
type Watcher struct {
	opts    Options
	targets []string // cleaned absolute paths from Options.Paths
	log     *slog.Logger

	mu      sync.Mutex
	opened  bool
	fsw     *fsnotify.Watcher
	stop    chan struct{}
	stopped chan struct{}
}

// New returns a Watcher for opts. It does nothing until Open.
func New(opts Options) *Watcher {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{opts: opts, log: log}
}

// Ignore reports whether a file name (the last element of a path) belongs to
// an editor's temporary, swap, lock or backup file, whose events are not
// changes of the watched content.
func Ignore(name string) bool {
	switch {
	case name == "4913": // vim probes whether it may write in a directory
		return true
	case strings.HasSuffix(name, "~"), strings.HasSuffix(name, ".tmp"):
		return true
	case strings.HasPrefix(name, ".#"): // emacs lock files
		return true
	case strings.HasSuffix(name, "___jb_tmp___"), strings.HasSuffix(name, "___jb_old___"): // JetBrains safe write
		return true
	}
	// vim swap files: .name.swp, .name.swo, .name.swx, ...
	swap, _ := path.Match(".*.sw?", name)
	return swap
}

// Open starts watching. Paths are resolved to absolute paths here; an error
// is returned when a path cannot be watched at all.
func (w *Watcher) Open() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opened {
		return ErrOpen
	}
	targets := make([]string, 0, len(w.opts.Paths))
	for _, p := range w.opts.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("watch: %s: %w", p, err)
		}
		targets = append(targets, abs)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	w.targets = targets
	w.fsw = fsw
	if err := w.arm(); err != nil {
		_ = fsw.Close()
		return err
	}
	w.opened = true
	w.stop = make(chan struct{})
	w.stopped = make(chan struct{})
	go w.loop(w.stop, w.stopped)
	return nil
}

// Close stops the watcher and waits until its goroutine has returned (and so
// until a running OnChange has finished). Close on a Watcher that is not open
// does nothing.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if !w.opened || w.stop == nil {
		w.mu.Unlock()
		return nil
	}
	stop, stopped := w.stop, w.stopped
	w.stop = nil
	w.mu.Unlock()

	close(stop)
	<-stopped
	if err := w.fsw.Close(); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}

// loop collects events and calls OnChange after each quiet period.
func (w *Watcher) loop(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	timer := time.NewTimer(w.opts.Debounce)
	timer.Stop()
	for {
		select {
		case <-stop:
			timer.Stop()
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.relevant(ev) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				// Watch a new directory at once, so that files written into it
				// during the quiet period are seen too.
				w.addNewDir(ev.Name)
			}
			timer.Reset(w.opts.Debounce)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("watch: file events lost", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Changes may have been missed: report one to be safe.
				timer.Reset(w.opts.Debounce)
			}
		case <-timer.C:
			// Re-arm first: directories that appeared or were replaced since
			// the last change must be watched before the reload reads them.
			if err := w.arm(); err != nil {
				w.log.Warn("watch: cannot watch", "err", err)
			}
			if w.opts.OnChange != nil {
				w.opts.OnChange()
			}
		}
	}
}

// relevant reports whether ev concerns one of the targets: the target itself,
// something under a target directory, or a parent on the way to a target
// (a parent's creation or removal can make a target appear or disappear).
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false // attribute changes (touch, indexers) change no content
	}
	if Ignore(filepath.Base(ev.Name)) {
		return false
	}
	name := filepath.Clean(ev.Name)
	for _, t := range w.targets {
		if name == t || within(name, t) || within(t, name) {
			return true
		}
	}
	return false
}

// addNewDir watches name recursively when it is a directory inside a target.
func (w *Watcher) addNewDir(name string) {
	info, err := os.Lstat(name)
	if err != nil || !info.IsDir() {
		return
	}
	for _, t := range w.targets {
		if name == t || within(name, t) {
			if err := w.addTree(name); err != nil {
				w.log.Warn("watch: cannot watch new directory", "dir", name, "err", err)
			}
			return
		}
	}
}

// arm adds the watches every target needs now: a directory target and all
// its subdirectories, the parent of a file target, or the nearest existing
// ancestor of a target that does not exist. Adding a watch twice is harmless.
func (w *Watcher) arm() error {
	var errs []error
	for _, t := range w.targets {
		info, err := os.Stat(t)
		switch {
		case err == nil && info.IsDir():
			err = w.addTree(t)
		case err == nil:
			err = w.fsw.Add(filepath.Dir(t))
		case errors.Is(err, fs.ErrNotExist):
			err = w.addAncestor(t)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("watch: %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// addTree watches dir and every directory below it.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking: its removal is an event of its own
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git and the like: not content
		}
		return w.fsw.Add(p)
	})
}

// addAncestor watches the nearest existing directory above p.
func (w *Watcher) addAncestor(p string) error {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err == nil && info.IsDir() {
			return w.fsw.Add(dir)
		}
		if parent := filepath.Dir(dir); parent == dir {
			return fmt.Errorf("no existing parent directory")
		}
	}
}

// within reports whether p is strictly inside dir.
func within(p, dir string) bool {
	if dir == string(filepath.Separator) {
		return p != dir && strings.HasPrefix(p, dir)
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}
