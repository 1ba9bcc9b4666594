package datastore

import (
	"os"
	"path/filepath"
	"testing"

	"gatehouse/internal/pgtest"
)

// TestMain runs every test against SQLite, then against a throwaway PostgreSQL (pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "")) }

// testPath names a fresh database for t: a SQLite file under dir, or, in the PostgreSQL pass,
// a new PostgreSQL database.
func testPath(t testing.TB, dir, file string) string {
	t.Helper()
	if pgtest.Active() {
		return pgtest.NewDatabase(t)
	}
	return filepath.Join(dir, file)
}
