// Package redisstore is the Redis session store (--store redis://…): every gatehouse
// instance pointing at one Redis shares its sessions, licences, login counters and
// one-time tokens, and so behaves as one server (SPEC §4.4).
//
// Design:
//   - One Lua script per operation (scripts.go), so each is atomic on the server; the
//     server's TIME is the one clock for expiry and licences, so no instance's clock can
//     keep or steal a licence.
//   - Every key under one hash tag ({gatehouse} by default): standalone, Sentinel and
//     Cluster work alike.
//   - Licensed sessions in a sorted set by deadline: the cap check and the take are one
//     script, and a licence is released only by the script that deletes its session, so
//     exactly once.
//   - Idle expiry without a write per request: a session's deadline is written at most once
//     per slack interval, clamp(idle/60, 1s, 60s), as last access + idle + slack, so it
//     never expires before its idle timeout and at most the slack later.
//   - Session checks from server-assisted client-side caching (RESP3 tracking, through
//     rueidis): a session read is kept in the instance's memory until Redis says the key
//     changed, so a logout on one instance is seen by the others at once. A check is served
//     from the cache only when neither a touch write nor expiry is near; anything decisive
//     goes to a script.
//   - Any failure to reach Redis wraps sessions.ErrUnavailable (503 / 1912).
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"gatehouse/sessions"
)

// Options configure a Store.
type Options struct {
	// URL is redis://[user:pass@]host:port/db or rediss://… (TLS).
	URL string
	// Namespace is the hash tag every key lives under (default "gatehouse"). Instances
	// that share sessions use the same.
	Namespace string
	// Licences is this instance's --licenses: Open refuses it when it differs from the
	// cap the cluster was started with.
	Licences int
	// MaxGuests bounds the guest sessions of the whole cluster (0 = no bound).
	MaxGuests int
	// Timeout bounds each operation (default 2s); past it the store is unavailable.
	Timeout time.Duration
	// ExactTouch writes every touch (slack 0): only for tests that compare expirations
	// with a model.
	ExactTouch bool
	// Now, for the conformance suite only, replaces the server's TIME (see sessionstest).
	Now func() time.Time
	// NoCache turns client-side caching off.
	NoCache bool
}

// Store is the Redis store. It is safe for concurrent use.
type Store struct {
	c        rueidis.Client
	o        Options
	p        string // key prefix: "{namespace}:"
	slackMin time.Duration
	slackMax time.Duration
	offset   atomic.Int64 // server clock minus ours, ns (cache decisions only)
	recent   sync.Map     // session ID → time.Time of this instance's last change (see wrote)
	memo     sync.Map     // session ID → *memo: the last decoded cached record
	shared   sync.Map     // key → value this instance holds for the cluster (cap, secrets): see reassert
	margin   time.Duration
}

var (
	_ sessions.Store   = (*Store)(nil)
	_ sessions.Secrets = (*Store)(nil)
)

