package console

import (
	"net/http"
	"slices"
	"time"
)

// Route is one page or action of the console and the roles that may use
// it. Public routes (no roles) need no session.
type Route struct {
	Method, Pattern string
	Roles           []Role
	h               func(http.ResponseWriter, *http.Request, *request)
}

// request is what a guarded handler knows about the caller.
type request struct {
	user    User
	session session
	now     time.Time
}

// routes is the one table of what each role may do; guard enforces it.
func (c *Console) routes() []Route {
	all := Roles()
	return []Route{
		{"GET", "/login", nil, c.loginPage},
		{"POST", "/login", nil, c.login},
		{"POST", "/logout", all, c.logout},
		{"GET", "/{$}", all, c.home},
		{"GET", "/dashboard", []Role{RoleOperator, RoleAuditor}, c.dashboard},
		{"GET", "/messages", []Role{RoleOperator, RoleAuditor}, c.messages},
		{"GET", "/messages/{id}", []Role{RoleOperator, RoleAuditor}, c.message},
		{"POST", "/messages/{id}/resend", []Role{RoleOperator}, c.resend},
		{"GET", "/inbox", []Role{RoleCaseWorker}, c.inbox},
		{"GET", "/inbox/{id}", []Role{RoleCaseWorker}, c.inboxItem},
		{"POST", "/inbox/{id}/view", []Role{RoleCaseWorker}, c.inboxView},
		{"POST", "/inbox/{id}/take", []Role{RoleCaseWorker}, c.inboxTake},
		{"POST", "/inbox/{id}/done", []Role{RoleCaseWorker}, c.inboxDone},
		{"GET", "/register", []Role{RoleAuditor}, c.registerPage},
		{"POST", "/register/verify", []Role{RoleAuditor}, c.verifyNow},
		{"GET", "/register/export", []Role{RoleAuditor}, c.export},
		{"GET", "/access", []Role{RoleAuditor}, c.accessLog},
		{"GET", "/users", []Role{RoleAdmin}, c.usersPage},
		{"POST", "/users", []Role{RoleAdmin}, c.addUser},
		{"POST", "/users/{login}/disable", []Role{RoleAdmin}, c.disableUser},
		{"POST", "/users/{login}/enable", []Role{RoleAdmin}, c.enableUser},
	}
}

// Routes lists the console's routes (for tests and documentation).
func (c *Console) Routes() []Route { return c.routes() }

// guard wraps a route: it finds the session (or sends the browser to the
// login page), checks the role, and for POST the Origin and the CSRF
// token, before the handler runs.
func (c *Console) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		now := c.cfg.Now()
		if rt.Roles == nil {
			rt.h(w, r, &request{now: now})
			return
		}
		ck, err := r.Cookie(SessionCookie)
		var s session
		ok := err == nil
		if ok {
			s, ok = c.sessions.get(ck.Value, now)
		}
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "Your session has ended. Please log in again.")
			return
		}
		u, err := c.cfg.Users.Get(s.login)
		if err != nil || u.Disabled {
			c.sessions.end(s.id)
			c.fail(w, r, http.StatusUnauthorized, "Your login is no longer valid.")
			return
		}
		req := &request{user: u, session: s, now: now}
		if !slices.Contains(rt.Roles, u.Role) {
			c.failAs(w, r, req, http.StatusForbidden, "Your role ("+string(u.Role)+") may not use this page.")
			return
		}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				c.failAs(w, r, req, http.StatusForbidden, "Refused: the request did not come from this console.")
				return
			}
			if !tokensEqual(r.PostFormValue("csrf"), s.csrf) {
				c.failAs(w, r, req, http.StatusForbidden, "Refused: the form's security token is missing or wrong. Reload the page and try again.")
				return
			}
		}
		rt.h(w, r, req)
	})
}
