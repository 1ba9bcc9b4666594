package engine

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"log/slog"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
	"golang.org/x/crypto/bcrypt"
)

const (
	// bcryptMaxPassword is how much of a password bcrypt uses. Longer
	// passwords are cut here explicitly, as other bcrypt implementations do,
	// instead of being refused.
	bcryptMaxPassword = 72
	// maxLogMessage bounds one console message in the server log.
	maxLogMessage = 8 << 10
)

// consoleLog makes console.log/info/warn/error/debug: the arguments, joined
// by spaces (objects as JSON), go to the server log with the script's file
// and line.
func (rt *runtime) consoleLog(level slog.Level) func(goja.FunctionCall) goja.Value {
	return func(fc goja.FunctionCall) goja.Value {
		log := rt.e.log
		ctx := rt.cur.context()
		if !log.Enabled(ctx, level) {
			return goja.Undefined()
		}
		parts := make([]string, len(fc.Arguments))
		for i, a := range fc.Arguments {
			parts[i] = rt.logText(a)
		}
		msg := truncate(strings.Join(parts, " "), maxLogMessage)
		file, line := rt.caller()
		log.Log(ctx, level, msg, "script", file, "line", line)
		return goja.Undefined()
	}
}

// logText renders one console argument: strings as they are, objects as JSON
// when they have a JSON form, anything else as String(value).
func (rt *runtime) logText(v goja.Value) string {
	if s, ok := asString(v); ok {
		return s
	}
	if obj, ok := v.(*goja.Object); ok {
		if _, isFn := goja.AssertFunction(obj); !isFn {
			if j, err := rt.stringify(goja.Undefined(), obj); err == nil {
				if s, ok := asString(j); ok {
					return s
				}
			}
		}
	}
	s, err := rt.toString(goja.Undefined(), v)
	if err != nil {
		return "[value that cannot be printed]"
	}
	return s.String()
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// verifyPasswordHash(password, hash) reports whether password matches a
// bcrypt hash. A malformed hash does not match.
func (rt *runtime) verifyPasswordHash(fc goja.FunctionCall) goja.Value {
	password := rt.stringArg(fc, 0, "verifyPasswordHash", "password")
	hashed := rt.stringArg(fc, 1, "verifyPasswordHash", "hash")
	ok, done := wait(rt, func() bool {
		return bcrypt.CompareHashAndPassword([]byte(hashed), bcryptInput(password)) == nil
	})
	if !done {
		return goja.Undefined() // interrupted: the call is ending
	}
	return rt.vm.ToValue(ok)
}

// generatePasswordHash(password, {cost}) returns a bcrypt hash (cost 4-31,
// default 10).
func (rt *runtime) generatePasswordHash(fc goja.FunctionCall) goja.Value {
	password := rt.stringArg(fc, 0, "generatePasswordHash", "password")
	cost := bcrypt.DefaultCost
	if opts := fc.Argument(1); !absent(opts) {
		obj, ok := opts.(*goja.Object)
		if !ok {
			return rt.throw("TypeError", "generatePasswordHash: options must be an object")
		}
		if v := obj.Get("cost"); !absent(v) {
			c, ok := asNumber(v)
			if !ok || c != math.Trunc(c) || c < float64(bcrypt.MinCost) || c > float64(bcrypt.MaxCost) {
				return rt.throw("RangeError", "generatePasswordHash: cost must be an integer from %d to %d", bcrypt.MinCost, bcrypt.MaxCost)
			}
			cost = int(c)
		}
	}
	type result struct {
		hash []byte
		err  error
	}
	r, done := wait(rt, func() result {
		h, err := bcrypt.GenerateFromPassword(bcryptInput(password), cost)
		return result{h, err}
	})
	if !done {
		return goja.Undefined()
	}
	if r.err != nil {
		return rt.fail(r.err)
	}
	return rt.vm.ToValue(string(r.hash))
}

// bcryptInput cuts a password to the bytes bcrypt uses.
func bcryptInput(password string) []byte {
	b := []byte(password)
	if len(b) > bcryptMaxPassword {
		b = b[:bcryptMaxPassword]
	}
	return b
}

// wait runs slow work (bcrypt) off the runtime's goroutine so that the call
// honours its context: when the context ends first, the runtime is
// interrupted and done is false. The work itself runs to completion in the
// background; it cannot be stopped.
func wait[T any](rt *runtime, work func() T) (result T, done bool) {
	ch := make(chan T, 1)
	go func() { ch <- work() }()
	select {
	case result = <-ch:
		return result, true
	case <-rt.cur.context().Done():
		rt.vm.Interrupt(interruption{})
		return result, false
	}
}

// digests are the algorithms of generateDigest.
var digests = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// generateDigest(text, algorithm) returns the lower-case hex digest of the
// UTF-8 bytes of text.
func (rt *runtime) generateDigest(fc goja.FunctionCall) goja.Value {
	text := rt.stringArg(fc, 0, "generateDigest", "text")
	algo := rt.stringArg(fc, 1, "generateDigest", "algorithm")
	newHash, ok := digests[strings.ToLower(algo)]
	if !ok {
		return rt.throw("TypeError", "generateDigest: unknown algorithm %q (want sha256, sha512, md5 or sha1)", algo)
	}
	h := newHash()
	h.Write([]byte(text))
	return rt.vm.ToValue(hex.EncodeToString(h.Sum(nil)))
}