// Open connects to Redis and checks that it can hold sessions: maxmemory-policy must be
// noeviction (an evicted session would lose a licence, or keep one), and o.Licences must
// be the cluster's cap (the first instance sets it).
func Open(ctx context.Context, o Options) (*Store, error) {
	copt, err := rueidis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	if o.Namespace == "" {
		o.Namespace = "gatehouse"
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	copt.ConnWriteTimeout = o.Timeout
	copt.DisableCache = o.NoCache
	copt.ClientName = "gatehouse"
	c, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("%w: redis store %s: %v", sessions.ErrUnavailable, redact(o.URL), err)
	}
	s := &Store{c: c, o: o, p: "{" + o.Namespace + "}:", slackMin: time.Second, slackMax: time.Minute}
	if o.ExactTouch {
		s.slackMin, s.slackMax = 0, 0
	}
	if err := s.check(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// redact hides a password in a Redis URL for messages.
func redact(u string) string {
	if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
		return u[:i+3] + "…@" + u[j+1:]
	}
	return u
}

func (s *Store) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*s.o.Timeout)
	defer cancel()
	info, err := s.c.Do(ctx, s.c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		return s.fail("redis store: INFO", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "maxmemory_policy:"); ok && v != "noeviction" {
			return fmt.Errorf("redis store: maxmemory-policy is %s: gatehouse needs noeviction (an evicted key would drop a session or a licence); set it with CONFIG SET maxmemory-policy noeviction and in redis.conf", v)
		}
	}
	key := s.p + "licences"
	if err := s.c.Do(ctx, s.c.B().Set().Key(key).Value(strconv.Itoa(s.o.Licences)).Nx().Build()).Error(); err != nil && !rueidis.IsRedisNil(err) {
		return s.fail("redis store: licences", err)
	}
	got, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).ToString()
	if err != nil {
		return s.fail("redis store: licences", err)
	}
	s.shared.Store(key, got)
	if got != strconv.Itoa(s.o.Licences) {
		return fmt.Errorf("redis store: --licenses %d differs from the cluster's %s: every instance sharing a store must have the same cap (to change it, stop every instance and delete the key %q)", s.o.Licences, got, key)
	}
	t0 := time.Now()
	tm, err := s.c.Do(ctx, s.c.B().Time().Build()).AsStrSlice()
	t1 := time.Now()
	if err != nil || len(tm) != 2 {
		return s.fail("redis store: TIME", err)
	}
	sec, _ := strconv.ParseInt(tm[0], 10, 64)
	usec, _ := strconv.ParseInt(tm[1], 10, 64)
	server := time.Unix(sec, usec*1000)
	s.offset.Store(int64(server.Sub(t0.Add(t1.Sub(t0) / 2))))
	s.margin = 250*time.Millisecond + t1.Sub(t0)
	return nil
}

// fail wraps an error from Redis: the store is unavailable (fail closed, SPEC §4.4).
func (s *Store) fail(op string, err error) error {
	if err == nil {
		err = errors.New("unexpected reply")
	}
	return fmt.Errorf("%w: %s: %v", sessions.ErrUnavailable, op, err)
}

// Close closes this instance's connections and cache. It deletes nothing: the sessions
// and licences stay for the other instances.
func (s *Store) Close() error {
	s.c.Close()
	return nil
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.o.Timeout)
}

// clockArg is ARGV[2]: the clock override, "0" for the server's TIME.
func (s *Store) clockArg() string {
	if s.o.Now == nil {
		return "0"
	}
	return strconv.FormatInt(s.o.Now().UnixMicro(), 10)
}

// serverNow estimates the server's clock, for cache decisions only.
func (s *Store) serverNow() (time.Time, time.Duration) {
	if s.o.Now != nil {
		return s.o.Now(), 0
	}
	return time.Now().Add(time.Duration(s.offset.Load())), s.margin
}

func (s *Store) skey(id string) string { return s.p + "s:" + id }

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// run executes a script with the prefix and clock as its first arguments.
func (s *Store) run(ctx context.Context, sc *rueidis.Lua, keys []string, args ...string) ([]rueidis.RedisMessage, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if len(keys) == 0 {
		keys = []string{s.p + "exp"}
	}
	return sc.Exec(ctx, s.c, keys, append([]string{s.p, s.clockArg()}, args...)).ToArray()
}

// status runs a script whose reply starts with a status word; it maps the words to the
// sessions package's answers.
func (s *Store) status(ctx context.Context, op string, sc *rueidis.Lua, keys []string, args ...string) ([]rueidis.RedisMessage, error) {
	r, err := s.run(ctx, sc, keys, args...)
	if err != nil {
		return nil, s.fail(op, err)
	}
	if len(r) == 0 {
		return nil, s.fail(op, nil)
	}
	st, _ := r[0].ToString()
	switch st {
	case "OK":
		return r[1:], nil
	case "NOTFOUND":
		return nil, sessions.ErrNotFound
	case "EXISTS":
		return nil, sessions.ErrExists
	case "EXHAUSTED":
		return nil, sessions.ErrLicenceExhausted
	case "CHANGED":
		return nil, errChanged
	case "LOCKED":
		return nil, sessions.ErrLocked
	}
	return nil, s.fail(op, fmt.Errorf("status %q", st))
}

var errChanged = errors.New("redis store: session changed")

