package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive the admin console and the demo's login pages in a real headless
// Chromium (Debian's chromium; .ci/run installs it). Without one they skip — except when
// CI is set: there a missing browser is a failure, never a silent pass.

// chromium returns the path of a Chromium or Chrome, "" when there is none.
// GATEHOUSE_TEST_CHROMIUM names one explicitly.
func chromium() string {
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a tab's context.
// Every wait in a test is bounded by this context's generous deadline: a test that fails
// fails there, a test that passes never waits for a timer.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and no Chromium was found (chromium, chromium-browser, google-chrome; or set GATEHOUSE_TEST_CHROMIUM): install Debian's chromium, as .ci/run does")
		}
		t.Skip("browser test skipped: no Chromium found (install Debian's chromium, or set GATEHOUSE_TEST_CHROMIUM to a Chrome/Chromium binary)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	// The first Do starts the browser, for as long as tab lives: no deadline on it.
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	ctx, cancelDeadline := context.WithTimeout(tab, 5*time.Minute)
	t.Cleanup(func() {
		cancelDeadline()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// runIn runs browser actions, failing the test with what was being done.
func runIn(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one browser action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// clearInput empties an input field (before SendKeys types into it).
func clearInput(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(e => { e.value = ""; return true; })(document.querySelector(`+jsString(sel)+`))`)(ctx, t)
		return err
	})
}

// screenshot saves the page as name in $GATEHOUSE_TEST_SCREENSHOTS, when it is set (to
// look at the pages the tests drive).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// css is a CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// textOf is the text of the first element matching sel once it is visible.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	runIn(t, ctx, "wait for "+sel, chromedp.WaitVisible(css(sel)))
	return value(t, ctx, "read "+sel, chromedp.TextContent(css(sel)))
}

// waitText waits until the element sel shows text containing want: the page is watched
// for changes (no timer), within the test's browser deadline.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.textContent.includes(` + jsString(want) + `); })()`
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](js, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {textContent: "(no such element)"}).textContent`))
		t.Fatalf("%s never said %q: %v; it says %q", sel, want, err, got)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestBrowserAdminConsole(t *testing.T) {
	s := startServer(t, copyDemo(t))
	ctx := newBrowser(t) // (closed before the server: cleanups run last first)
	ann := s.browser()
	if code, _ := ann.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "ann@example.com", "password-4D": "sales-secret"}, ""); code != 200 {
		t.Fatalf("ann's login: %d", code)
	}
	annCookie := ann.c.Jar.Cookies(mustURL(t, s.url))

	runIn(t, ctx, "open the console", chromedp.Navigate(s.url+"/admin/"), chromedp.WaitVisible(css("#signin-form")))

	t.Run("WrongPasswordSaysSo", func(t *testing.T) {
		runIn(t, ctx, "sign in with a wrong password",
			chromedp.SendKeys(css("#user"), "admin"),
			chromedp.SendKeys(css("#password"), "not-the-password"),
			chromedp.Click(css("#signin-button")))
		waitText(t, ctx, "#signin-error", "Wrong user name or password.")
	})

	t.Run("NotAnAdminSaysSo", func(t *testing.T) {
		runIn(t, ctx, "sign in as a sales person",
			clearInput("#user"), clearInput("#password"),
			chromedp.SendKeys(css("#user"), "bob@example.com"),
			chromedp.SendKeys(css("#password"), "sales-secret"),
			chromedp.Click(css("#signin-button")))
		waitText(t, ctx, "#signin-error", "does not hold the WebAdmin privilege")
	})

	runIn(t, ctx, "sign in as the administrator",
		clearInput("#user"), clearInput("#password"),
		chromedp.SendKeys(css("#user"), "admin"),
		chromedp.SendKeys(css("#password"), "admin-secret"),
		chromedp.Click(css("#signin-button")),
		chromedp.WaitVisible(css("#console")))
	if who := textOf(t, ctx, "#who-name"); who != "admin" {
		t.Fatalf("signed in as %q", who)
	}

	// Ann's session is listed, by a short hash and never its ID.
	waitText(t, ctx, "#sessions tbody", "ann@example.com")
	tag := value(t, ctx, "find ann's row", chromedp.Evaluate[string](`[...document.querySelectorAll("#sessions tbody tr")]
		.find(tr => tr.textContent.includes("ann@example.com")).dataset.session`))
	if len(tag) != 8 {
		t.Fatalf("ann's session is shown as %q, want an 8-digit short hash", tag)
	}
	page := value(t, ctx, "read the page", chromedp.OuterHTML(css("html")))
	for _, c := range annCookie {
		if strings.Contains(page, c.Value) {
			t.Fatal("the page shows ann's cookie")
		}
	}
	if used := textOf(t, ctx, "#licences-used"); used != "2" {
		t.Errorf("licences used: %q, want 2 (ann and the admin)", used)
	}
	runIn(t, ctx, "the licence chart is drawn", chromedp.WaitVisible(css("#licence-chart svg path.line")))

	screenshot(t, ctx, "admin-console.png")

	runIn(t, ctx, "close ann's session",
		chromedp.Click(css(`#sessions tr[data-session="`+tag+`"] button.close-session`)),
		chromedp.WaitNotPresent(css(`#sessions tr[data-session="`+tag+`"]`)))
	waitText(t, ctx, "#banner", "Session "+tag+" closed.")
	waitText(t, ctx, "#sessions-empty", "No other session is open.")
	s.waitLog("admin: session closed")

	// Ann's client, on its next request, gets a new session: not hers any more.
	req, _ := http.NewRequest("GET", s.url+"/rest/$directory/currentUser", nil)
	resp, err := ann.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Set-Cookie") == "" {
		t.Fatal("ann's client got no new session cookie after its session was closed")
	}
	if _, body := ann.do("GET", "/rest/$directory/currentUser", nil, ""); strings.Contains(body, "ann@example.com") {
		t.Fatalf("ann's closed session still answers: %s", body)
	}

	t.Run("WorksOnAPhone", func(t *testing.T) {
		runIn(t, ctx, "a phone-sized window",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Reload(),
			chromedp.WaitVisible(css("#console")))
		waitText(t, ctx, "#sessions tbody", "admin")
		width := value(t, ctx, "measure the page", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		screenshot(t, ctx, "admin-console-phone.png")
		if width > 390 {
			t.Fatalf("the page is %dpx wide on a 390px phone: it scrolls sideways", width)
		}
	})
}

func TestBrowserDemoLoginPage(t *testing.T) {
	s := startServer(t, copyDemo(t), "--licenses", "1")
	ctx := newBrowser(t)

	runIn(t, ctx, "wrong password",
		chromedp.Navigate(s.url+"/login.html"),
		chromedp.SendKeys(css("#userId"), "ann@example.com"),
		chromedp.SendKeys(css("#password"), "nope"),
		chromedp.Click(css("button[type=submit]")))
	waitText(t, ctx, "#authenticationFailed", "Wrong user or password.")

	// The only licence goes to bob: ann's right password now meets 402.
	bob := s.browser()
	if code, _ := bob.do("POST", "/rest/$directory/login", map[string]string{"username-4D": "bob@example.com", "password-4D": "sales-secret"}, ""); code != 200 {
		t.Fatalf("bob's login: %d", code)
	}
	runIn(t, ctx, "no licence",
		clearInput("#password"),
		chromedp.SendKeys(css("#password"), "sales-secret"),
		chromedp.Click(css("button[type=submit]")))
	waitText(t, ctx, "#authenticationFailed", "No licence is free")

	bob.do("POST", "/rest/$directory/logout", nil, "")
	runIn(t, ctx, "the right password moves on",
		chromedp.Click(css("button[type=submit]")),
		chromedp.WaitVisible(css("#logout")))
	waitText(t, ctx, "#who", "You are Ann Archer")
}

func TestBrowserForceLoginForm(t *testing.T) {
	dir := copyDemo(t)
	flipForceLogin(t, dir, true)
	s := startServer(t, dir)
	ctx := newBrowser(t)

	runIn(t, ctx, "wrong password",
		chromedp.Navigate(s.url+"/rest/$getWebForm/login"),
		chromedp.SendKeys(css("#identifier"), "kind user"),
		chromedp.SendKeys(css("#password"), "oops"),
		chromedp.Click(css("button[type=submit]")))
	waitText(t, ctx, "#answer.error", "Wrong password.")

	runIn(t, ctx, "the right password moves on",
		clearInput("#password"),
		chromedp.SendKeys(css("#password"), "kind-secret"),
		chromedp.Click(css("button[type=submit]")),
		chromedp.WaitVisible(css("#logout")))
	waitText(t, ctx, "#who", "You are Kind User")

	t.Run("ConsoleSignsInThroughAuthentify", func(t *testing.T) {
		runIn(t, ctx, "open the console", chromedp.Navigate(s.url+"/admin/"), chromedp.WaitVisible(css("#signin-form")))
		runIn(t, ctx, "a wrong password",
			chromedp.SendKeys(css("#user"), "admin"), chromedp.SendKeys(css("#password"), "nope"),
			chromedp.Click(css("#signin-button")))
		waitText(t, ctx, "#signin-error", "Wrong password.")
		runIn(t, ctx, "sign in as the administrator",
			clearInput("#password"), chromedp.SendKeys(css("#password"), "admin-secret"),
			chromedp.Click(css("#signin-button")), chromedp.WaitVisible(css("#console")))
		waitText(t, ctx, "#who-name", "admin")
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
