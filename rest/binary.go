package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"gatehouse/core"
	"gatehouse/datastore"
	"gatehouse/roles"
)

// Binary attributes (blob, picture), as 4D serves them (SPEC §3.5, docs/model.md):
//
//   - POST /rest/$upload?$rawPict=true (a picture) or ?$binary=true (any file), the raw bytes
//     as the body, answers {"ID": "<32 hex digits>"}: a pending upload, held in the database
//     (every instance of a cluster sees it) for the session that sent it, for $timeout seconds
//     (default 120).
//   - {"photo": {"ID": "<id>"}} in a $method=update body assigns it; null clears the attribute.
//   - Entities never carry the bytes: a binary attribute is a deferred URI, which
//     GET /rest/DC(key)/attr?$imageformat=…&$version=…&$expand=attr (pictures) or
//     ?$binary=true&$expand=attr (blobs) answers with the bytes themselves.

// uploadPath is the route of uploads; its body limit is MaxBinary, not MaxBody.
const uploadPath = "/rest/$upload"

// Upload lifetimes ($timeout, seconds) and the bound on one session's pending uploads.
const (
	defaultUploadTimeout = 120 * time.Second
	maxUploadTimeout     = time.Hour
	maxPendingUploads    = 8
)

// maxPicturePixels bounds the images $imageformat converts: a small file can declare a huge
// image (a decompression bomb), and converting means decoding it whole.
const maxPicturePixels = 40 << 20

func (s *Server) registerBinaryRoutes(r *mux.Router) {
	r.Handle("/$upload", s.handle(core.Member, 0, s.handleUpload)).Methods(methods.post...)
}

// isUploadPath reports whether a request goes to $upload (for the body limit).
func isUploadPath(p string) bool {
	return p == uploadPath || p == uploadPath+"/"
}

var errBinaryTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
	Message: "Upload larger than this server's binary limit (--max-binary)"}

// uploadOptions are the options of $upload.
var uploadOptions = map[string]bool{"$rawPict": true, "$binary": true, "$timeout": true, "$4DSID": true}

// handleUpload handles "POST /rest/$upload".
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, st *state) error {
	if s.cfg.Data == nil {
		return errorf(http.StatusNotFound, codeUnknownDataClass, "This server has no datastore to upload to")
	}
	for name := range r.URL.Query() {
		if strings.HasPrefix(name, "$") && !uploadOptions[name] {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "Unknown keyword %s for $upload", name)
		}
	}
	picture, other := queryParam(r, "$rawPict") == "true", queryParam(r, "$binary") == "true"
	if picture == other {
		return errorf(http.StatusBadRequest, codeUnknownKeyword, "$upload needs $rawPict=true (a picture) or $binary=true (any other file)")
	}
	ttl := defaultUploadTimeout
	if raw := queryParam(r, "$timeout"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxUploadTimeout {
			return errorf(http.StatusBadRequest, codeMalformedURL, "$timeout must be a number of seconds from 1 to %d", int(maxUploadTimeout/time.Second))
		}
		ttl = time.Duration(n) * time.Second
	}
	if !s.mayAssignUpload(st, picture) {
		// Pending uploads take space in the database until they expire: only a session
		// that could put one somewhere may leave one there.
		kind := "blob"
		if picture {
			kind = "picture"
		}
		return errorf(http.StatusUnauthorized, codeNoUpdatePerm, "This session may not create or update any %s attribute: nothing to upload for", kind)
	}
	var data []byte
	if r.Body != nil {
		var err error
		if data, err = io.ReadAll(r.Body); err != nil {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				return errBinaryTooLarge
			}
			return bodyReadError(err)
		}
	}
	if len(data) == 0 {
		return errorf(http.StatusBadRequest, codeBadBody, "The upload is empty: send the file's bytes as the request body")
	}
	typ := uploadType(r.Header.Get("Content-Type"), data, picture)
	id, err := s.cfg.Data.PutUpload(r.Context(), uploadOwner(st.sess().ID), datastore.Binary{Data: data, Type: typ}, ttl, maxPendingUploads)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"ID": id})
	return nil
}

