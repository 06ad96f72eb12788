package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

type verifyResult struct {
	At     time.Time
	By     string
	Report register.VerifyReport
	Err    string
}

type registerData struct {
	Entries int64
	Head    register.Record
	Last    *verifyResult
}

func (c *Console) registerPage(w http.ResponseWriter, r *http.Request, req *request) {
	var d registerData
	for e, err := range register.All(r.Context(), c.cfg.Store, "") {
		if err != nil {
			c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
			return
		}
		d.Entries++
		d.Head = e.Record()
	}
	c.verifyMu.Lock()
	d.Last = c.lastVerify
	c.verifyMu.Unlock()
	c.render(w, http.StatusOK, "register", req, page{Title: "Register", Data: d})
}

// verifyNow runs the verification and shows its result on the register
// page (post, redirect, get).
func (c *Console) verifyNow(w http.ResponseWriter, r *http.Request, req *request) {
	rep, err := c.cfg.Verify(r.Context())
	v := &verifyResult{At: req.now, By: req.user.Login, Report: rep}
	if err != nil {
		v.Err = err.Error()
	}
	c.verifyMu.Lock()
	c.lastVerify = v
	c.verifyMu.Unlock()
	http.Redirect(w, r, "/register", http.StatusSeeOther)
}

// export sends the register as JSON Lines (no entry holds personal data).
func (c *Console) export(w http.ResponseWriter, r *http.Request, req *request) {
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="register-%s.jsonl"`, req.now.UTC().Format("20060102T150405Z")))
	if _, err := register.ExportJSONL(w, register.All(r.Context(), c.cfg.Store, "")); err != nil {
		// Headers are sent; a truncated download must not look whole.
		c.cfg.Logger.Error("console: export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// auditEvents are what the access log lists.
var auditEvents = []register.Event{register.EventAccessed, register.EventAdmin, register.EventTakenOver, register.EventDone}

func (c *Console) accessLog(w http.ResponseWriter, r *http.Request, req *request) {
	var rows []register.Record
	for e, err := range register.All(r.Context(), c.cfg.Store, "") {
		if err != nil {
			c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
			return
		}
		if slices.Contains(auditEvents, e.Event()) || e.Actor().Kind() == register.ActorUser {
			rows = append(rows, e.Record())
		}
	}
	slices.Reverse(rows)
	c.render(w, http.StatusOK, "access", req, page{Title: "Access log", Data: rows})
}

type usersData struct {
	Users []User
	Roles []Role
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, req *request) {
	c.render(w, http.StatusOK, "users", req, page{Title: "Users", Data: usersData{Users: c.cfg.Users.List(), Roles: Roles()}})
}

// admin records an admin action that was done; if the record fails the
// admin is told, since the action cannot be undone silently.
func (c *Console) admin(w http.ResponseWriter, r *http.Request, req *request, detail string) {
	if _, err := c.cfg.Store.Append(r.Context(), register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelConsole,
		Event: register.EventAdmin, Actor: register.User(req.user.Login), Detail: detail}); err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Done, but recording it in the register failed: "+err.Error())
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

func (c *Console) addUser(w http.ResponseWriter, r *http.Request, req *request) {
	login, role := r.PostFormValue("login"), Role(r.PostFormValue("role"))
	var ms []string
	for _, m := range strings.FieldsFunc(r.PostFormValue("massnahmen"), func(r rune) bool { return r == ',' || r == ' ' }) {
		ms = append(ms, m)
	}
	if err := c.cfg.Users.Add(login, role, ms, r.PostFormValue("password")); err != nil {
		c.render(w, http.StatusBadRequest, "users", req, page{Title: "Users", Error: err.Error(), Data: usersData{Users: c.cfg.Users.List(), Roles: Roles()}})
		return
	}
	c.admin(w, r, req, "added user "+login+" with role "+string(role))
}

func (c *Console) disableUser(w http.ResponseWriter, r *http.Request, req *request) {
	c.setDisabled(w, r, req, true)
}

func (c *Console) enableUser(w http.ResponseWriter, r *http.Request, req *request) {
	c.setDisabled(w, r, req, false)
}

func (c *Console) setDisabled(w http.ResponseWriter, r *http.Request, req *request, disabled bool) {
	login := r.PathValue("login")
	if login == req.user.Login {
		c.failAs(w, r, req, http.StatusConflict, "You cannot disable your own login.")
		return
	}
	if err := c.cfg.Users.SetDisabled(login, disabled); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrUnknownUser) {
			status = http.StatusNotFound
		}
		c.failAs(w, r, req, status, err.Error())
		return
	}
	what := "enabled"
	if disabled {
		c.sessions.endUser(login)
		what = "disabled"
	}
	c.admin(w, r, req, what+" user "+login)
}
