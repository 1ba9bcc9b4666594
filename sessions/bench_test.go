package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// SPEC §9: one million live sessions fit in < 400 MiB of heap and a lookup stays O(1).
//
//	go test -run '^$' -bench 'Sessions|Touch' -benchmem ./sessions/
//
// The one-million benchmarks are skipped with -short.

const million = 1_000_000

// benchID is the i-th benchmark session ID: 32 upper-case hex digits, distinct for each i.
func benchID(i int) string {
	var buf [32]byte
	const digits = "0123456789ABCDEF"
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for j := 31; j >= 0; j-- {
		buf[j] = digits[x&15]
		x >>= 4
		if j == 16 {
			x = uint64(i)
		}
	}
	return string(buf[:])
}

// benchSession returns a session shaped like one of the demo app's logged-in users: a
// name, a full name, one privilege, one role and a small storage object.
func benchSession(i int, now time.Time) *Session {
	return &Session{
		ID: benchID(i), UserName: fmt.Sprintf("user%07d@example.com", i), FullName: fmt.Sprintf("User %07d", i),
		Privileges: []string{"vip"}, Roles: []string{"SalesTeam"},
		Storage:     json.RawMessage(`{"info":{"userName":"Ann Archer"},"myTop3":[{"name":"Acme","totalPurchase":125000}]}`),
		IdleTimeout: time.Hour, Created: now, LastAccess: now, Expires: now.Add(time.Hour),
		RemoteAddr: "127.0.0.1", Authenticated: true, Licensed: true,
	}
}

// guestSession returns a session as a cookie-less request opens it.
func guestSession(i int, now time.Time) *Session {
	return &Session{
		ID: benchID(i), IdleTimeout: time.Hour,
		Created: now, LastAccess: now, Expires: now.Add(time.Hour), RemoteAddr: "127.0.0.1", Guest: true,
	}
}

// fill stores n sessions made by mk.
func fill(tb testing.TB, st *MemoryStore, n int, mk func(int, time.Time) *Session) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := range n {
		s := mk(i, now)
		if err := st.Create(ctx, s, s.Licensed || s.Guest, 0); err != nil {
			tb.Fatalf("create %d: %v", i, err)
		}
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// residentMiB is the process's resident memory (VmRSS), on Linux: the whole test process,
// the store and everything else it holds.
func residentMiB() (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024, err == nil
		}
	}
	return 0, false
}

// BenchmarkMillionSessions measures the heap one million live sessions take in the
// memory store: HeapAlloc after a full GC, before and after filling the store; and the
// process's resident memory then (run one shape at a time for that figure: the other's
// store may not have been returned to the system yet).
func BenchmarkMillionSessions(b *testing.B) {
	if testing.Short() {
		b.Skip("one million sessions: skipped with -short")
	}
	for _, shape := range []struct {
		name string
		mk   func(int, time.Time) *Session
	}{{"user", benchSession}, {"guest", guestSession}} {
		b.Run(shape.name, func(b *testing.B) {
			for b.Loop() {
				before := heapInUse()
				st := NewMemoryStore(0)
				fill(b, st, million, shape.mk)
				after := heapInUse()
				if got, err := st.Stats(context.Background()); err != nil || got.Sessions != million {
					b.Fatalf("stats: got %+v, %v; want %d sessions", got, err, million)
				}
				runtime.KeepAlive(st)
				used := float64(after - before)
				b.ReportMetric(used/(1<<20), "MiB-heap")
				b.ReportMetric(used/million, "B/session")
				if rss, ok := residentMiB(); ok {
					b.ReportMetric(rss, "MiB-resident")
				}
			}
		})
	}
}

