package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/appfile"
)

// loadWithin loads dir in a goroutine and fails the test if that takes more
// than a generous deadline: a load must never block on a file.
func loadWithin(t *testing.T, dir string) (*Scripts, error) {
	t.Helper()
	e, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		sc  *Scripts
		err error
	}
	done := make(chan result, 1)
	go func() {
		sc, err := e.Load(context.Background())
		done <- result{sc, err}
	}()
	select {
	case r := <-done:
		return r.sc, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Load is blocked")
		return nil, nil
	}
}

func TestLoadRefusesSpecialFiles(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, dir string)
		wantErr string // "" for a set that loads
	}{
		{"FIFO", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "x.js")) },
			"x.js: not a regular file"},
		{"FIFOInFolder", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "lib", "x.js")) },
			"lib/x.js: not a regular file"},
		{"LinkToFIFO", func(t *testing.T, dir string) {
			mkfifo(t, filepath.Join(dir, "pipe"))
			symlink(t, "pipe", filepath.Join(dir, "x.js"))
		}, "x.js: not a regular file"},
		{"FIFONotAScript", func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "notes")) }, ""},
		{"LinkToDevZero", func(t *testing.T, dir string) { symlink(t, "/dev/zero", filepath.Join(dir, "z.js")) },
			"z.js: symbolic link leads outside the scripts folder"},
		{"FolderNamedJS", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"odd.js/Inner.js": `exports.f = function () {};`})
		}, ""},
		{"TooLarge", func(t *testing.T, dir string) { sparse(t, filepath.Join(dir, "lib", "big.js"), appfile.MaxSize+1) },
			fmt.Sprintf("lib/big.js: file too large (at most %d bytes)", appfile.MaxSize)},
		{"LargestAllowed", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"lib/big.js": "// " + strings.Repeat("x", appfile.MaxSize-4) + "\n"})
		}, ""},
		{"TooLargeInAll", func(t *testing.T, dir string) {
			for i := range maxScriptBytes/appfile.MaxSize + 1 {
				sparse(t, filepath.Join(dir, "lib", fmt.Sprintf("part%d.js", i)), appfile.MaxSize)
			}
		}, fmt.Sprintf("more than %d MiB of scripts", maxScriptBytes>>20)},
		{"TooManyFiles", func(t *testing.T, dir string) {
			for i := range maxScriptFiles {
				name := filepath.Join(dir, "lib", fmt.Sprintf("f%05d.js", i))
				if err := os.WriteFile(name, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, fmt.Sprintf("more than %d files and folders", maxScriptFiles)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"DataStore.js": `exports.f = function () { return 1; };`, "lib/ok.js": ``})
			tt.make(t, dir)
			sc, err := loadWithin(t, dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if !sc.Has("DataStore") {
					t.Errorf("DataStore not loaded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || sc != nil {
				t.Fatalf("Load: got %v, %v; want no set and an error containing %q", sc, err, tt.wantErr)
			}
			scriptError(t, err)
		})
	}
}

// TestLoadScriptsFolderIsAFile: a scripts "folder" that is a file is an error, not an empty set.
func TestLoadScriptsFolderIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "scripts")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadWithin(t, file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Load: got %v, want an error saying the folder is not a directory", err)
	}
}

func mkfifo(t *testing.T, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(name, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// sparse makes a file of size bytes without writing them.
func sparse(t *testing.T, name string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}
