package datastore

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/pgtest"
)

// The testdata/format1.* files were made by the gatehouse of before shadow columns (format 1,
// strings folded by a SQLite function in expression indexes): format1.db is its database of
// format1.model.json seeded with format1.seed.json, and format1.answers.json what it answered
// to a set of queries ("dataclass | filter | orderBy" → keys in order).

func format1Answers(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "format1.answers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var answers map[string][]string
	if err := json.Unmarshal(data, &answers); err != nil {
		t.Fatal(err)
	}
	return answers
}

func checkAnswers(t *testing.T, db *DB, answers map[string][]string) {
	t.Helper()
	for q, want := range answers {
		parts := strings.Split(q, " | ")
		sel, err := db.Find(context.Background(), db.Model().DataClass(parts[0]), Query{Filter: parts[1], OrderBy: parts[2]})
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		got := []string{}
		for _, e := range sel.Entities {
			got = append(got, e.KeyString())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFormat1FileMigrates opens a database written by the previous format: it is moved to
// shadow columns without loss and answers every query as before, and the old function indexes
// are gone.
func TestFormat1FileMigrates(t *testing.T) {
	pgtest.SQLiteOnly(t, "format 1 existed only as SQLite files")
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := os.WriteFile(path, readTestdata(t, "format1.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path, mustModel(t, string(readTestdata(t, "format1.model.json"))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkAnswers(t, db, format1Answers(t))
	var format string
	if err := db.r.QueryRow(`SELECT value FROM "__gatehouse_meta" WHERE name = 'format'`).Scan(&format); err != nil || format != schemaFormat {
		t.Errorf("format after migration: %q, %v; want %q", format, err, schemaFormat)
	}
	var legacy int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%gatehouse_fold(%'`).Scan(&legacy); err != nil || legacy != 0 {
		t.Errorf("%d function indexes left after migration (%v)", legacy, err)
	}
	// Writes after the migration keep the shadows current.
	emp := db.Model().DataClass("Employee")
	e, err := db.Get(context.Background(), emp, "3")
	if err != nil {
		t.Fatal(err)
	}
	e.Values = map[string]any{"name": "ZOË"}
	if _, err := db.Save(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Count(context.Background(), emp, Query{Filter: "name = 'zoë'"}); err != nil || n != 1 {
		t.Errorf("Count(name = 'zoë') after an update = %d, %v; want 1", n, err)
	}
	// Opening again changes nothing.
	db.Close()
	if db, err = Open(context.Background(), path, mustModel(t, string(readTestdata(t, "format1.model.json"))), Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.Count(context.Background(), emp, Query{Filter: "name = 'zoë'"}); err != nil || n != 1 {
		t.Errorf("Count(name = 'zoë') after reopening = %d, %v; want 1", n, err)
	}
}

// TestSameAnswersAsFormat1 seeds a fresh database (SQLite, then PostgreSQL) with format 1's
// seed: each backend gives the answers the format 1 SQLite file gave (Unicode folding, '@',
// '%', begin, IN, null order, relation paths).
func TestSameAnswersAsFormat1(t *testing.T) {
	db, err := Open(context.Background(), testPath(t, t.TempDir(), "g.db"), mustModel(t, string(readTestdata(t, "format1.model.json"))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Seed(context.Background(), readTestdata(t, "format1.seed.json")); err != nil {
		t.Fatal(err)
	}
	checkAnswers(t, db, format1Answers(t))
}
