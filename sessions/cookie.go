package sessions

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gorilla/securecookie"
)

// macName is what the cookie value's HMAC is bound to. It is fixed, not the cookie's name,
// because clients may send the value back under another name (4DSID_<anything>).
const macName = "gatehouse-session"

// KeyPair is one cookie key: a hash key (HMAC, required) and an optional block key
// (AES-128/192/256, 16, 24 or 32 bytes) that also encrypts the value.
type KeyPair struct {
	Hash  []byte
	Block []byte
}

// Codec turns session IDs into signed cookie values and back. The first key signs; every
// key verifies, so keys can be rotated by putting a new one first.
type Codec struct {
	codecs []securecookie.Codec
	known  verified
}

// verifiedMax bounds the verified-values cache (about 200 bytes an entry).
const verifiedMax = 1 << 16

// verified remembers cookie values that have already passed verification, with the ID
// inside: a returning client's cookie is then a map lookup instead of securecookie's HMAC,
// base64 and a dozen allocations (most of the cost of a session check). Only values that
// verified are stored, and the keys of a Codec never change, so a hit answers exactly what
// verifying again would. When full it starts over, which only costs a verification per
// client.
type verified struct {
	mu  sync.RWMutex
	ids map[string]string // cookie value -> session ID
}

func (v *verified) get(value string) (string, bool) {
	v.mu.RLock()
	id, ok := v.ids[value]
	v.mu.RUnlock()
	return id, ok
}

func (v *verified) put(value, id string) {
	v.mu.Lock()
	if v.ids == nil || len(v.ids) >= verifiedMax {
		v.ids = make(map[string]string)
	}
	// A clone: value may point into a whole Cookie header, which must not be kept.
	v.ids[strings.Clone(value)] = id
	v.mu.Unlock()
}

// NewCodec builds a Codec from keys (at least one).
func NewCodec(keys []KeyPair) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("sessions: no cookie key")
	}
	c := &Codec{}
	for i, k := range keys {
		if len(k.Hash) < 32 {
			return nil, fmt.Errorf("sessions: cookie key %d: hash key must be at least 32 bytes", i+1)
		}
		switch len(k.Block) {
		case 0, 16, 24, 32:
		default:
			return nil, fmt.Errorf("sessions: cookie key %d: block key must be 16, 24 or 32 bytes", i+1)
		}
		sc := securecookie.New(k.Hash, k.Block)
		sc.SetSerializer(securecookie.NopEncoder{})
		sc.MaxAge(0) // expiry is the session's business, not the cookie's
		sc.MaxLength(512)
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

// Encode signs (and maybe encrypts) a session ID into a cookie value.
func (c *Codec) Encode(id string) (string, error) {
	return c.codecs[0].Encode(macName, []byte(id))
}

// Decode returns the session ID inside value, and false for anything forged, tampered,
// signed with an unknown key or not holding a well-formed ID.
func (c *Codec) Decode(value string) (string, bool) {
	if value == "" || len(value) > 512 {
		return "", false
	}
	if id, ok := c.known.get(value); ok {
		return id, true
	}
	var id []byte
	if err := securecookie.DecodeMulti(macName, value, &id, c.codecs...); err != nil {
		return "", false
	}
	s := string(id)
	if !ValidID(s) {
		return "", false
	}
	c.known.put(value, s)
	return s, true
}

// ParseKeys reads hex keys: hash keys separated by commas or new lines, and block keys the
// same way (matched by position; fewer block keys than hash keys is fine).
func ParseKeys(hashHex, blockHex string) ([]KeyPair, error) {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' })
	}
	hashes, blocks := split(hashHex), split(blockHex)
	if len(blocks) > len(hashes) {
		return nil, errors.New("sessions: more block keys than hash keys")
	}
	var keys []KeyPair
	for i, h := range hashes {
		hk, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("sessions: hash key %d is not hex", i+1)
		}
		k := KeyPair{Hash: hk}
		if i < len(blocks) {
			if k.Block, err = hex.DecodeString(blocks[i]); err != nil {
				return nil, fmt.Errorf("sessions: block key %d is not hex", i+1)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// LoadOrCreateKeyFile reads cookie keys from path: one key a line, "<hash hex>" or
// "<hash hex> <block hex>", '#' comments allowed, the first line signing. When the file
// does not exist it is created (mode 0600, parent directory 0700) with a fresh random
// 64-byte hash key.
func LoadOrCreateKeyFile(path string) ([]KeyPair, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	var keys []KeyPair
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) > 2 {
			return nil, fmt.Errorf("sessions: %s:%d: want \"<hash key hex> [block key hex]\"", path, line)
		}
		k, err := ParseKeys(f[0], strings.Join(f[1:], ""))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		keys = append(keys, k...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("sessions: %s: no key", path)
	}
	return keys, nil
}

func createKeyFile(path string) ([]KeyPair, error) {
	key := make([]byte, 64)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("sessions: cookie key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	content := "# gatehouse cookie keys: one per line, \"<hash key hex> [block key hex]\"; the first signs.\n" +
		hex.EncodeToString(key) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("sessions: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return []KeyPair{{Hash: key}}, nil
}

// LoadOrCreateStoreKeys reads the cookie hash keys a shared store holds (secret
// "cookie-keys", hex keys as ParseKeys reads them), creating a random 64-byte key there on
// first use: the first instance of a cluster generates it, the others read it.
func LoadOrCreateStoreKeys(ctx context.Context, st Secrets) ([]KeyPair, error) {
	v, err := st.LoadOrCreateSecret(ctx, "cookie-keys", func() (string, error) {
		key := make([]byte, 64)
		if _, err := rand.Read(key); err != nil {
			return "", fmt.Errorf("sessions: cookie key: %w", err)
		}
		return hex.EncodeToString(key), nil
	})
	if err != nil {
		return nil, err
	}
	keys, err := ParseKeys(v, "")
	if err == nil && len(keys) == 0 {
		err = errors.New("sessions: the store's cookie keys are empty")
	}
	return keys, err
}