// wrote marks sessions this instance has just changed: their cached copies are not used
// for a while. Redis sends the invalidation of a key to the client that changed it too,
// but on that client's connection after the write's reply (and, with pipelining, possibly
// after later replies), so a cached read right after a write could still see the old
// value. For recentWrite after its own change of a session, this instance reads it with a
// script instead; the invalidation has arrived long before then.
func (s *Store) wrote(ids ...string) {
	if s.o.NoCache {
		return
	}
	now := time.Now()
	for _, id := range ids {
		s.recent.Store(id, now)
		s.memo.Delete(id)
	}
}

const recentWrite = 2 * time.Second

// recentlyWritten reports whether this instance changed session id within recentWrite.
func (s *Store) recentlyWritten(id string) bool {
	at, ok := s.recent.Load(id)
	return ok && time.Since(at.(time.Time)) < recentWrite
}

// forgetWrites drops marks older than recentWrite, and decoded sessions past their
// deadline (closed elsewhere or expired: either way they are not served again).
func (s *Store) forgetWrites() {
	s.recent.Range(func(k, v any) bool {
		if time.Since(v.(time.Time)) >= recentWrite {
			s.recent.CompareAndDelete(k, v)
		}
		return true
	})
	now, _ := s.serverNow()
	s.memo.Range(func(k, v any) bool {
		if !v.(*memo).s.Expires.After(now) {
			s.memo.CompareAndDelete(k, v)
		}
		return true
	})
}

// write runs a script that may change the sessions ids, and marks them written (whatever
// the outcome: an unavailable store may have run it).
func (s *Store) write(ctx context.Context, op string, sc *rueidis.Lua, keys []string, ids []string, args ...string) ([]rueidis.RedisMessage, error) {
	s.wrote(ids...)
	r, err := s.status(ctx, op, sc, keys, args...)
	s.wrote(ids...)
	return r, err
}

// record is a stored session's hash.
type record struct {
	id, d, exp, la, idle, g, lic, v string
}

func recordOf(r []rueidis.RedisMessage) (record, error) {
	if len(r) < 8 {
		return record{}, errors.New("short reply")
	}
	var f [8]string
	for i := range f {
		f[i], _ = r[i].ToString()
	}
	return record{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]}, nil
}

func recordFromMap(id string, m map[string]string) record {
	return record{id, m["d"], m["exp"], m["la"], m["idle"], m["g"], m["lic"], m["v"]}
}

func micros(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMicro(n).UTC()
}

func (rc record) session() (*sessions.Session, error) {
	var ss sessions.Session
	if err := json.Unmarshal([]byte(rc.d), &ss); err != nil {
		return nil, fmt.Errorf("redis store: session %s: %w", rc.id[:min(6, len(rc.id))], err)
	}
	ss.ID = rc.id
	ss.Expires = micros(rc.exp)
	ss.LastAccess = micros(rc.la)
	idle, _ := strconv.ParseInt(rc.idle, 10, 64)
	ss.IdleTimeout = time.Duration(idle) * time.Microsecond
	ss.Guest = rc.g == "1"
	ss.Licensed = rc.lic == "1"
	return &ss, nil
}

