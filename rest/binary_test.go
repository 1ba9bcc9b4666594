package rest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const binaryModel = `{"dataClasses":[
 {"name":"Employee","attributes":[
   {"name":"ID","type":"long","primaryKey":true,"autoincrement":true},
   {"name":"name","type":"string"},
   {"name":"photo","type":"picture"},
   {"name":"file","type":"blob"}]}
]}`

const binarySeed = `{"Employee":[{"ID":12,"name":"Ann"},{"ID":13,"name":"Bob"}]}`

const binaryRoles = `{
 "privileges":[{"privilege":"staff"},{"privilege":"hr","includes":["staff"]}],
 "permissions":{"allowed":[
   {"applyTo":"Employee","type":"dataclass","read":["staff"],"create":["staff"],"update":["staff"]},
   {"applyTo":"Employee.photo","type":"attribute","read":["hr"],"update":["hr"],"create":["hr"]}
 ]}
}`

func binaryHarness(t *testing.T, roles string, cfg func(*Config)) *harness {
	return newHarness(t, harnessOptions{roles: roles, model: binaryModel, seed: binarySeed, cfg: cfg,
		scripts: map[string]string{"DataStore.js": grantScript}})
}

// randomBytes returns n pseudo-random bytes, every 61st one a zero byte.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
		if i%61 == 0 {
			b[i] = 0
		}
	}
	return b
}

// upload posts bytes to $upload and returns the ID.
func (c *client) upload(kind, contentType string, data []byte) string {
	c.h.t.Helper()
	r := c.doBytes("POST", "/rest/$upload?"+kind+"=true", contentType, data, nil)
	wantStatus(c.h.t, r, 200, 0)
	id, _ := r.json(c.h.t)["ID"].(string)
	if len(id) != 32 || strings.ToUpper(id) != id {
		c.h.t.Fatalf("upload ID %q is not 32 upper-case hex digits", id)
	}
	return id
}

