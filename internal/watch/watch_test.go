package watch

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// deadline bounds every wait for a change; it is long because CI machines are
// slow, and only a broken watcher ever waits that long.
const deadline = 5 * time.Second

// quiet is how long a test waits to be sure that no further change comes.
const quiet = 300 * time.Millisecond

// start opens a Watcher on paths and returns the channel OnChange signals on.
func start(t *testing.T, debounce time.Duration, paths ...string) <-chan struct{} {
	t.Helper()
	changes := make(chan struct{}, 100)
	w := New(Options{Paths: paths, Debounce: debounce, OnChange: func() { changes <- struct{}{} }})
	if err := w.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return changes
}

func waitChange(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
	case <-time.After(deadline):
		t.Fatalf("%s: no change reported within %v", what, deadline)
	}
}

func noChange(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
		t.Fatalf("%s: got a change, want none", what)
	case <-time.After(quiet):
	}
}

func write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherReportsChanges(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) // before Open
		change func(t *testing.T, dir string) // after Open
	}{
		{
			name:   "WriteInPlace",
			setup:  func(t *testing.T, dir string) { write(t, filepath.Join(dir, "scripts", "a.js"), "1") },
			change: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "scripts", "a.js"), "2") },
		},
		{
			name:  "RenameOverFile",
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "roles.json"), "{}") },
			change: func(t *testing.T, dir string) {
				tmp := filepath.Join(dir, "roles.json.tmp")
				write(t, tmp, `{"forceLogin":true}`)
				if err := os.Rename(tmp, filepath.Join(dir, "roles.json")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "NewSubdirectoryAndFile",
			change: func(t *testing.T, dir string) {
				sub := filepath.Join(dir, "scripts", "lib")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(sub, "x.js"), "1")
			},
		},
		{
			name: "RemoveFile",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "scripts", "gone.js"), "1")
			},
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "scripts", "gone.js")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "MissingFileCreated",
			change: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "model.json"), "{}")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			changes := start(t, 20*time.Millisecond,
				filepath.Join(dir, "scripts"), filepath.Join(dir, "roles.json"), filepath.Join(dir, "model.json"))
			tt.change(t, dir)
			waitChange(t, changes, tt.name)
		})
	}
}

func TestWatcherSeesFilesInNewSubdirectory(t *testing.T) {
	dir := t.TempDir()
	changes := start(t, 20*time.Millisecond, dir)
	sub := filepath.Join(dir, "lib")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, "mkdir")
	write(t, filepath.Join(sub, "x.js"), "1")
	waitChange(t, changes, "write in the new subdirectory")
}

func TestWatcherSeesMissingDirectoryCreated(t *testing.T) {
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	changes := start(t, 20*time.Millisecond, scripts)
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, "mkdir of the watched path")
	write(t, filepath.Join(scripts, "a.js"), "1")
	waitChange(t, changes, "write in the created directory")
}

func TestWatcherIgnores(t *testing.T) {
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	changes := start(t, 20*time.Millisecond, scripts, filepath.Join(dir, "roles.json"))
	for _, name := range []string{"a.js~", ".a.js.swp", ".#a.js", "4913", "a.js.tmp"} {
		write(t, filepath.Join(scripts, name), "x")
	}
	write(t, filepath.Join(dir, "unrelated.txt"), "x") // beside a watched file, not watched
	noChange(t, changes, "temporary and unrelated files")
}

func TestWatcherBurstGivesOneChange(t *testing.T) {
	dir := t.TempDir()
	// The debounce is long enough that the burst's 20 writes always fall inside it, even
	// when a loaded machine stalls this goroutine between two writes (with 100 ms, a stall
	// split the burst in two changes).
	changes := start(t, 2*time.Second, dir)
	for i := range 20 {
		write(t, filepath.Join(dir, "a.js"), string(rune('a'+i)))
	}
	waitChange(t, changes, "burst")
	noChange(t, changes, "after the burst")
}

func TestIgnore(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"a.js~", true},
		{".a.js.swp", true},
		{".a.js.swx", true},
		{".#a.js", true},
		{"4913", true},
		{"roles.json.tmp", true},
		{"a.js___jb_tmp___", true},
		{"a.js", false},
		{"roles.json", false},
		{"swp.js", false},
		{".eslintrc", false},
	}
	for _, tt := range tests {
		if got := Ignore(tt.name); got != tt.want {
			t.Errorf("Ignore(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOpenClose(t *testing.T) {
	w := New(Options{Paths: []string{t.TempDir()}})
	if err := w.Close(); err != nil {
		t.Errorf("Close before Open: got %v, want nil", err)
	}
	if err := w.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := w.Open(); !errors.Is(err, ErrOpen) {
		t.Errorf("second Open: got %v, want ErrOpen", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

func TestCloseWaitsForOnChange(t *testing.T) {
	dir := t.TempDir()
	entered := make(chan struct{})
	release := make(chan struct{})
	finished := make(chan struct{})
	var once sync.Once
	w := New(Options{Paths: []string{dir}, Debounce: 10 * time.Millisecond, OnChange: func() {
		once.Do(func() {
			close(entered)
			<-release
			close(finished)
		})
	}})
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.js"), "1")
	select {
	case <-entered:
	case <-time.After(deadline):
		t.Fatal("OnChange not called")
	}
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while OnChange was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("Close did not return")
	}
	select {
	case <-finished:
	default:
		t.Error("Close returned before OnChange finished")
	}
}
