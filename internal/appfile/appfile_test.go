package appfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "ok.json"), "{}")
	write(filepath.Join(dir, "big.json"), strings.Repeat("x", 100))
	write(filepath.Join(outside, "secret"), "s")
	if err := os.Symlink("ok.json", filepath.Join(dir, "inside-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "outside-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	if got, err := Read(root, "ok.json", 0); err != nil || string(got) != "{}" {
		t.Errorf("Read(ok.json) = %q, %v", got, err)
	}
	if got, err := Read(root, "inside-link", 0); err != nil || string(got) != "{}" {
		t.Errorf("Read(inside-link) = %q, %v; a link inside the folder is fine", got, err)
	}
	if _, err := Read(root, "missing.json", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v, want fs.ErrNotExist", err)
	}
	for _, name := range []string{"outside-link", "zero"} {
		if _, err := Read(root, name, 0); err == nil {
			t.Errorf("Read(%s) succeeded, want an error: the link leaves the folder", name)
		}
	}
	// The FIFO has no writer: a blocking open would hang this test forever.
	if _, err := Read(root, "fifo", 0); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read(fifo) = %v, want ErrNotRegular", err)
	}
	if _, err := Read(root, "folder", 0); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read(folder) = %v, want ErrNotRegular", err)
	}
	if _, err := Read(root, "big.json", 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read(big, 10) = %v, want ErrTooLarge", err)
	}
	if !Exists(root, "fifo") || Exists(root, "missing.json") {
		t.Error("Exists is wrong")
	}
}
