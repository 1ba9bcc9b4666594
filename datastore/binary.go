package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/errkind"
)

// Binary attributes (blob, picture) hold bytes in the attribute's column (SQLite BLOB,
// PostgreSQL bytea) and the bytes' MIME type in a column of their own (typeColumn). Reads of
// entities never select the bytes: they select the length and the type, so a list of a
// thousand entities with photos costs what it costs without them. Entity.Values holds a
// BinaryInfo (nil when empty); DB.Binary reads the bytes of one entity's attribute.
//
// Bytes reach an attribute through a pending upload: PutUpload stores them in the uploads
// table (in the database, so every instance of a cluster sees them) for the session that
// sent them, and a save given an UploadRef moves them into the entity in its transaction,
// deleting the upload there: a failed save leaves the upload pending, a committed one leaves
// nothing behind. Uploads expire; each PutUpload sweeps the expired ones.

// uploadsTable holds pending uploads. Its name starts with "__", which model names cannot.
const uploadsTable = "__gatehouse_uploads"

// typePrefix names the column holding a binary attribute's MIME type.
const typePrefix = "__type_"

func typeColumn(a *Attribute) string { return shortName(typePrefix + a.Name) }

// BinaryInfo is what an entity read carries for a non-empty binary attribute: its size in
// bytes and its MIME type, never its bytes.
type BinaryInfo struct {
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// Binary is a binary value with its bytes. Saving one sets the attribute (Go callers and
// tests; REST goes through uploads).
type Binary struct {
	Data []byte
	Type string // MIME type; "" is stored as application/octet-stream
}

// UploadRef assigns a pending upload to a binary attribute on save. Owner must be the owner
// the upload was put with (the uploading session's tag); an unknown, expired, used or foreign
// upload fails the save with a *ValueError, and the save changes nothing.
type UploadRef struct {
	ID    string
	Owner string
}

// ErrTooManyUploads reports that an owner already holds the most pending uploads allowed.
var ErrTooManyUploads = errkind.New(errkind.Exhausted, "datastore: too many pending uploads")

// binaryDefault is the MIME type of bytes whose type nobody said.
const binaryDefault = "application/octet-stream"

// PutUpload stores b as a pending upload of owner, valid for ttl, and returns its ID (32
// upper-case hex digits, random). An owner holds at most maxPending uploads at once
// (ErrTooManyUploads past it; 0: no bound). Expired uploads of every owner are deleted first.
func (db *DB) PutUpload(ctx context.Context, owner string, b Binary, ttl time.Duration, maxPending int) (string, error) {
	if owner == "" || ttl <= 0 {
		return "", errors.New("datastore: an upload needs an owner and a positive lifetime")
	}
	if b.Type == "" {
		b.Type = binaryDefault
	}
	if b.Data == nil {
		b.Data = []byte{}
	}
	q, ph := db.d.quote, db.d.placeholder
	now := db.now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("datastore: upload: %w", db.d.classify(err))
	}
	defer tx.Rollback()
	if _, err := db.sweepUploads(ctx, tx, now); err != nil {
		return "", fmt.Errorf("datastore: upload: %w", err)
	}
	if maxPending > 0 {
		// Counted under a lock on the owner (PostgreSQL; SQLite's writer is alone), so two
		// instances cannot both take the last place.
		if err := db.d.lockOwner(ctx, tx, owner); err != nil {
			return "", fmt.Errorf("datastore: upload: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q(uploadsTable)+" WHERE owner = "+ph(1), owner).Scan(&n); err != nil {
			return "", fmt.Errorf("datastore: upload: %w", db.d.classify(err))
		}
		if n >= maxPending {
			return "", ErrTooManyUploads
		}
	}
	id := newUUID()
	_, err = tx.ExecContext(ctx, "INSERT INTO "+q(uploadsTable)+" (id, owner, type, data, expires) VALUES ("+
		ph(1)+", "+ph(2)+", "+ph(3)+", "+ph(4)+", "+ph(5)+")", id, owner, b.Type, b.Data, db.d.encodeTime(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("datastore: upload: %w", db.d.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("datastore: upload: %w", db.d.classify(err))
	}
	return id, nil
}

// SweepUploads deletes the uploads that have expired and returns how many it deleted. Each
// PutUpload sweeps too; a server calls this now and then so that a quiet one does not keep
// expired bytes until its next upload.
func (db *DB) SweepUploads(ctx context.Context) (int64, error) {
	return db.sweepUploads(ctx, db.w, db.now())
}

func (db *DB) sweepUploads(ctx context.Context, x interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, now time.Time) (int64, error) {
	res, err := x.ExecContext(ctx, "DELETE FROM "+db.d.quote(uploadsTable)+" WHERE expires <= "+db.d.placeholder(1), db.d.encodeTime(now))
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", db.d.classify(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PendingUploads counts the uploads of owner that have not expired (for tests and $info).
func (db *DB) PendingUploads(ctx context.Context, owner string) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db.d.quote(uploadsTable)+" WHERE owner = "+db.d.placeholder(1)+
		" AND expires > "+db.d.placeholder(2), owner, db.d.encodeTime(db.now())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("datastore: uploads: %w", db.d.classify(err))
	}
	return n, nil
}

// takeUpload deletes the pending upload ref names, in the save's transaction, and returns
// its bytes; a *ValueError for attribute a when there is none (unknown, expired, used, or
// another owner's: the message does not say which, so IDs cannot be probed).
func (db *DB) takeUpload(ctx context.Context, tx *sql.Tx, a *Attribute, ref UploadRef) (Binary, error) {
	q, ph := db.d.quote, db.d.placeholder
	var b Binary
	err := tx.QueryRowContext(ctx, "DELETE FROM "+q(uploadsTable)+" WHERE id = "+ph(1)+" AND owner = "+ph(2)+
		" AND expires > "+ph(3)+" RETURNING type, data", ref.ID, ref.Owner, db.d.encodeTime(db.now())).Scan(&b.Type, &b.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return b, &ValueError{Attribute: a.Name, Message: fmt.Sprintf("no pending upload %q for this session (unknown, expired or already used)", ref.ID)}
	}
	if err != nil {
		return b, fmt.Errorf("datastore: upload: %w", db.d.classify(err))
	}
	return b, nil
}

// Binary returns the bytes of binary attribute attr of the entity of dc whose key (as in URLs)
// is key, and the entity's stamp; nil bytes when the attribute is empty. ErrNotFound when
// there is no such entity, ErrUnknownAttribute when attr is not binary.
func (db *DB) Binary(ctx context.Context, dc *DataClass, key, attr string) (*Binary, int64, error) {
	return db.binary(ctx, nil, dc, key, attr)
}

func (db *DB) binary(ctx context.Context, snap *Snapshot, dc *DataClass, key, attr string) (*Binary, int64, error) {
	dc, err := db.resolve(dc)
	if err != nil {
		return nil, 0, err
	}
	a := dc.Attribute(attr)
	if a == nil || !a.IsBinary() {
		return nil, 0, fmt.Errorf("%w: %s.%s is not a binary attribute", ErrUnknownAttribute, dc.Name, attr)
	}
	k, err := normalizeKey(dc.Key, key)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s(%s)", ErrNotFound, dc.Name, key)
	}
	enc, err := db.d.encode(dc.Key.Type, k)
	if err != nil {
		return nil, 0, err
	}
	q := db.d.quote
	var data []byte
	var typ sql.NullString
	var stamp int64
	tx, err := db.on(ctx, snap)
	if err != nil {
		return nil, 0, err
	}
	err = db.plainRow(ctx, tx, "SELECT "+q(a.Name)+", "+q(typeColumn(a))+", "+q(stampColumn)+" FROM "+q(dc.Name)+
		" WHERE "+q(dc.Key.Name)+" = "+db.d.placeholder(1), enc).Scan(&data, &typ, &stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("%w: %s(%s)", ErrNotFound, dc.Name, key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("datastore: read %s.%s: %w", dc.Name, a.Name, db.d.classify(err))
	}
	if data == nil {
		return nil, stamp, nil
	}
	t := typ.String
	if t == "" {
		t = binaryDefault
	}
	return &Binary{Data: data, Type: t}, stamp, nil
}

// binaryValue checks a value given on save for binary attribute a. keep is true for a
// BinaryInfo (the value as read: the column is left as it is).
func binaryValue(a *Attribute, v any) (val any, keep bool, err error) {
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case BinaryInfo, *BinaryInfo:
		return nil, true, nil
	case UploadRef:
		if x.ID == "" {
			return nil, false, &ValueError{Attribute: a.Name, Message: "the upload ID is empty"}
		}
		return x, false, nil
	case Binary:
		if x.Type == "" {
			x.Type = binaryDefault
		}
		if x.Data == nil {
			x.Data = []byte{}
		}
		return x, false, nil
	case *Binary:
		if x == nil {
			return nil, false, nil
		}
		return binaryValue(a, *x)
	}
	return nil, false, &ValueError{Attribute: a.Name, Message: fmt.Sprintf(
		"a %s attribute is set from an upload ({\"ID\": \"<upload ID>\"}) or cleared with null, not %s", a.Type, describe(v))}
}

// resolveBinaries gives the binary values of a save their bytes and type, in its transaction:
// an UploadRef takes its upload (deleted with the save's commit). vals is not modified.
func (db *DB) resolveBinaries(ctx context.Context, tx *sql.Tx, vals []colValue) ([]colValue, error) {
	var out []colValue
	for i, cv := range vals {
		if !cv.attr.IsBinary() {
			continue
		}
		if out == nil {
			out = append([]colValue(nil), vals...)
		}
		switch x := cv.enc.(type) {
		case nil:
			out[i].enc, out[i].typ = nil, nil
		case Binary:
			out[i].enc, out[i].typ = x.Data, x.Type
		case UploadRef:
			b, err := db.takeUpload(ctx, tx, cv.attr, x)
			if err != nil {
				return nil, err
			}
			out[i].enc, out[i].typ = b.Data, b.Type
		default:
			return nil, fmt.Errorf("datastore: %s: unresolved binary value %T", cv.attr.Name, cv.enc)
		}
	}
	if out == nil {
		return vals, nil
	}
	return out, nil
}

// binaryInfo builds the value an entity read carries for a binary attribute from its
// selected length and type: nil when the column is NULL.
func binaryInfo(size, typ any) any {
	n, ok := toInt64(size)
	if size == nil || !ok {
		return nil
	}
	t, _ := typ.(string)
	if b, ok := typ.([]byte); ok {
		t = string(b)
	}
	if t == "" {
		t = binaryDefault
	}
	return BinaryInfo{Size: n, Type: t}
}
