package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// cheap are argon2id parameters for tests only: the real ones cost 64 MiB
// per hash.
var cheap = HashParams{Time: 1, MemKiB: 64, Threads: 1}

const testPassword = "correct horse battery"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type testBundle struct {
	c     *Console
	store register.Store
	users *Users
	clock *clock
	item  register.MessageID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "register.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	users, err := OpenUsers(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	users.Params = cheap
	for _, r := range Roles() {
		if err := users.Add(string(r), r, []string{"12321114/01"}, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	tb := &testBundle{store: store, users: users, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	// One inbound Anmeldung for the assigned measure, as the exchange
	// records it.
	ps, _ := register.NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"))
	key, err := register.EmawKey("12321114/01", ps.Participant("123A456789", "1"))
	if err != nil {
		t.Fatal(err)
	}
	tb.item = "in-0123456789abcdef0123456789abcdef"
	if _, err := store.Append(context.Background(), register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
		Event: register.EventReceived, Actor: register.System("poll"), MessageID: tb.item, Correlation: key,
		Detail: "received AnmeldungBAE for Maßnahme 12321114/01: valid Nachricht (emaw@2.18), file f1"}); err != nil {
		t.Fatal(err)
	}
	tb.c, err = New(Config{Store: store, Users: users, Now: tb.clock.now,
		Open: func(ctx context.Context, e register.Entry) (string, error) { return "Nachname: Mustermann", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// agent is a browser: it keeps cookies and sends the Origin of the
// console with every POST.
type agent struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]string
	csrf    string
}

func (tb *testBundle) agent(t *testing.T) *agent {
	return &agent{t: t, h: tb.c, cookies: map[string]string{}}
}

func (a *agent) do(method, path string, form url.Values, hdr map[string]string) *httptest.ResponseRecorder {
	a.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, "https://console.test"+path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		r.Header.Set("Origin", "https://console.test")
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	for k, v := range a.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(a.cookies, c.Name)
		} else {
			a.cookies[c.Name] = c.Value
		}
	}
	if i := strings.Index(w.Body.String(), `name="csrf" value="`); i >= 0 {
		rest := w.Body.String()[i+len(`name="csrf" value="`):]
		a.csrf = rest[:strings.IndexByte(rest, '"')]
	}
	return w
}

func (a *agent) login(login, password string) *httptest.ResponseRecorder {
	a.t.Helper()
	a.do("GET", "/login", nil, nil)
	return a.do("POST", "/login", url.Values{"csrf": {a.csrf}, "login": {login}, "password": {password}}, nil)
}

func (a *agent) loggedIn(role Role) *agent {
	a.t.Helper()
	if w := a.login(string(role), testPassword); w.Code != http.StatusSeeOther {
		a.t.Fatalf("login as %s: %d %s", role, w.Code, w.Body)
	}
	w := a.do("GET", "/", nil, nil) // follow to a page with the CSRF token
	a.do("GET", w.Header().Get("Location"), nil, nil)
	return a
}

func TestEveryRouteEveryRole(t *testing.T) {
	tb := setup(t)
	fill := strings.NewReplacer("{$}", "", "{id}", string(tb.item), "{login}", "nobody")
	for _, rt := range tb.c.Routes() {
		path := fill.Replace(rt.Pattern)
		for _, role := range append([]Role{""}, Roles()...) {
			t.Run(rt.Method+" "+rt.Pattern+" as "+string(role), func(t *testing.T) {
				a := tb.agent(t)
				if role != "" {
					a.loggedIn(role)
				}
				var form url.Values
				if rt.Method == "POST" {
					form = url.Values{"csrf": {a.csrf}}
				}
				w := a.do(rt.Method, path, form, nil)
				allowed := rt.Roles == nil || role != "" && contains(rolesToStrings(rt.Roles), string(role))
				switch {
				case rt.Roles == nil:
					// public: the login page and form
				case role == "" && rt.Method == "GET":
					if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
						t.Errorf("anonymous: got %d to %q, want 303 to /login", w.Code, w.Header().Get("Location"))
					}
				case role == "":
					if w.Code != http.StatusUnauthorized {
						t.Errorf("anonymous: got %d, want 401", w.Code)
					}
				case allowed && (w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized):
					t.Errorf("allowed: got %d: %s", w.Code, w.Body)
				case !allowed && w.Code != http.StatusForbidden:
					t.Errorf("not allowed: got %d, want 403", w.Code)
				}
			})
		}
	}
}

func rolesToStrings(rs []Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

func TestCSRFRefused(t *testing.T) {
	tb := setup(t)
	a := tb.agent(t).loggedIn(RoleCaseWorker)
	path := "/inbox/" + string(tb.item) + "/take"
	for name, tc := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":       {url.Values{}, nil},
		"wrong token":    {url.Values{"csrf": {"x" + a.csrf}}, nil},
		"foreign origin": {url.Values{"csrf": {a.csrf}}, map[string]string{"Origin": "https://evil.test"}},
		"cross-site":     {url.Values{"csrf": {a.csrf}}, map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}},
	} {
		if w := a.do("POST", path, tc.form, tc.hdr); w.Code != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", name, w.Code)
		}
	}
	if n := countEvents(t, tb.store, register.EventTakenOver); n != 0 {
		t.Fatalf("%d taken-over entries after refused posts, want 0", n)
	}
	if w := a.do("POST", path, url.Values{"csrf": {a.csrf}}, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("with the token: got %d, want 303: %s", w.Code, w.Body)
	}
	if n := countEvents(t, tb.store, register.EventTakenOver); n != 1 {
		t.Fatalf("%d taken-over entries, want 1", n)
	}
	// The login form needs its own token too.
	b := tb.agent(t)
	if w := b.do("POST", "/login", url.Values{"login": {"admin"}, "password": {testPassword}}, nil); w.Code != http.StatusForbidden {
		t.Errorf("login without token: got %d, want 403", w.Code)
	}
}