func (s *Store) sessionReply(op string, r []rueidis.RedisMessage) (*sessions.Session, record, error) {
	rc, err := recordOf(r)
	if err != nil {
		return nil, rc, s.fail(op, err)
	}
	ss, err := rc.session()
	return ss, rc, err
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (s *Store) slackArgs() []string { return []string{us(s.slackMin), us(s.slackMax)} }

// slack is the touch slack of a session with that idle timeout (as the scripts compute it).
func (s *Store) slack(idle time.Duration) time.Duration {
	return min(max((idle/60).Truncate(time.Microsecond), s.slackMin), s.slackMax)
}

// Create implements sessions.Sessions.
func (s *Store) Create(ctx context.Context, ss *sessions.Session, licence bool, max int) error {
	return s.create(ctx, "create", createScript, ss, licence, max, nil, nil)
}

// SettleCreate implements sessions.SettleCreator: the counters' settle and the session's
// create in one script run, so a login that succeeds costs one round trip after its
// credentials are checked, not two.
func (s *Store) SettleCreate(ctx context.Context, unhit, reset []string, _ time.Time, ss *sessions.Session, licence bool, max int) error {
	if len(unhit)+len(reset) == 0 {
		return s.Create(ctx, ss, licence, max)
	}
	return s.create(ctx, "settle and create", settleCreateScript, ss, licence, max, unhit, reset)
}

var _ sessions.SettleCreator = (*Store)(nil)

// create runs createScript, or settleCreateScript with the counters unhit and reset after
// the session's arguments.
func (s *Store) create(ctx context.Context, op string, sc *rueidis.Lua, ss *sessions.Session, licence bool, max int, unhit, reset []string) error {
	d, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	n := len(unhit) + len(reset)
	keys := make([]string, 1, 1+n)
	keys[0] = s.skey(ss.ID)
	args := make([]string, 0, 10+n)
	args = append(args, ss.ID, string(d), us(ss.IdleTimeout), flag(ss.Guest), flag(licence),
		strconv.Itoa(max), strconv.Itoa(s.o.MaxGuests), us(s.slackMin), us(s.slackMax))
	if n > 0 {
		args = append(args, strconv.Itoa(len(unhit)))
		args = append(append(args, unhit...), reset...)
		keys = append(append(keys, s.counterKeys(unhit)...), s.counterKeys(reset)...)
	}
	// The new session is not marked written (see wrote): its ID is new, drawn from
	// crypto/rand by the manager, so no instance has read it through its cache and there
	// is no stale copy to keep away from. (Marking it cost about 5% of the instance's CPU
	// per login in BenchmarkClusterLogin: two map writes, and marks that stay in memory
	// until the next sweep.)
	r, err := s.status(ctx, op, sc, keys, args...)
	if err != nil {
		return err
	}
	// The reply is the deadline and last access the script wrote (the session's JSON is
	// ours: no need to read it back), then the guests evicted to make room.
	if len(r) < 2 {
		return s.fail(op, errors.New("short reply"))
	}
	exp, _ := r[0].ToString()
	la, _ := r[1].ToString()
	for _, v := range r[2:] {
		if id, err := v.ToString(); err == nil {
			s.wrote(id)
		}
	}
	ss.Licensed, ss.LastAccess, ss.Expires = licence, micros(la), micros(exp)
	return nil
}

// cached reads a session from the client-side cache: ok false when the cache cannot
// decide (no cache, an error, or expiry near).
func (s *Store) cached(ctx context.Context, id string, touch bool) (*sessions.Session, bool, error) {
	if s.o.NoCache || s.recentlyWritten(id) {
		return nil, false, nil
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	ss, err := s.cachedSession(cctx, id)
	if ss == nil || err != nil {
		return nil, err != nil, err
	}
	now, margin := s.serverNow()
	if ss.Expires.Sub(now) <= margin {
		return nil, false, nil // expired or about to: the script decides and removes it
	}
	if touch {
		sl := s.slack(ss.IdleTimeout)
		if sl == 0 || now.Sub(ss.LastAccess) >= sl-margin {
			return nil, false, nil // a touch write is due
		}
	}
	return ss, true, nil
}

// cachedSession reads session id through the client-side cache: nil and ErrNotFound when
// it is not stored. When this instance has decoded the session before, only its version,
// deadline and last write are read (three cached fields, no allocation), and the decoded
// session is reused if they did not change: every change of a session changes its
// version (a rotated or closed session's key is gone).
func (s *Store) cachedSession(ctx context.Context, id string) (*sessions.Session, error) {
	key := s.skey(id)
	if v, ok := s.memo.Load(id); ok {
		m := v.(*memo)
		f, err := s.c.DoCache(ctx, s.c.B().Hmget().Key(key).Field("v", "exp", "la").Cache(), time.Minute).ToArray()
		if err != nil {
			return nil, s.fail("get", err)
		}
		if len(f) != 3 || f[0].IsNil() {
			return nil, sessions.ErrNotFound
		}
		ver, _ := f[0].ToString()
		exp, _ := f[1].ToString()
		la, _ := f[2].ToString()
		if ver == m.rc.v && exp == m.rc.exp && la == m.rc.la {
			c := *m.s // sessions share slices safely: they are never modified in place
			return &c, nil
		}
	}
	m, err := s.c.DoCache(ctx, s.c.B().Hgetall().Key(key).Cache(), time.Minute).AsStrMap()
	if err != nil {
		return nil, s.fail("get", err)
	}
	if len(m) == 0 {
		return nil, sessions.ErrNotFound
	}
	return s.decoded(recordFromMap(id, m))
}

// decoded returns the session of a cached record, decoding its JSON only when the record
// changed since this instance last decoded it (a session check otherwise costs a lookup
// and a copy).
func (s *Store) decoded(rc record) (*sessions.Session, error) {
	if v, ok := s.memo.Load(rc.id); ok {
		if m := v.(*memo); m.rc == rc {
			return m.s.Clone(), nil
		}
	}
	ss, err := rc.session()
	if err != nil {
		return nil, err
	}
	s.memo.Store(rc.id, &memo{rc: rc, s: ss.Clone()})
	return ss, nil
}

// memo is a decoded cached record.
type memo struct {
	rc record
	s  *sessions.Session
}

// Touch implements sessions.Sessions. Within the slack of the last write it is served from
// the instance's cache, with no round trip to Redis.
func (s *Store) Touch(ctx context.Context, id string, _ time.Time) (*sessions.Session, error) {
	if ss, ok, err := s.cached(ctx, id, true); ok || err != nil {
		return ss, err
	}
	return s.touch(ctx, id, true)
}

func (s *Store) touch(ctx context.Context, id string, write bool) (*sessions.Session, error) {
	r, err := s.write(ctx, "touch", touchScript, []string{s.skey(id)}, []string{id}, append([]string{id, flag(write)}, s.slackArgs()...)...)
	if err != nil {
		return nil, err
	}
	ss, _, err := s.sessionReply("touch", r)
	return ss, err
}

// Get implements sessions.Sessions.
func (s *Store) Get(ctx context.Context, id string, _ time.Time) (*sessions.Session, error) {
	if ss, ok, err := s.cached(ctx, id, false); ok || err != nil {
		return ss, err
	}
	return s.touch(ctx, id, false)
}

// Update implements sessions.Sessions: read, apply fn, store if the session's version is
// still the one read; else read again and run fn again.
func (s *Store) Update(ctx context.Context, id string, _ time.Time, fn func(*sessions.Session) error) (*sessions.Session, error) {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return nil, s.fail("update", err)
		}
		r, err := s.status(ctx, "update", touchScript, []string{s.skey(id)}, append([]string{id, "0"}, s.slackArgs()...)...)
		if err != nil {
			return nil, err
		}
		cur, rc, err := s.sessionReply("update", r)
		if err != nil {
			return nil, err
		}
		c := cur.Clone()
		if err := fn(c); err != nil {
			return nil, err
		}
		d, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		args := append([]string{id, rc.v, string(d), strconv.FormatInt(c.LastAccess.UnixMicro(), 10),
			us(c.IdleTimeout), flag(c.Guest)}, s.slackArgs()...)
		r, err = s.write(ctx, "update", updateScript, []string{s.skey(id)}, []string{id}, args...)
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out, _, err := s.sessionReply("update", r)
		return out, err
	}
}

