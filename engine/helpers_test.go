package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordHelpers(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.hash = function (pw, opts) { return generatePasswordHash(pw, opts); };
		exports.verify = function (pw, hash) { return verifyPasswordHash(pw, hash); };
	`})
	long := strings.Repeat("p", 72)
	tests := []struct {
		name     string
		password string
		opts     any
		wantCost int
		verify   map[string]bool // password => matches
	}{
		{"DefaultCost", "secret", nil, 10, map[string]bool{"secret": true, "Secret": false, "": false}},
		{"Cost4", "secret", map[string]any{"cost": float64(4)}, 4, map[string]bool{"secret": true}},
		{"EmptyOptions", "", map[string]any{}, 10, map[string]bool{"": true, " ": false}},
		{"Unicode", "mot de passé ✓", map[string]any{"cost": float64(5)}, 5, map[string]bool{"mot de passé ✓": true, "mot de passe ✓": false}},
		// bcrypt reads 72 bytes; longer passwords are cut, not refused.
		{"LongerThan72Bytes", long + "tail", map[string]any{"cost": float64(4)}, 4, map[string]bool{long: true, long + "other": true, long[:71]: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []any{tt.password}
			if tt.opts != nil {
				args = append(args, tt.opts)
			}
			hash, ok := mustCall(t, e, sc, nil, "hash", args...).(string)
			if !ok {
				t.Fatalf("hash is not a string")
			}
			if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != tt.wantCost {
				t.Errorf("cost of %q = %d, %v; want %d", hash, cost, err, tt.wantCost)
			}
			for pw, want := range tt.verify {
				if got := mustCall(t, e, sc, nil, "verify", pw, hash); got != want {
					t.Errorf("verify(%q) = %v, want %v", pw, got, want)
				}
			}
		})
	}
	goHash, err := bcrypt.GenerateFromPassword([]byte("from go"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, e, sc, nil, "verify", "from go", string(goHash)); got != true {
		t.Errorf("verify of a Go-made hash = %v, want true", got)
	}
	if got := mustCall(t, e, sc, nil, "verify", "x", "not a hash"); got != false {
		t.Errorf("verify against a malformed hash = %v, want false", got)
	}
	for _, args := range [][]any{
		{"pw", map[string]any{"cost": float64(3)}},
		{"pw", map[string]any{"cost": float64(32)}},
		{"pw", map[string]any{"cost": 10.5}},
		{"pw", map[string]any{"cost": "10"}},
		{"pw", "cheap"},
		{float64(1)},
	} {
		_, err := e.Call(context.Background(), sc, nil, "DataStore", "hash", args)
		scriptError(t, err)
	}
	_, err = e.Call(context.Background(), sc, nil, "DataStore", "verify", []any{"pw", nil})
	scriptError(t, err)
}

func TestGenerateDigest(t *testing.T) {
	e, sc := newTestEngine(t, map[string]string{"DataStore.js": `
		exports.digest = function (text, algo) { return generateDigest(text, algo); };
	`})
	tests := []struct{ text, algo, want string }{
		{"abc", "md5", "900150983cd24fb0d6963f7d28e17f72"},
		{"abc", "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"abc", "sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abc", "SHA256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abc", "sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{"", "sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"é", "md5", "66ddcd97cfdeabb2f6fb8a999b4bc76f"}, // UTF-8 bytes c3 a9
	}
	for _, tt := range tests {
		if got := mustCall(t, e, sc, nil, "digest", tt.text, tt.algo); got != tt.want {
			t.Errorf("generateDigest(%q, %q) = %v, want %v", tt.text, tt.algo, got, tt.want)
		}
	}
	for _, args := range [][]any{{"abc", "sha3"}, {"abc", nil}, {nil, "md5"}} {
		_, err := e.Call(context.Background(), sc, nil, "DataStore", "digest", args)
		scriptError(t, err)
	}
}

func TestConsole(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, sc := newTestEngine(t, map[string]string{
		"DataStore.js": "const lib = require('./lib/log');\nexports.f = function () {\n  console.log('hello', 42, {a: [1]}, null);\n  console.warn('careful');\n  lib.err();\n  console.debug(undefined, Symbol('s'));\n  console.info(function named() {});\n};\n",
		"lib/log.js":   "exports.err = function () {\n  console.error('failed', new Error('boom'));\n};\n",
	}, func(o *Options) { o.Logger = log })
	mustCall(t, e, sc, nil, "f")
	type record struct {
		Level, Msg, Script string
		Line               int
	}
	want := []record{
		{"INFO", `hello 42 {"a":[1]} null`, "DataStore.js", 3},
		{"WARN", "careful", "DataStore.js", 4},
		{"ERROR", "failed {}", "lib/log.js", 2},
		{"DEBUG", "undefined Symbol(s)", "DataStore.js", 6},
		{"INFO", "function named() {}", "DataStore.js", 7},
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d log records, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var got record
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if got != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got, want[i])
		}
	}
}
