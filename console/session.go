package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// SessionCookie is the session cookie's name. The __Host- prefix makes
// browsers accept it only with Secure, Path=/ and no Domain.
const SessionCookie = "__Host-meldeweg-session"

// loginCookie holds the CSRF token of the login form, before a session
// exists (double submit).
const loginCookie = "__Host-meldeweg-login"

// session is one logged-in user, kept on the server only; the cookie
// holds a random ID.
type session struct {
	id       string
	login    string
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions is the server-side session store.
type sessions struct {
	mu       sync.Mutex
	byID     map[string]*session
	idle     time.Duration
	absolute time.Duration
}

func newSessions(idle, absolute time.Duration) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, absolute: absolute}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for login at now.
func (s *sessions) create(login string, now time.Time) *session {
	x := &session{id: randomToken(), login: login, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[x.id] = x
	return x
}

// get returns the live session with id and marks it used at now; an
// expired one (idle or absolute timeout) is removed and not returned.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if now.Sub(x.lastSeen) > s.idle || now.Sub(x.created) > s.absolute {
		delete(s.byID, id)
		return session{}, false
	}
	x.lastSeen = now
	return *x, true
}

// end removes a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// endUser removes every session of login (after disable or a new
// password).
func (s *sessions) endUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, x := range s.byID {
		if x.login == login {
			delete(s.byID, id)
		}
	}
}

// sweep removes expired sessions.
func (s *sessions) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, x := range s.byID {
		if now.Sub(x.lastSeen) > s.idle || now.Sub(x.created) > s.absolute {
			delete(s.byID, id)
		}
	}
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
