package datastore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

const binaryModel = `{"dataClasses":[
 {"name":"Doc","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"title","type":"string"},
   {"name":"photo","type":"picture"},
   {"name":"file","type":"blob"}]}
]}`

// randomBytes returns n pseudo-random bytes with zero bytes in them.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for i := 0; i < n; i += 97 {
		b[i] = 0
	}
	return b
}

func TestBinaryRoundTripsAndReadsNeverCarryBytes(t *testing.T) {
	db, _ := openTest(t, binaryModel)
	ctx := context.Background()
	dc := db.Model().DataClass("Doc")
	data := randomBytes(3<<20+17, 1)
	e := mustSave(t, db, dc, map[string]any{"title": "a", "file": Binary{Data: data}, "photo": Binary{Data: []byte{0, 1, 2}, Type: "image/png"}})

	if got, want := e.Values["file"], (BinaryInfo{Size: int64(len(data)), Type: "application/octet-stream"}); got != want {
		t.Fatalf("saved entity's file: got %#v, want %#v", got, want)
	}
	b, stamp, err := db.Binary(ctx, dc, e.KeyString(), "file")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Data, data) || stamp != e.Stamp {
		t.Fatalf("file: got %d bytes (equal %v) stamp %d, want %d bytes stamp %d", len(b.Data), bytes.Equal(b.Data, data), stamp, len(data), e.Stamp)
	}
	sel, err := db.Find(ctx, dc, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sel.Entities[0].Values["photo"], (BinaryInfo{Size: 3, Type: "image/png"}); got != want {
		t.Fatalf("listed photo: got %#v, want %#v", got, want)
	}
	for _, a := range dc.Attributes {
		if v, ok := sel.Entities[0].Values[a.Name].([]byte); ok {
			t.Fatalf("a list carries the bytes of %s (%d)", a.Name, len(v))
		}
	}
	// The column list of every entity read selects lengths, not bytes.
	list := db.selectList(dc, "t0")
	if !strings.Contains(list, db.d.byteLength(`t0."file"`)) || strings.Contains(list, `t0."file",`) {
		t.Fatalf("select list reads the bytes: %s", list)
	}

	// An update that leaves the attribute as read keeps it; null clears it.
	e.Values["title"] = "b"
	e2, err := db.Save(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if b, _, _ := db.Binary(ctx, dc, e.KeyString(), "file"); b == nil || !bytes.Equal(b.Data, data) {
		t.Fatal("an update of another attribute lost the bytes")
	}
	e2.Values["file"] = nil
	e3, err := db.Save(ctx, e2)
	if err != nil {
		t.Fatal(err)
	}
	if e3.Values["file"] != nil {
		t.Fatalf("cleared file reads %#v", e3.Values["file"])
	}
	if b, _, err := db.Binary(ctx, dc, e.KeyString(), "file"); err != nil || b != nil {
		t.Fatalf("cleared file: %v, %v", b, err)
	}

	// Other values are refused with a clear error.
	e3.Values["file"] = "aGVsbG8="
	var ve *ValueError
	if _, err := db.Save(ctx, e3); !errors.As(err, &ve) || !strings.Contains(ve.Message, "upload") {
		t.Fatalf("a string for a blob: %v", err)
	}
	if _, _, err := db.Binary(ctx, dc, e.KeyString(), "title"); !errors.Is(err, ErrUnknownAttribute) {
		t.Fatalf("Binary of a string attribute: %v", err)
	}
	if _, _, err := db.Binary(ctx, dc, "999", "file"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Binary of a missing entity: %v", err)
	}
}

func TestUploadsAreOwnedExpireAndAreTakenOnce(t *testing.T) {
	db, clock := openTest(t, binaryModel)
	ctx := context.Background()
	dc := db.Model().DataClass("Doc")
	data := randomBytes(4096, 2)
	id, err := db.PutUpload(ctx, "alice", Binary{Data: data, Type: "image/gif"}, 2*time.Minute, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 32 || strings.ToUpper(id) != id {
		t.Fatalf("upload ID %q is not 32 upper-case hex digits", id)
	}
	save := func(ref UploadRef) (*Entity, error) {
		e := dc.NewEntity()
		e.Values["photo"] = ref
		return db.Save(ctx, e)
	}
	var ve *ValueError
	if _, err := save(UploadRef{ID: id, Owner: "mallory"}); !errors.As(err, &ve) {
		t.Fatalf("another owner's upload: %v", err)
	}
	if _, err := save(UploadRef{ID: "00000000000000000000000000000000", Owner: "alice"}); !errors.As(err, &ve) {
		t.Fatalf("an unknown upload: %v", err)
	}
	e, err := save(UploadRef{ID: id, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := db.Binary(ctx, dc, e.KeyString(), "photo")
	if err != nil || !bytes.Equal(b.Data, data) || b.Type != "image/gif" {
		t.Fatalf("photo from upload: %v %v", b, err)
	}
	if _, err := save(UploadRef{ID: id, Owner: "alice"}); !errors.As(err, &ve) {
		t.Fatalf("an upload used twice: %v", err)
	}

	// A failed save leaves the upload pending.
	id2, err := db.PutUpload(ctx, "alice", Binary{Data: data}, 2*time.Minute, 4)
	if err != nil {
		t.Fatal(err)
	}
	bad := dc.NewEntity()
	bad.Values["photo"] = UploadRef{ID: id2, Owner: "alice"}
	bad.Values["title"] = 12 // refused before the transaction
	if _, err := db.Save(ctx, bad); err == nil {
		t.Fatal("a bad title was saved")
	}
	if n, _ := db.PendingUploads(ctx, "alice"); n != 1 {
		t.Fatalf("pending after a failed save: %d, want 1", n)
	}

	// Expired: refused, then swept by the next upload.
	clock.t = clock.t.Add(2 * time.Minute)
	if _, err := save(UploadRef{ID: id2, Owner: "alice"}); !errors.As(err, &ve) {
		t.Fatalf("an expired upload: %v", err)
	}
	if _, err := db.PutUpload(ctx, "bob", Binary{Data: data}, time.Minute, 4); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db.d.quote(uploadsTable)).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("uploads table holds %d rows after the sweep, want 1 (bob's)", rows)
	}

	// Bounded per owner.
	for i := range 3 {
		if _, err := db.PutUpload(ctx, "bob", Binary{Data: data}, time.Minute, 4); err != nil {
			t.Fatalf("upload %d: %v", i+2, err)
		}
	}
	if _, err := db.PutUpload(ctx, "bob", Binary{Data: data}, time.Minute, 4); !errors.Is(err, ErrTooManyUploads) {
		t.Fatalf("fifth pending upload: %v", err)
	}
	if _, err := db.PutUpload(ctx, "alice", Binary{Data: data}, 2*time.Minute, 4); err != nil {
		t.Fatalf("another owner is not bounded by bob's uploads: %v", err)
	}

	// SweepUploads deletes only what has expired: bob's four, not alice's.
	if n, err := db.SweepUploads(ctx); err != nil || n != 0 {
		t.Fatalf("sweeping live uploads: %d deleted, %v", n, err)
	}
	clock.t = clock.t.Add(time.Minute)
	if n, err := db.SweepUploads(ctx); err != nil || n != 4 {
		t.Fatalf("sweeping bob's expired uploads: %d deleted, %v; want 4", n, err)
	}
	if n, _ := db.PendingUploads(ctx, "alice"); n != 1 {
		t.Fatalf("alice's live upload after the sweep: %d pending, want 1", n)
	}
}

func TestBinaryAttributesCannotBeQueried(t *testing.T) {
	db, _ := openTest(t, binaryModel)
	ctx := context.Background()
	dc := db.Model().DataClass("Doc")
	mustSave(t, db, dc, map[string]any{"title": "a"})
	for _, q := range []Query{{Filter: "file = null"}, {Filter: "photo # null"}, {OrderBy: "photo desc"}} {
		var qe *QueryError
		if _, err := db.Find(ctx, dc, q); !errors.As(err, &qe) || qe.Reason != ReasonUnsupported {
			t.Errorf("%+v: got %v, want an unsupported query", q, err)
		}
	}
	var qe *QueryError
	if _, err := db.Aggregate(ctx, dc, Query{}, "file"); !errors.As(err, &qe) || qe.Reason != ReasonUnsupported {
		t.Errorf("aggregate: %v", err)
	}
	if _, err := db.Distinct(ctx, dc, Query{}, "photo"); !errors.As(err, &qe) || qe.Reason != ReasonUnsupported {
		t.Errorf("distinct: %v", err)
	}
}

func TestBinaryAttributeAddedToExistingModel(t *testing.T) {
	ctx := context.Background()
	path := testPath(t, t.TempDir(), "data/test.db")
	before := `{"dataClasses":[{"name":"Doc","attributes":[{"name":"title","type":"string"}]}]}`
	db, err := Open(ctx, path, mustModel(t, before), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := mustSave(t, db, db.Model().DataClass("Doc"), map[string]any{"title": "kept"})
	after := `{"dataClasses":[{"name":"Doc","attributes":[{"name":"title","type":"string"},{"name":"scan","type":"picture"}]}]}`
	if err := db.SetModel(ctx, mustModel(t, after)); err != nil {
		t.Fatal(err)
	}
	dc := db.Model().DataClass("Doc")
	e, err := db.Get(ctx, dc, old.KeyString())
	if err != nil {
		t.Fatal(err)
	}
	if e.Values["title"] != "kept" || e.Values["scan"] != nil {
		t.Fatalf("after adding scan: %#v", e.Values)
	}
	e.Values["scan"] = Binary{Data: []byte("GIF89a"), Type: "image/gif"}
	if _, err := db.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	if b, _, err := db.Binary(ctx, dc, e.KeyString(), "scan"); err != nil || string(b.Data) != "GIF89a" {
		t.Fatalf("scan: %v %v", b, err)
	}
	// Another type for the same attribute would misread the column.
	changed := strings.Replace(after, `"picture"`, `"blob"`, 1)
	if err := db.SetModel(ctx, mustModel(t, changed)); !errors.Is(err, ErrIncompatibleModel) {
		t.Fatalf("picture → blob: %v", err)
	}
}

func TestBinaryModelRules(t *testing.T) {
	_, err := ParseModel([]byte(`{"dataClasses":[{"name":"D","attributes":[{"name":"p","type":"picture","indexed":true}]}]}`))
	if err == nil || !strings.Contains(err.Error(), "cannot be indexed") {
		t.Fatalf("indexed picture: %v", err)
	}
	_, err = ParseModel([]byte(`{"dataClasses":[{"name":"D","attributes":[{"name":"p","type":"blob","primaryKey":true}]}]}`))
	if err == nil || !strings.Contains(err.Error(), "primary key") {
		t.Fatalf("blob key: %v", err)
	}
}

// BenchmarkFindBinaries reads a page of 100 entities whose blob is empty, then 256 KiB each:
// a read selects sizes and types, never bytes, so the two should cost about the same.
func BenchmarkFindBinaries(b *testing.B) {
	for _, size := range []int{0, 256 << 10} {
		b.Run("blob="+strconv.Itoa(size), func(b *testing.B) {
			db, _ := openTest(b, binaryModel)
			dc := db.Model().DataClass("Doc")
			data := randomBytes(size, 7)
			for i := range 100 {
				v := map[string]any{"title": "t" + strconv.Itoa(i)}
				if size > 0 {
					v["file"] = Binary{Data: data}
				}
				mustSave(b, db, dc, v)
			}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				sel, err := db.Find(ctx, dc, Query{Limit: 100})
				if err != nil || len(sel.Entities) != 100 {
					b.Fatal(err)
				}
			}
		})
	}
}