func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 0, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBinaryRoundTripsThroughUploadAndBinary(t *testing.T) {
	h := binaryHarness(t, "", nil)
	c := h.client()
	small, large := randomBytes(1000, 1), randomBytes(3<<20+5, 2)
	pic := pngImage(t)

	// Update an existing entity, as in 4D's $upload page.
	id := c.upload("$binary", "application/pdf", large)
	r := c.post("/rest/Employee?$method=update", `{"__KEY":"12","__STAMP":1,"file":{"ID":"`+id+`"}}`)
	wantStatus(t, r, 200, 0)
	if strings.Contains(string(r.body), string(large[:64])) || len(r.body) > 2000 {
		t.Fatalf("the saved entity carries bytes: %d bytes", len(r.body))
	}
	wantIn(t, r, `"file":{"__deferred":{"uri":"/rest/Employee(12)/file?$binary=true&$expand=file"}}`)
	got := c.get("/rest/Employee(12)/file?$binary=true&$expand=file")
	wantStatus(t, got, 200, 0)
	if !bytes.Equal(got.body, large) {
		t.Fatalf("blob: got %d bytes, want %d (equal: false)", len(got.body), len(large))
	}
	if ct := got.header.Get("Content-Type"); ct != "application/octet-stream" || got.header.Get("Content-Disposition") != "attachment" {
		t.Fatalf("blob headers: %v", got.header)
	}

	// Create with a picture (type sniffed) and a small blob.
	pid, fid := c.upload("$rawPict", "", pic), c.upload("$binary", "", small)
	r = c.post("/rest/Employee?$method=update", `{"name":"Cy","photo":{"ID":"`+pid+`"},"file":{"ID":"`+fid+`"}}`)
	wantStatus(t, r, 200, 0)
	created := r.json(t)
	key, stamp := created["__KEY"].(string), created["__STAMP"].(float64)
	wantPhoto := `{"__deferred":{"uri":"/rest/Employee(` + key + `)/photo?$imageformat=best&$version=` + strconv.Itoa(int(stamp)) + `&$expand=photo","image":true}}`
	wantIn(t, r, `"photo":`+wantPhoto)
	got = c.get("/rest/Employee(" + key + ")/photo?$imageformat=best&$version=1&$expand=photo")
	wantStatus(t, got, 200, 0)
	if !bytes.Equal(got.body, pic) || got.header.Get("Content-Type") != "image/png" {
		t.Fatalf("picture: %d bytes, type %q", len(got.body), got.header.Get("Content-Type"))
	}
	if got := c.get("/rest/Employee(" + key + ")/file?$binary=true&$expand=file"); !bytes.Equal(got.body, small) {
		t.Fatalf("small blob differs")
	}

	// Lists and single entities carry deferred URIs only; an empty attribute is null.
	list := c.get("/rest/Employee?$orderby=ID")
	wantStatus(t, list, 200, 0)
	if len(list.body) > 4000 || bytes.Contains(list.body, pic[8:40]) {
		t.Fatalf("the list carries bytes (%d bytes)", len(list.body))
	}
	var l struct {
		Entities []map[string]any `json:"__ENTITIES"`
	}
	if err := json.Unmarshal(list.body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Entities[1]["photo"] != nil || l.Entities[1]["file"] != nil {
		t.Fatalf("Bob's empty attributes: %v %v", l.Entities[1]["photo"], l.Entities[1]["file"])
	}
	wantIn(t, list, `"photo":`+wantPhoto)
	wantIn(t, c.get("/rest/Employee("+key+")"), `"photo":`+wantPhoto)
	wantIn(t, c.get("/rest/Employee("+key+")/photo"), `{"photo":`+wantPhoto+`}`)

	// Sending the deferred form back leaves the picture; null clears it.
	body, _ := json.Marshal(map[string]any{"__KEY": key, "name": "Cyd", "photo": created["photo"]})
	wantStatus(t, c.post("/rest/Employee?$method=update", string(body)), 200, 0)
	if got := c.get("/rest/Employee(" + key + ")/photo?$expand=photo"); !bytes.Equal(got.body, pic) {
		t.Fatal("an echoed deferred photo changed the picture")
	}
	r = c.post("/rest/Employee?$method=update", `{"__KEY":"`+key+`","photo":null}`)
	wantStatus(t, r, 200, 0)
	if v, ok := r.json(t)["photo"]; !ok || v != nil {
		t.Fatalf("cleared photo: %v", v)
	}
	if got := c.get("/rest/Employee(" + key + ")/photo?$imageformat=best&$expand=photo"); got.status != http.StatusNoContent || len(got.body) != 0 {
		t.Fatalf("empty picture: %d %q", got.status, got.body)
	}
}

func TestBinaryUploadsRefused(t *testing.T) {
	h := binaryHarness(t, "", func(c *Config) { c.MaxBinary = 64 << 10 })
	c := h.client()
	data := randomBytes(1024, 3)
	update := func(c *client, id string) response {
		return c.post("/rest/Employee?$method=update", `{"__KEY":"13","photo":{"ID":"`+id+`"}}`)
	}
	t.Run("UnknownID", func(t *testing.T) {
		wantStatus(t, update(c, "0123456789ABCDEF0123456789ABCDEF"), 400, 1905)
	})
	t.Run("OtherSessionsID", func(t *testing.T) {
		id := h.client().upload("$rawPict", "image/png", data)
		r := update(c, id)
		wantStatus(t, r, 400, 1905)
		if !strings.Contains(string(r.body), "no pending upload") {
			t.Fatalf("message: %s", r.body)
		}
	})
	t.Run("UsedTwice", func(t *testing.T) {
		id := c.upload("$rawPict", "image/png", data)
		wantStatus(t, update(c, id), 200, 0)
		wantStatus(t, update(c, id), 400, 1905)
	})
	t.Run("Expired", func(t *testing.T) {
		id := c.upload("$rawPict", "image/png", data)
		h.clock.Add(121 * time.Second)
		wantStatus(t, update(c, id), 400, 1905)
		id = c.upload("$rawPict", "image/png", data) // $timeout lengthens it
		r := c.doBytes("POST", "/rest/$upload?$binary=true&$timeout=600", "", data, nil)
		wantStatus(t, r, 200, 0)
		long := r.json(t)["ID"].(string)
		h.clock.Add(300 * time.Second)
		wantStatus(t, update(c, id), 400, 1905)
		wantStatus(t, update(c, long), 200, 0)
	})
	t.Run("NotAnUpload", func(t *testing.T) {
		wantStatus(t, c.post("/rest/Employee?$method=update", `{"__KEY":"13","photo":"aGVsbG8="}`), 400, 1905)
		wantStatus(t, c.post("/rest/Employee?$method=update", `{"__KEY":"13","photo":{"ID":12}}`), 400, 1905)
	})
	t.Run("TooLarge", func(t *testing.T) {
		wantStatus(t, c.doBytes("POST", "/rest/$upload?$binary=true", "", randomBytes(64<<10+1, 4), nil), 413, 1906)
		// without a Content-Length: the limit holds while reading
		req, _ := http.NewRequest("POST", h.srv.URL+"/rest/$upload?$binary=true", io.MultiReader(bytes.NewReader(randomBytes(80<<10, 5))))
		resp, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("chunked upload over the limit: %d", resp.StatusCode)
		}
		// The JSON limit (1 MiB) is not the binary one: 64 KiB of bytes pass.
		c.upload("$binary", "", randomBytes(64<<10, 6))
	})
	t.Run("BadOptions", func(t *testing.T) {
		wantStatus(t, c.doBytes("POST", "/rest/$upload", "", data, nil), 400, 1811)
		wantStatus(t, c.doBytes("POST", "/rest/$upload?$rawPict=true&$binary=true", "", data, nil), 400, 1811)
		wantStatus(t, c.doBytes("POST", "/rest/$upload?$binary=true&$top=3", "", data, nil), 400, 1811)
		wantStatus(t, c.doBytes("POST", "/rest/$upload?$binary=true&$timeout=0", "", data, nil), 400, 1806)
		wantStatus(t, c.doBytes("POST", "/rest/$upload?$binary=true", "", nil, nil), 400, 1905)
		wantStatus(t, c.get("/rest/$upload?$binary=true"), 405, 0)
	})
	t.Run("BoundedPerSession", func(t *testing.T) {
		u := h.client()
		for range maxPendingUploads {
			u.upload("$binary", "", data)
		}
		wantStatus(t, u.doBytes("POST", "/rest/$upload?$binary=true", "", data, nil), 429, 1915)
		h.client().upload("$binary", "", data) // another session is not affected
	})
}

