package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// page is what every template gets.
type page struct {
	Title string
	User  User
	CSRF  string
	Now   time.Time
	Error string
	Data  any
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"join": strings.Join,
	"is":   func(u User, roles ...string) bool { return u.Login != "" && contains(roles, string(u.Role)) },
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (c *Console) parseTemplates() error {
	names, err := fs.Glob(assets, "assets/pages/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", n, err)
		}
		c.pages[strings.TrimSuffix(strings.TrimPrefix(n, "assets/pages/"), ".html")] = t
	}
	return nil
}

// render writes page name with status; a template error gives a plain
// 500, never half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, req *request, p page) {
	if req != nil {
		p.User, p.CSRF, p.Now = req.user, req.session.csrf, req.now
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, p); err != nil {
		c.cfg.Logger.Error("console: rendering failed", "page", name, "err", err)
		http.Error(w, "internal error while rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page to someone not logged in.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.failAs(w, r, nil, status, msg)
}

// failAs shows an error page with the user's navigation.
func (c *Console) failAs(w http.ResponseWriter, r *http.Request, req *request, status int, msg string) {
	c.render(w, status, "error", req, page{Title: http.StatusText(status), Error: msg})
}