// TakeLicence implements sessions.Licences.
func (s *Store) TakeLicence(ctx context.Context, id string, max int) error {
	_, err := s.write(ctx, "take licence", takeLicenceScript, []string{s.skey(id)}, []string{id}, id, strconv.Itoa(max))
	return err
}

// ReclaimGuestLicence implements sessions.Licences.
func (s *Store) ReclaimGuestLicence(ctx context.Context, _ time.Time) (*sessions.Session, error) {
	r, err := s.write(ctx, "reclaim", reclaimScript, []string{s.p + "lguests"}, nil)
	if err != nil {
		return nil, err
	}
	ss, _, err := s.sessionReply("reclaim", r)
	if ss != nil {
		s.wrote(ss.ID)
	}
	return ss, err
}

// Rotate implements sessions.Sessions.
func (s *Store) Rotate(ctx context.Context, oldID, newID string, _ time.Time) (*sessions.Session, error) {
	r, err := s.write(ctx, "rotate", rotateScript, []string{s.skey(oldID), s.skey(newID)}, []string{oldID, newID}, oldID, newID)
	if err != nil {
		return nil, err
	}
	ss, _, err := s.sessionReply("rotate", r)
	return ss, err
}

// Delete implements sessions.Sessions.
func (s *Store) Delete(ctx context.Context, id string) (*sessions.Session, error) {
	r, err := s.write(ctx, "delete", deleteScript, []string{s.skey(id)}, []string{id}, id)
	if err != nil {
		return nil, err
	}
	ss, _, err := s.sessionReply("delete", r)
	return ss, err
}

