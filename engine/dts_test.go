package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDeclarationsTypeCheck runs TypeScript's compiler over scripts/gatehouse.d.ts, the demo
// app's scripts (checked as JavaScript against it) and testdata/tsc/check.ts (uses of the
// declarations the demo does not make, and misuses they must refuse), so that the file
// editors read stays valid and describes the scripts that run. TypeScript is installed from
// the lock file by `npm ci` in engine/testdata/tsc (.ci/run does it); without it the test
// skips, unless CI is set.
func TestDeclarationsTypeCheck(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "tsc"))
	if err != nil {
		t.Fatal(err)
	}
	tsc := filepath.Join(dir, "node_modules", "typescript", "bin", "tsc")
	node, err := exec.LookPath("node")
	_, statErr := os.Stat(tsc)
	if err != nil || statErr != nil {
		msg := "TypeScript is not installed: run `npm ci` in engine/testdata/tsc (needs Node and npm)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.CommandContext(t.Context(), node, tsc, "--pretty", "false", "-p", filepath.Join(dir, "tsconfig.json"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}