func TestBinaryImageFormatAndCaching(t *testing.T) {
	h := binaryHarness(t, "", nil)
	c := h.client()
	pic := pngImage(t)
	id := c.upload("$rawPict", "image/png", pic)
	wantStatus(t, c.post("/rest/Employee?$method=update", `{"__KEY":"12","photo":{"ID":"`+id+`"},"file":{"ID":"`+c.upload("$binary", "", []byte("not a picture"))+`"}}`), 200, 0)

	r := c.get("/rest/Employee(12)/photo?$imageformat=jpeg&$version=2&$expand=photo")
	wantStatus(t, r, 200, 0)
	if r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
	img, err := jpeg.Decode(bytes.NewReader(r.body))
	if err != nil || img.Bounds().Dx() != 40 || img.Bounds().Dy() != 30 {
		t.Fatalf("converted picture: %v %v", err, img)
	}
	for _, f := range []string{"GIF", "png"} {
		r := c.get("/rest/Employee(12)/photo?$imageformat=" + f + "&$expand=photo")
		if _, _, err := image.Decode(bytes.NewReader(r.body)); r.status != 200 || err != nil {
			t.Fatalf("%s: %d %v", f, r.status, err)
		}
	}
	wantStatus(t, c.get("/rest/Employee(12)/photo?$imageformat=tiff&$expand=photo"), 400, 1811)
	wantStatus(t, c.get("/rest/Employee(12)/photo?$imageformat=webp&$expand=photo"), 400, 1811)
	wantStatus(t, c.get("/rest/Employee(12)/file?$imageformat=png&$expand=file"), 400, 1811)
	wantStatus(t, c.get("/rest/Employee(12)/photo?$binary=false"), 400, 1811)

	// A picture that is not an image cannot be converted, and says so.
	id = c.upload("$rawPict", "image/png", []byte("GIF8 but not really"))
	wantStatus(t, c.post("/rest/Employee?$method=update", `{"__KEY":"13","photo":{"ID":"`+id+`"}}`), 200, 0)
	wantStatus(t, c.get("/rest/Employee(13)/photo?$imageformat=jpeg&$expand=photo"), 415, 1916)

	// Caching: the ETag follows the stamp and the format.
	best := c.get("/rest/Employee(12)/photo?$imageformat=best&$expand=photo")
	etag := best.header.Get("ETag")
	if etag == "" || best.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(best.header.Get("Cache-Control"), "private") {
		t.Fatalf("headers: %v", best.header)
	}
	r = c.doBytes("GET", "/rest/Employee(12)/photo?$imageformat=best&$expand=photo", "", nil, map[string]string{"If-None-Match": etag})
	if r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	wantStatus(t, c.post("/rest/Employee?$method=update", `{"__KEY":"12","name":"Anne"}`), 200, 0)
	r = c.doBytes("GET", "/rest/Employee(12)/photo?$imageformat=best&$expand=photo", "", nil, map[string]string{"If-None-Match": etag})
	if r.status != 200 || r.header.Get("ETag") == etag {
		t.Fatalf("after a save: %d etag %q", r.status, r.header.Get("ETag"))
	}
}