// BenchmarkTouch is the lookup every request makes (find the session, move its
// expiration), in stores of 1 to 1 000 000 sessions. Sessions are touched in random order,
// so that large stores are measured with cold caches, as a server sees them: the cost
// grows while the store outgrows the CPU caches, then stays flat (100 000 vs 1 000 000).
func BenchmarkTouch(b *testing.B) {
	for _, n := range []int{1, 1000, 100_000, million} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			if n == million && testing.Short() {
				b.Skip("one million sessions: skipped with -short")
			}
			st := NewMemoryStore(0)
			fill(b, st, n, benchSession)
			// The keys, in random order, laid out one after the other: reading the next one
			// is a sequential (prefetched) read, as hot as a key just decoded from a cookie.
			keys := make([][32]byte, n)
			for i, j := range rand.Perm(n) {
				copy(keys[i][:], benchID(j))
			}
			ctx := context.Background()
			now := time.Now()
			i := 0
			for b.Loop() {
				k := &keys[i%n]
				if _, err := st.Touch(ctx, unsafe.String(&k[0], len(k)), now); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestEntrySize guards the memory figure above: an entry must fit the 160-byte
// allocation class.
func TestEntrySize(t *testing.T) {
	if got, want := unsafe.Sizeof(entry{}), uintptr(160); got > want {
		t.Fatalf("entry is %d bytes, want at most %d", got, want)
	}
}

// TestSweepSecondKeys checks that whole-second heap keys never sweep a session early, and
// sweep it at the first sweep of the second after it expired (lookups never serve it
// meanwhile: they check the exact expiration).
func TestSweepSecondKeys(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		expires  time.Duration // after base
		sweepAt  time.Duration // after base
		wantGone bool
	}{
		{"FractionBeforeExpiryKept", 1500 * time.Millisecond, 1400 * time.Millisecond, false},
		{"SameSecondBeforeExpiryKept", 1500 * time.Millisecond, 1000 * time.Millisecond, false},
		{"SweptAtNextWholeSecond", 1500 * time.Millisecond, 2000 * time.Millisecond, true},
		{"WholeSecondExpirySwept", 2 * time.Second, 2 * time.Second, true},
		{"WholeSecondBeforeExpiryKept", 2 * time.Second, 1999 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewMemoryStore(0)
			s := &Session{ID: benchID(1), IdleTimeout: tt.expires, Created: base, LastAccess: base, Expires: base.Add(tt.expires)}
			if err := st.Create(ctx, s, false, 0); err != nil {
				t.Fatal(err)
			}
			n, err := st.Sweep(ctx, base.Add(tt.sweepAt))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := n == 1, tt.wantGone; got != want {
				t.Fatalf("swept %d sessions, want gone=%v", n, want)
			}
		})
	}
}

// BenchmarkCookieDecode is the cookie half of a session check: a cookie seen before (the
// verified-values cache) and a cookie seen for the first time (HMAC verification).
func BenchmarkCookieDecode(b *testing.B) {
	codec, err := NewCodec([]KeyPair{{Hash: make([]byte, 64)}})
	if err != nil {
		b.Fatal(err)
	}
	value, err := codec.Encode(benchID(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seen", func(b *testing.B) {
		for b.Loop() {
			if _, ok := codec.Decode(value); !ok {
				b.Fatal("decode failed")
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			codec.known = verified{} // forget: every decode verifies
			if _, ok := codec.Decode(value); !ok {
				b.Fatal("decode failed")
			}
		}
	})
}

// TestDecodeCache checks that remembering verified cookie values changes no answer.
func TestDecodeCache(t *testing.T) {
	codec, err := NewCodec([]KeyPair{{Hash: make([]byte, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCodec([]KeyPair{{Hash: []byte("another key, another server......")}})
	if err != nil {
		t.Fatal(err)
	}
	value, err := codec.Encode(benchID(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second time from the cache
		if got, ok := codec.Decode(value); !ok || got != benchID(1) {
			t.Fatalf("decode %d: got %q, %v; want %q, true", i+1, got, ok, benchID(1))
		}
	}
	tampered := value[:len(value)-2] + "AA"
	if tampered == value {
		tampered = value[:len(value)-2] + "BB"
	}
	if got, ok := codec.Decode(tampered); ok {
		t.Fatalf("tampered value decoded to %q after the genuine one was cached", got)
	}
	if got, ok := other.Decode(value); ok {
		t.Fatalf("a codec with other keys accepted the value: %q", got)
	}

	t.Run("BoundedByStartingOver", func(t *testing.T) {
		var v verified
		for i := range verifiedMax + 1 {
			v.put(benchID(i), benchID(i))
		}
		if got, want := len(v.ids), 1; got != want {
			t.Fatalf("entries after %d puts: got %d, want %d", verifiedMax+1, got, want)
		}
	})
}