// mayAssignUpload reports whether the session may create or update some exposed binary
// attribute an upload of this kind is for (a picture for $rawPict, a blob for $binary).
func (s *Server) mayAssignUpload(st *state, picture bool) bool {
	want := datastore.TypeBlob
	if picture {
		want = datastore.TypePicture
	}
	for _, dc := range s.cfg.Data.Model().DataClasses {
		if !dc.Exposed {
			continue
		}
		for _, a := range dc.Attributes {
			if !a.Exposed || !a.IsBinary() || a.Type != want {
				continue
			}
			res := roles.AttributeResource(dc.Name, a.Name)
			if st.req.Allowed(roles.Update, res) || st.req.Allowed(roles.Create, res) {
				return true
			}
		}
	}
	return false
}

// uploadType is the MIME type kept with an upload: the one the client sent, without its
// parameters for pictures; sniffed from the bytes when the client sent none (or only the
// generic application/octet-stream) for a picture.
func uploadType(header string, data []byte, picture bool) string {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt == "" || picture && mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		if picture {
			mt, _, _ = mime.ParseMediaType(http.DetectContentType(data))
			return mt
		}
		return "application/octet-stream"
	}
	if picture {
		return mt
	}
	return mime.FormatMediaType(mt, params)
}

// uploadOwner is the owner recorded with a session's uploads: a hash of its ID, so that the
// database never holds session IDs.
func uploadOwner(sessionID string) string {
	sum := sha256.Sum256([]byte("gatehouse upload owner\x00" + sessionID))
	return hex.EncodeToString(sum[:16])
}

// binaryDeferred is a binary attribute in entity JSON: 4D's deferred URI, never the bytes;
// null when the attribute is empty.
func binaryDeferred(dc *datastore.DataClass, key string, a *datastore.Attribute, v any, stamp int64) any {
	if v == nil {
		return nil
	}
	base := "/rest/" + dc.Name + "(" + url.PathEscape(key) + ")/" + a.Name
	if a.Type == datastore.TypePicture {
		return object{{"__deferred", object{
			{"uri", base + "?$imageformat=best&$version=" + strconv.FormatInt(stamp, 10) + "&$expand=" + a.Name},
			{"image", true}}}}
	}
	return object{{"__deferred", object{{"uri", base + "?$binary=true&$expand=" + a.Name}}}}
}

// binaryOptions are the options that read a binary attribute's bytes.
var binaryOptions = []string{"$binary", "$imageformat", "$version"}

// checkBinaryOptions refuses $binary, $imageformat and $version anywhere but on
// GET /rest/DC(key)/attr of a binary attribute.
func checkBinaryOptions(r *http.Request, dc *datastore.DataClass, p dataPath) error {
	q := r.URL.Query()
	for _, name := range binaryOptions {
		if !q.Has(name) {
			continue
		}
		if a := dc.Attribute(p.Attribute); r.Method == http.MethodPost || a == nil || !a.IsBinary() {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "%s applies to GET /rest/{DC}({key})/{picture or blob attribute}", name)
		}
	}
	return nil
}

// wantsBytes reports whether a GET of binary attribute a asks for its bytes ($binary=true,
// $imageformat, or $expand naming it) rather than its deferred form.
func wantsBytes(r *http.Request, a *datastore.Attribute) bool {
	q := r.URL.Query()
	if q.Has("$binary") || q.Has("$imageformat") {
		return true
	}
	for _, name := range strings.Split(queryParam(r, "$expand"), ",") {
		if strings.TrimSpace(name) == a.Name {
			return true
		}
	}
	return false
}