func countEvents(t *testing.T, s register.Store, ev register.Event) int {
	t.Helper()
	n := 0
	for e, err := range register.All(context.Background(), s, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event() == ev {
			n++
		}
	}
	return n
}

func TestSessionExpires(t *testing.T) {
	tb := setup(t)
	a := tb.agent(t).loggedIn(RoleOperator)
	for i := 0; i < 3; i++ { // use within the idle timeout keeps it alive
		tb.clock.add(14 * time.Minute)
		if w := a.do("GET", "/dashboard", nil, nil); w.Code != http.StatusOK {
			t.Fatalf("after %d × 14 minutes in use: got %d, want 200", i+1, w.Code)
		}
	}
	tb.clock.add(15*time.Minute + time.Second)
	if w := a.do("GET", "/dashboard", nil, nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("after 15 idle minutes: got %d to %q, want 303 to /login", w.Code, w.Header().Get("Location"))
	}
	// Expiry is on the server: the old cookie stays dead.
	tb.clock.add(-time.Hour)
	if w := a.do("GET", "/dashboard", nil, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("expired session came back: %d", w.Code)
	}
	// The absolute limit ends even a busy session.
	b := tb.agent(t).loggedIn(RoleOperator)
	for i := 0; i < 35; i++ {
		tb.clock.add(14 * time.Minute)
		b.do("GET", "/dashboard", nil, nil)
	}
	tb.clock.add(14 * time.Minute)
	if w := b.do("GET", "/dashboard", nil, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("after more than 8 hours: got %d, want 303", w.Code)
	}
}

func TestLockout(t *testing.T) {
	tb := setup(t)
	a := tb.agent(t)
	for i := 0; i < 5; i++ {
		if w := a.login("operator", "wrong password!!"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i+1, w.Code)
		}
	}
	if w := a.login("operator", testPassword); w.Code != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: got %d, want 429", w.Code)
	}
	// Another address is still locked out of this login.
	b := tb.agent(t)
	b.do("GET", "/login", nil, nil)
	r := url.Values{"csrf": {b.csrf}, "login": {"operator"}, "password": {testPassword}}
	if w := b.do("POST", "/login", r, map[string]string{"X-Forwarded-For": "10.0.0.9"}); w.Code != http.StatusTooManyRequests {
		t.Fatalf("locked login from elsewhere: got %d, want 429", w.Code)
	}
	tb.clock.add(15*time.Minute + time.Second)
	if w := a.login("operator", testPassword); w.Code != http.StatusSeeOther {
		t.Fatalf("after the lockout: got %d, want 303", w.Code)
	}
	// A disabled user cannot log in, and unknown logins fail alike.
	if err := tb.users.SetDisabled("auditor", true); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"auditor", "nobody"} {
		if w := tb.agent(t).login(l, testPassword); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", l, w.Code)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	tb := setup(t)
	w := tb.agent(t).do("GET", "/login", nil, nil)
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, c := range w.Result().Cookies() {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
			t.Errorf("cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Strict, Path=/", c)
		}
	}
	if strings.Contains(strings.ToLower(w.Body.String()), "<script") || strings.Contains(w.Body.String(), "style=") {
		t.Error("the login page has inline script or style")
	}
}

