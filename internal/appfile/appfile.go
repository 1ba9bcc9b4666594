// Package appfile reads the files of an app folder (roles.json, model.json, scripts) the way
// a server that reloads them while it runs must: only regular files, never through a link
// that leads out of the folder, bounded in size, and without ever blocking — a FIFO or a
// device put in place of a file is refused without being read, so a reload cannot wedge and
// /dev/zero cannot grow memory without bound.
package appfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize is the default bound on one app file (roles.json, model.json, a script).
const MaxSize = 4 << 20

var (
	// ErrNotRegular: the name is a FIFO, a device, a socket or a folder.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is longer than the bound.
	ErrTooLarge = errors.New("file too large")
)

// Read returns the contents of name (slash-separated, relative to root). A missing file gives
// an error for which errors.Is(err, fs.ErrNotExist) holds; a link that leaves root, a file
// that is not regular or one longer than max bytes (MaxSize when max <= 0) is an error.
func Read(root *os.Root, name string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxSize
	}
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
	// It changes nothing for a regular file.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", name, ErrNotRegular)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %w (%d bytes, at most %d)", name, ErrTooLarge, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // it grew while we read
		return nil, fmt.Errorf("%s: %w (at most %d bytes)", name, ErrTooLarge, max)
	}
	return data, nil
}

// ReadIn is Read for name inside the folder dir.
func ReadIn(dir, name string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return Read(root, name, max)
}

// Exists reports whether name exists inside root (whatever it is); errors other than
// "does not exist" count as existing, so that a caller never takes an unreadable file for
// an absent one.
func Exists(root *os.Root, name string) bool {
	_, err := root.Lstat(name)
	return !errors.Is(err, fs.ErrNotExist)
}