// pictureFormats are the $imageformat values this server produces, and their MIME types
// ("" for best: as stored).
var pictureFormats = map[string]string{"best": "", "png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "gif": "image/gif"}

// binary answers the bytes of binary attribute a of the entity p names (the caller checked
// that the session may read it).
func (v *dataView) binary(w http.ResponseWriter, r *http.Request, dc *datastore.DataClass, p dataPath, a *datastore.Attribute) error {
	if b := queryParam(r, "$binary"); r.URL.Query().Has("$binary") && b != "true" {
		return errorf(http.StatusBadRequest, codeUnknownKeyword, "$binary must be true")
	}
	format := "best"
	if r.URL.Query().Has("$imageformat") {
		if a.Type != datastore.TypePicture {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "$imageformat applies to picture attributes; %s is a blob: use $binary=true", a.Name)
		}
		format = strings.ToLower(queryParam(r, "$imageformat"))
		if _, ok := pictureFormats[format]; !ok {
			return errorf(http.StatusBadRequest, codeUnknownKeyword, "$imageformat %q is not produced by this server: use best, png, jpeg or gif", format)
		}
	}
	b, stamp, err := v.lastReader().Binary(v.ctx, dc, p.Key, a.Name)
	if err != nil {
		return err
	}
	h := w.Header()
	// The bytes are the client's: never let a browser read them as a page of this origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	if b == nil {
		w.WriteHeader(http.StatusNoContent) // 4D: an empty attribute answers an empty response
		return nil
	}
	etag := `"` + strconv.FormatInt(stamp, 10) + "-" + format + `"`
	h.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && (match == etag || match == "*") {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	data, typ := b.Data, b.Type
	switch {
	case a.Type == datastore.TypeBlob:
		typ = "application/octet-stream"
	case pictureFormats[format] != "" && pictureFormats[format] != typ:
		if data, err = convertPicture(data, format); err != nil {
			return err
		}
		typ = pictureFormats[format]
	}
	if !strings.HasPrefix(typ, "image/") || typ == "image/svg+xml" {
		// A blob, or a "picture" whose type a browser could run: a download, not a page.
		h.Set("Content-Disposition", "attachment")
	}
	h.Set("Content-Type", typ)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(data)
	if err != nil {
		v.srv.logger(r).Debug("binary answer not sent whole", "err", err)
	}
	return nil
}

var errNotConvertible = &Error{Status: http.StatusUnsupportedMediaType, Code: codeNotConvertible,
	Message: "The picture cannot be converted: it is not a PNG, JPEG or GIF image of a reasonable size (ask for $imageformat=best)"}

// convertPicture re-encodes a PNG, JPEG or GIF image as format (png, jpeg/jpg, gif).
func convertPicture(data []byte, format string) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPicturePixels {
		return nil, errNotConvertible
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, errNotConvertible
	}
	var out bytes.Buffer
	switch format {
	case "png":
		err = png.Encode(&out, img)
	case "jpeg", "jpg":
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
	case "gif":
		err = gif.Encode(&out, img, nil)
	}
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Code: codeInternal, Message: "The picture could not be converted", Err: err}
	}
	return out.Bytes(), nil
}

// binaryBodyValue reads what a $method=update body gives binary attribute a: an upload
// ({"ID": id}) of this session, or null. keep is true for the deferred form a client sends
// back as it read it (the attribute is left as it is).
func (v *dataView) binaryBodyValue(a *datastore.Attribute, val any) (out any, keep bool, err error) {
	switch x := val.(type) {
	case nil:
		return nil, false, nil
	case map[string]any:
		if _, ok := x["__deferred"]; ok && len(x) == 1 {
			return nil, true, nil
		}
		if id, ok := x["ID"].(string); ok && len(x) == 1 && id != "" {
			return datastore.UploadRef{ID: strings.ToUpper(strings.TrimSpace(id)), Owner: uploadOwner(v.st.sess().ID)}, false, nil
		}
	}
	return nil, false, errorf(http.StatusBadRequest, codeBadBody, `%s must be {"ID": "<ID from $upload>"} or null`, a.Name)
}

// DefaultMaxBinary is the default of Config.MaxBinary (--max-binary).
const DefaultMaxBinary = 8 << 20