const sweepBatch = 500

// Sweep implements sessions.Sessions. Counters and tokens expire by themselves (Redis key
// expiry, set past their window: their scripts decide with the server's clock). Each
// sweep also puts back the cluster's licence cap and cookie keys if Redis lost them
// (see reassert).
func (s *Store) Sweep(ctx context.Context, _ time.Time) (int, error) {
	s.forgetWrites()
	shared := s.reassert(ctx)
	total := 0
	for {
		cctx, cancel := s.ctx(ctx)
		ids, err := sweepScript.Exec(cctx, s.c, []string{s.p + "exp"}, []string{s.p, s.clockArg(), strconv.Itoa(sweepBatch)}).AsStrSlice()
		cancel()
		if err != nil {
			return total, errors.Join(s.fail("sweep", err), shared)
		}
		s.wrote(ids...)
		total += len(ids)
		if len(ids) < sweepBatch {
			return total, shared
		}
	}
}

// Stats implements sessions.Sessions.
func (s *Store) Stats(ctx context.Context) (sessions.Stats, error) {
	r, err := s.run(ctx, statsScript, nil)
	if err != nil || len(r) != 3 {
		return sessions.Stats{}, s.fail("stats", err)
	}
	var n [3]int64
	for i := range n {
		n[i], _ = r[i].AsInt64()
	}
	return sessions.Stats{Sessions: int(n[0]), Guests: int(n[1]), Licensed: int(n[2])}, nil
}

// Range implements sessions.Sessions, in batches (not one snapshot: sessions created or
// removed meanwhile may or may not be seen).
func (s *Store) Range(ctx context.Context, fn func(*sessions.Session) bool) error {
	const batch = 200
	for start := int64(0); ; start += batch {
		cctx, cancel := s.ctx(ctx)
		ids, err := s.c.Do(cctx, s.c.B().Zrange().Key(s.p+"exp").Min(strconv.FormatInt(start, 10)).Max(strconv.FormatInt(start+batch-1, 10)).Build()).AsStrSlice()
		if err != nil {
			cancel()
			return s.fail("range", err)
		}
		cmds := make(rueidis.Commands, len(ids))
		for i, id := range ids {
			cmds[i] = s.c.B().Hgetall().Key(s.skey(id)).Build()
		}
		res := s.c.DoMulti(cctx, cmds...)
		cancel()
		for i, r := range res {
			m, err := r.AsStrMap()
			if err != nil {
				return s.fail("range", err)
			}
			if len(m) == 0 {
				continue
			}
			ss, err := recordFromMap(ids[i], m).session()
			if err != nil {
				return err
			}
			if !fn(ss) {
				return nil
			}
		}
		if len(ids) < batch {
			return nil
		}
	}
}

// Hit implements sessions.Counters.
func (s *Store) Hit(ctx context.Context, key string, _ time.Time, window time.Duration) (int, time.Time, error) {
	r, err := s.run(ctx, hitScript, []string{s.p + "c:" + key}, key, us(window))
	if err != nil || len(r) != 2 {
		return 0, time.Time{}, s.fail("hit", err)
	}
	n, _ := r[0].AsInt64()
	reset, _ := r[1].ToString()
	return int(n), micros(reset), nil
}

// Unhit implements sessions.Counters.
func (s *Store) Unhit(ctx context.Context, key string, _ time.Time) error {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := unhitScript.Exec(cctx, s.c, []string{s.p + "c:" + key}, []string{s.p, s.clockArg(), key}).Error(); err != nil {
		return s.fail("unhit", err)
	}
	return nil
}

// ResetHits implements sessions.Counters.
func (s *Store) ResetHits(ctx context.Context, key string) error {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.c.Do(cctx, s.c.B().Del().Key(s.p+"c:"+key).Build()).Error(); err != nil {
		return s.fail("reset hits", err)
	}
	return nil
}