func TestPersonalFieldsNeedAPurposeAndAreLogged(t *testing.T) {
	tb := setup(t)
	a := tb.agent(t).loggedIn(RoleCaseWorker)
	view := "/inbox/" + string(tb.item) + "/view"
	w := a.do("POST", view, url.Values{"csrf": {a.csrf}}, nil)
	if w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "Mustermann") {
		t.Fatalf("without purpose: got %d and the data shown=%v", w.Code, strings.Contains(w.Body.String(), "Mustermann"))
	}
	if n := countEvents(t, tb.store, register.EventAccessed); n != 0 {
		t.Fatalf("%d accessed entries without a purpose", n)
	}
	w = a.do("POST", view, url.Values{"csrf": {a.csrf}, "purpose": {Purposes[0]}}, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Mustermann") {
		t.Fatalf("with purpose: got %d", w.Code)
	}
	var got register.Entry
	for e, err := range register.All(context.Background(), tb.store, tb.item) {
		if err != nil {
			t.Fatal(err)
		}
		got = e
	}
	if got.Event() != register.EventAccessed || got.Actor() != register.User("caseworker") || !strings.Contains(got.Detail(), Purposes[0]) {
		t.Fatalf("last entry: %s by %s: %q", got.Event(), got.Actor(), got.Detail())
	}
	// A case worker without the measure sees nothing of it.
	if err := tb.users.Add("other", RoleCaseWorker, []string{"99999999/01"}, testPassword); err != nil {
		t.Fatal(err)
	}
	b := tb.agent(t)
	b.login("other", testPassword)
	b.do("GET", "/inbox", nil, nil)
	if w := b.do("POST", view, url.Values{"csrf": {b.csrf}, "purpose": {Purposes[0]}}, nil); w.Code != http.StatusNotFound {
		t.Fatalf("unassigned case worker: got %d, want 404", w.Code)
	}
	// The auditor's access log lists the access.
	c := tb.agent(t).loggedIn(RoleAuditor)
	if w := c.do("GET", "/access", nil, nil); !strings.Contains(w.Body.String(), "user:caseworker") || !strings.Contains(w.Body.String(), "purpose") {
		t.Fatalf("access log does not list the access:\n%s", w.Body)
	}
}

func TestAdminActionsAreRecorded(t *testing.T) {
	tb := setup(t)
	tb.users.Params = cheap
	a := tb.agent(t).loggedIn(RoleAdmin)
	if w := a.do("POST", "/users", url.Values{"csrf": {a.csrf}, "login": {"erika"}, "role": {"auditor"}, "password": {"a long enough password"}}, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("add: %d %s", w.Code, w.Body)
	}
	o := tb.agent(t).loggedIn(RoleOperator)
	if w := a.do("POST", "/users/operator/disable", url.Values{"csrf": {a.csrf}}, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	if w := o.do("GET", "/dashboard", nil, nil); w.Code == http.StatusOK {
		t.Fatal("a disabled user's session still works")
	}
	if n := countEvents(t, tb.store, register.EventAdmin); n != 2 {
		t.Fatalf("%d admin entries, want 2", n)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("secret password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(h, "secret password"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "secret passwore"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := CheckPassword(strings.Replace(h, "m=64,", "m=99999999,", 1), "x"); err == nil {
		t.Fatal("out-of-bounds memory parameter accepted")
	}
	d, _ := HashPassword("x", RFC9106Second)
	if !strings.HasPrefix(d, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("default hash %q", d)
	}
}

func TestUsersFileIsPrivate(t *testing.T) {
	tb := setup(t)
	fi, err := os.Stat(tb.users.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("users file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := OpenUsers(tb.users.path)
	if err != nil || len(again.List()) != len(Roles()) {
		t.Fatalf("read back: %d users, %v", len(again.List()), err)
	}
}
