package rest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// encodingJSONCurrentUser is the answer as encoding/json writes it (through writeJSON).
func encodingJSONCurrentUser(u currentUser) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, struct {
		Result currentUser `json:"result"`
	}{u})
	return w
}

func checkCurrentUserAnswer(t *testing.T, u currentUser) {
	t.Helper()
	got, want := httptest.NewRecorder(), encodingJSONCurrentUser(u)
	writeCurrentUser(got, u)
	if got.Code != want.Code || got.Body.String() != want.Body.String() ||
		got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
		t.Errorf("%+v: got %d %q %q, want %d %q %q (encoding/json)", u,
			got.Code, got.Header().Get("Content-Type"), got.Body.String(),
			want.Code, want.Header().Get("Content-Type"), want.Body.String())
	}
}

func TestCurrentUserAnswerMatchesEncodingJSON(t *testing.T) {
	for _, name := range []string{
		"ann@example.com", "", "Ann Archer", "<b>&amp;</b>", `say "hi"`, `back\slash`, "tab\there",
		"line\nfeed", "\x00", "\x1f", "\x7f", "Zoë", "日本", "\u2028\u2029", "\xff\xfe", "a\xc3", "~!#$%^*()_+{}|:?,./;'[]=-`",
	} {
		checkCurrentUserAnswer(t, currentUser{UserName: name, FullName: "Full " + name, ID: userIDFor(name)})
		checkCurrentUserAnswer(t, currentUser{UserName: "ann", FullName: name, ID: "ID" + name})
	}
}

func FuzzCurrentUserAnswer(f *testing.F) {
	f.Add("ann@example.com", "Ann Archer", "71D4F55F72FA128DFB468A1A3901507C")
	f.Add("<x>", "\"q\"", "\u2028")
	f.Fuzz(func(t *testing.T, user, full, id string) {
		checkCurrentUserAnswer(t, currentUser{UserName: user, FullName: full, ID: id})
	})
}
