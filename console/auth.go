package console

import (
	"net/http"
)

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

type loginData struct {
	Token string
	Login string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request, req *request) {
	tok := randomToken()
	c.setCookie(w, loginCookie, tok, 600)
	c.render(w, http.StatusOK, "login", nil, page{Title: "Log in", Data: loginData{Token: tok}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request, req *request) {
	ck, err := r.Cookie(loginCookie)
	if !sameOrigin(r) || err != nil || !tokensEqual(r.PostFormValue("csrf"), ck.Value) {
		c.fail(w, r, http.StatusForbidden, "Refused: the login form's security token is missing or wrong. Open the login page again.")
		return
	}
	login, password := r.PostFormValue("login"), r.PostFormValue("password")
	tok := randomToken()
	c.setCookie(w, loginCookie, tok, 600)
	again := func(status int, msg string) {
		c.render(w, status, "login", nil, page{Title: "Log in", Error: msg, Data: loginData{Token: tok, Login: login}})
	}
	keys := []string{"login:" + login, "addr:" + clientAddr(r)}
	if until, locked := c.throttle.locked(req.now, keys...); locked {
		c.cfg.Logger.Warn("console: login refused, locked", "addr", clientAddr(r))
		again(http.StatusTooManyRequests, "Too many failed logins. Try again after "+until.UTC().Format("15:04 UTC")+".")
		return
	}
	u, ok := c.cfg.Users.Authenticate(login, password)
	if !ok {
		c.throttle.fail(req.now, keys...)
		c.cfg.Logger.Warn("console: login failed", "addr", clientAddr(r))
		again(http.StatusUnauthorized, "Login or password is wrong, or the login is disabled.")
		return
	}
	c.throttle.succeed(keys[0])
	c.sessions.sweep(req.now)
	s := c.sessions.create(u.Login, req.now)
	c.setCookie(w, loginCookie, "", -1)
	c.setCookie(w, SessionCookie, s.id, 0)
	c.cfg.Logger.Info("console: login", "user", u.Login, "role", u.Role)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, req *request) {
	c.sessions.end(req.session.id)
	c.setCookie(w, SessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// home sends each role to its first page.
func (c *Console) home(w http.ResponseWriter, r *http.Request, req *request) {
	to := map[Role]string{RoleOperator: "/dashboard", RoleAuditor: "/dashboard", RoleCaseWorker: "/inbox", RoleAdmin: "/users"}[req.user.Role]
	http.Redirect(w, r, to, http.StatusSeeOther)
}
