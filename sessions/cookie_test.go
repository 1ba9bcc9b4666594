package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(b byte) KeyPair { return KeyPair{Hash: []byte(strings.Repeat(string(b), 32))} }

func TestCodecRoundTripAndTamper(t *testing.T) {
	c, err := NewCodec([]KeyPair{testKey('a')})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := NewID()
	v, err := c.Encode(id)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Decode(v); !ok || got != id {
		t.Fatalf("decode: got %q %v, want %q", got, ok, id)
	}
	for name, bad := range map[string]string{
		"Empty":     "",
		"BareID":    id,
		"FlipLast":  v[:len(v)-1] + string(rune(v[len(v)-1]^1)),
		"Truncated": v[:len(v)/2],
		"Huge":      strings.Repeat("A", 5000),
	} {
		if _, ok := c.Decode(bad); ok {
			t.Errorf("%s: tampered value accepted", name)
		}
	}
	other, _ := NewCodec([]KeyPair{testKey('b')})
	if _, ok := other.Decode(v); ok {
		t.Error("value signed with another key accepted")
	}
}

func TestCodecRotation(t *testing.T) {
	old, _ := NewCodec([]KeyPair{testKey('a')})
	id, _ := NewID()
	v, _ := old.Encode(id)
	rotated, _ := NewCodec([]KeyPair{testKey('b'), testKey('a')})
	if got, ok := rotated.Decode(v); !ok || got != id {
		t.Fatalf("old key no longer verifies after rotation")
	}
	nv, _ := rotated.Encode(id)
	if _, ok := old.Decode(nv); ok {
		t.Fatalf("new value must be signed with the new first key")
	}
}

func TestCodecEncrypted(t *testing.T) {
	k := testKey('a')
	k.Block = []byte(strings.Repeat("k", 32))
	c, err := NewCodec([]KeyPair{k})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := NewID()
	v, _ := c.Encode(id)
	if got, ok := c.Decode(v); !ok || got != id {
		t.Fatal("encrypted round trip failed")
	}
	if _, err := NewCodec([]KeyPair{{Hash: k.Hash, Block: []byte("short")}}); err == nil {
		t.Fatal("bad block key accepted")
	}
	if _, err := NewCodec([]KeyPair{{Hash: []byte("short")}}); err == nil {
		t.Fatal("short hash key accepted")
	}
}

func TestKeyFileCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "cookie.keys")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1[0].Hash) != string(k2[0].Hash) || len(k1[0].Hash) != 64 {
		t.Fatal("key not stable across loads")
	}
}

func TestKeyFileErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookie.keys")
	os.WriteFile(path, []byte("# c\n"+strings.Repeat("ab", 32)+"\nnothex\n"), 0o600)
	_, err := LoadOrCreateKeyFile(path)
	if err == nil || !strings.Contains(err.Error(), "cookie.keys:3") {
		t.Fatalf("got %v, want an error naming line 3", err)
	}
}

func FuzzCodecDecode(f *testing.F) {
	c, _ := NewCodec([]KeyPair{testKey('a')})
	id, _ := NewID()
	v, _ := c.Encode(id)
	f.Add(v)
	f.Add("")
	f.Add(id)
	f.Add("MTIzNDU2Nzg5MHxhYmN8ZGVm")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := c.Decode(s)
		if ok && !ValidID(got) {
			t.Fatalf("decoded an invalid id %q", got)
		}
	})
}