func TestBinaryAttributesCannotBeQueried(t *testing.T) {
	h := binaryHarness(t, "", nil)
	c := h.client()
	for _, path := range []string{
		"/rest/Employee?$filter=" + urlQuery("photo = null"),
		"/rest/Employee?$filter=" + urlQuery("file # null"),
		"/rest/Employee?$orderby=photo",
		"/rest/Employee/file?$compute=count",
		"/rest/Employee/photo?$distinct=true",
		"/rest/Employee?$binary=true",
		"/rest/Employee(12)?$imageformat=png",
		"/rest/Employee(12)/name?$binary=true",
	} {
		r := c.get(path)
		if r.status != 400 || r.errCode() != 1811 {
			t.Errorf("%s: got %d %d, want 400 1811: %s", path, r.status, r.errCode(), r.body)
		}
	}
	cat := c.get("/rest/$catalog/Employee")
	for _, want := range []string{`{"name":"photo","kind":"storage","type":"image","scope":"public"}`, `{"name":"file","kind":"storage","type":"blob","scope":"public"}`} {
		if !strings.Contains(string(cat.body), want) {
			t.Errorf("$catalog lacks %s: %s", want, cat.body)
		}
	}
}

func TestBinaryPermissions(t *testing.T) {
	h := binaryHarness(t, binaryRoles, nil)
	pic := pngImage(t)
	hr := h.client().as("hr")
	id := hr.upload("$rawPict", "image/png", pic)
	wantStatus(t, hr.post("/rest/Employee?$method=update", `{"__KEY":"12","photo":{"ID":"`+id+`"}}`), 200, 0)

	staff := h.client().as("staff")
	one := staff.get("/rest/Employee(12)").json(t)
	if _, ok := one["photo"]; ok {
		t.Fatalf("staff reads the photo attribute: %v", one)
	}
	wantStatus(t, staff.get("/rest/Employee(12)/photo?$imageformat=best&$expand=photo"), 404, 1500)
	wantStatus(t, staff.get("/rest/Employee?$filter="+urlQuery("photo = null")), 404, 1500) // unreadable: unknown
	// Pending uploads take space in the database: only a session that may create or update
	// some attribute of the upload's kind may leave one.
	wantStatus(t, staff.doBytes("POST", "/rest/$upload?$rawPict=true", "image/png", pic, nil), 401, 1558)
	staff.upload("$binary", "application/pdf", pic) // it may update Employee.file, a blob
	// An upload made by a session that may write a picture somewhere is still checked
	// where it is assigned.
	sid := hr.upload("$rawPict", "image/png", pic)
	wantStatus(t, staff.post("/rest/Employee?$method=update", `{"__KEY":"12","photo":{"ID":"`+sid+`"}}`), 401, 1558)
	wantStatus(t, staff.post("/rest/Employee?$method=update", `{"name":"New","photo":{"ID":"`+sid+`"}}`), 401, 1903)
	if got := hr.get("/rest/Employee(12)/photo?$expand=photo"); !bytes.Equal(got.body, pic) {
		t.Fatal("a refused update changed the photo")
	}

	// A guest of a force-login server cannot upload.
	fl := binaryHarness(t, `{"forceLogin":true,"privileges":[{"privilege":"staff"}]}`, nil)
	wantStatus(t, fl.client().doBytes("POST", "/rest/$upload?$rawPict=true", "image/png", pic, nil), 401, 1901)
}

func urlQuery(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, " ", "%20"), "#", "%23")
}

// wantIn checks that the answer's body contains want.
func wantIn(t *testing.T, r response, want string) {
	t.Helper()
	if !strings.Contains(string(r.body), want) {
		t.Fatalf("body lacks %s:\n%s", want, r.body)
	}
}