// HitAll implements sessions.CounterBatch: the keys' hits in one script run.
func (s *Store) HitAll(ctx context.Context, keys []string, _ time.Time, window time.Duration) ([]sessions.Count, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	r, err := s.run(ctx, hitAllScript, s.counterKeys(keys), append([]string{us(window)}, keys...)...)
	if err != nil || len(r) != 2*len(keys) {
		return nil, s.fail("hit", err)
	}
	counts := make([]sessions.Count, len(keys))
	for i := range counts {
		n, _ := r[2*i].AsInt64()
		reset, _ := r[2*i+1].ToString()
		counts[i] = sessions.Count{N: int(n), Reset: micros(reset)}
	}
	return counts, nil
}

// Settle implements sessions.CounterBatch: the take-backs and resets in one script run.
func (s *Store) Settle(ctx context.Context, unhit, reset []string, _ time.Time) error {
	if len(unhit)+len(reset) == 0 {
		return nil
	}
	keys := append(append([]string{}, unhit...), reset...)
	args := append([]string{strconv.Itoa(len(unhit))}, keys...)
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := settleScript.Exec(cctx, s.c, s.counterKeys(keys), append([]string{s.p, s.clockArg()}, args...)).Error(); err != nil {
		return s.fail("settle hits", err)
	}
	return nil
}

var _ sessions.CounterBatch = (*Store)(nil)

// counterKeys are the Redis keys of counters, declared to the script that uses them.
func (s *Store) counterKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.p + "c:" + k
	}
	return out
}

// PutToken implements sessions.Tokens. The token lives expires minus the caller's now,
// measured by the server's clock.
func (s *Store) PutToken(ctx context.Context, tok, sessionID string, expires time.Time) error {
	now := time.Now()
	if s.o.Now != nil {
		now = s.o.Now()
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	err := putTokenScript.Exec(cctx, s.c, []string{s.p + "t:" + tok}, []string{s.p, s.clockArg(), tok, sessionID, us(max(expires.Sub(now), 0))}).Error()
	if err != nil {
		return s.fail("put token", err)
	}
	return nil
}

// TakeToken implements sessions.Tokens.
func (s *Store) TakeToken(ctx context.Context, tok string, _ time.Time) (string, error) {
	r, err := s.status(ctx, "take token", takeTokenScript, []string{s.p + "t:" + tok}, tok)
	if err != nil {
		return "", err
	}
	return r[0].ToString()
}

// LoadOrCreateSecret implements sessions.Secrets.
func (s *Store) LoadOrCreateSecret(ctx context.Context, name string, create func() (string, error)) (string, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	key := s.p + "secret:" + name
	v, err := s.c.Do(cctx, s.c.B().Get().Key(key).Build()).ToString()
	if err == nil {
		return v, nil
	}
	if !rueidis.IsRedisNil(err) {
		return "", s.fail("secret", err)
	}
	nv, err := create()
	if err != nil {
		return "", err
	}
	if err := s.c.Do(cctx, s.c.B().Set().Key(key).Value(nv).Nx().Build()).Error(); err != nil && !rueidis.IsRedisNil(err) {
		return "", s.fail("secret", err)
	}
	v, err = s.c.Do(cctx, s.c.B().Get().Key(key).Build()).ToString()
	if err != nil {
		return "", s.fail("secret", err)
	}
	s.shared.Store(key, v)
	return v, nil
}

// reassert puts back what this instance holds for the cluster (the licence cap, the
// cookie keys) when Redis lost it — a Redis restarted without persistence — so that an
// instance started afterwards joins the same cluster instead of founding a new one. It
// never overwrites: if another value is there, the instances disagree, and the error
// says so.
func (s *Store) reassert(ctx context.Context) error {
	var errs []error
	s.shared.Range(func(k, v any) bool {
		key, want := k.(string), v.(string)
		cctx, cancel := s.ctx(ctx)
		defer cancel()
		if err := s.c.Do(cctx, s.c.B().Set().Key(key).Value(want).Nx().Build()).Error(); err != nil && !rueidis.IsRedisNil(err) {
			errs = append(errs, s.fail("reassert", err))
			return false
		}
		if got, err := s.c.Do(cctx, s.c.B().Get().Key(key).Build()).ToString(); err == nil && got != want {
			errs = append(errs, fmt.Errorf("redis store: %s in Redis is not the value this instance started with: instances of one cluster disagree (restart them all)", strings.TrimPrefix(key, s.p)))
		}
		return true
	})
	return errors.Join(errs...)
}
