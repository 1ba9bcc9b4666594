package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// adminApp is an app folder whose onRESTAuthentication accepts password "pw" for anyone
// and grants WebAdmin to "boss", with a function to call.
func adminApp(t *testing.T) string {
	return app(t, map[string]string{
		"scripts/onRESTAuthentication.js": `module.exports = function (user, password) {
  if (password !== "pw") return false;
  if (user === "boss") Session.setPrivileges({privileges: "WebAdmin", userName: "boss"});
  return true;
};`,
		"scripts/DataStore.js": `exports.hello = function () { return "hi"; };`,
		"roles.json":           `{"permissions":{"allowed":[{"applyTo":"ds.hello","type":"method","execute":["guest"]}]}}`,
	})
}

// writeCert writes a self-signed certificate for 127.0.0.1 with serial number serial.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "gatehouse test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first, then the certificate, each replaced whole (as a renewal tool does):
	// the watcher may see the pair half-written, and must keep the old one then.
	writeAtomic(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	writeAtomic(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c, _ := x509.ParseCertificate(der)
	return c
}

func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serveTLS starts srv on a free port and returns its https:// URL.
func serveTLS(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Shutdown(t.Context())
		<-done
	})
	return "https://" + ln.Addr().String()
}

// peerSerial connects to url trusting only want and returns the serial number served.
func peerSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestHTTPSMarksTheCookieSecureAndReloadsTheCertificate(t *testing.T) {
	dir := adminApp(t)
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	reloaded := make(chan error, 10)
	e := start(t, dir, Config{Ops: Ops{TLSCert: certFile, TLSKey: keyFile, OnTLSReload: func(err error) { reloaded <- err }}})
	if !e.srv.TLS() {
		t.Fatal("TLS() is false with a certificate")
	}
	base := serveTLS(t, e.srv)
	roots := x509.NewCertPool()
	roots.AddCert(first)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(base + "/rest/$catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Fatalf("cookie over HTTPS is not Secure: %s", c)
	}

	t.Run("CertificateReloadedWhenFilesChange", func(t *testing.T) {
		addr := strings.TrimPrefix(base, "https://")
		second := writeCert(t, certFile, keyFile, 2)
		roots := x509.NewCertPool()
		roots.AddCert(first)
		roots.AddCert(second)
		deadline := time.After(30 * time.Second)
		for {
			select {
			case <-reloaded:
			case <-deadline:
				t.Fatal("the new certificate was never served")
			}
			// A reload may have seen the pair half-written (then the old one stays); the
			// last reload after the writes settle serves the new one.
			if peerSerial(t, addr, roots) == 2 {
				return
			}
		}
	})
}

func TestTLSRefusesABadPair(t *testing.T) {
	dir := adminApp(t)
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if _, err := New(t.Context(), Config{Dir: dir, NoWatch: true, Ops: Ops{TLSCert: certFile, TLSKey: keyFile}}); err == nil ||
		!strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("bad key pair: %v", err)
	}
}

func TestForwardedProtoFromTrustedProxyMakesTheCookieSecure(t *testing.T) {
	for _, c := range []struct {
		name    string
		proxies string
		proto   string
		secure  bool
	}{
		{"TrustedProxyHTTPS", "127.0.0.0/8", "https", true},
		{"TrustedProxyHTTP", "127.0.0.0/8", "http", false},
		{"UntrustedPeerIgnored", "10.0.0.0/8", "https", false},
		{"NoHeader", "127.0.0.0/8", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{}
			cfg.TrustedProxies = mustPrefixes(t, c.proxies)
			e := start(t, adminApp(t), cfg)
			req, _ := http.NewRequest("GET", e.http.URL+"/rest/$catalog", nil)
			if c.proto != "" {
				req.Header.Set("X-Forwarded-Proto", c.proto)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookie := resp.Header.Get("Set-Cookie")
			if cookie == "" {
				t.Fatal("no cookie")
			}
			if got := strings.Contains(cookie, "; Secure"); got != c.secure {
				t.Fatalf("Secure %v, want %v: %s", got, c.secure, cookie)
			}
		})
	}
}

func TestMetricsMoveWithUse(t *testing.T) {
	dir := adminApp(t)
	e := start(t, dir, Config{Licenses: 1, Ops: Ops{Metrics: true}})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	do := func(c *http.Client, method, path string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, e.http.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(c, "POST", "/rest/$directory/login", map[string]string{"username-4D": "ann", "password-4D": "nope"}); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code := do(c, "POST", "/rest/$directory/login", map[string]string{"username-4D": "ann", "password-4D": "pw"}); code != 200 {
		t.Fatalf("login: %d", code)
	}
	if code := do(c, "POST", "/rest/$catalog/hello", nil); code != 200 {
		t.Fatalf("call: %d", code)
	}
	if code := do(&http.Client{}, "GET", "/rest/$catalog", nil); code != 402 {
		t.Fatalf("second client with one licence: %d", code)
	}
	os.WriteFile(filepath.Join(dir, "roles.json"), []byte(`{"forceLogin": 3}`), 0o644)
	e.srv.Reload(t.Context())

	rec := httptest.NewRecorder()
	e.srv.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	scrape := rec.Body.String()
	for _, want := range []string{
		`gatehouse_logins_total{outcome="refused"} 1`,
		`gatehouse_logins_total{outcome="accepted"} 1`,
		`gatehouse_script_calls_total{function="DataStore.hello",outcome="ok"} 1`,
		`gatehouse_licence_refusals_total 1`,
		`gatehouse_reloads_total{outcome="rejected"} 1`,
		`gatehouse_licences_held 1`,
		`gatehouse_licences_max 1`,
		`gatehouse_sessions 1`,
		`gatehouse_http_requests_total{code="200",method="POST",route="/rest/$directory/login"} 1`,
		`gatehouse_http_requests_total{code="401",method="POST",route="/rest/$directory/login"} 1`,
		`gatehouse_http_requests_total{code="200",method="POST",route="/rest/$catalog/{name}"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="/rest/$catalog"} 1`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(scrape, `"ann"`) {
		t.Error("a user name is a label value")
	}
	if problems, err := testutil.GatherAndLint(e.srv.ops.metrics.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	if t.Failed() {
		t.Log(scrape)
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	e := start(t, adminApp(t), Config{})
	if e.srv.Metrics() != nil {
		t.Fatal("metrics served without being asked for")
	}
}
