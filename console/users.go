package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"meldeweg.dev/meldeweg/transport/atomicfile"
)

// Role is what a console user may do; the server checks it on every
// request (see routes).
type Role string

const (
	// RoleOperator runs the gateway: message log, resend, dashboard.
	RoleOperator Role = "operator"
	// RoleAuditor checks it, read-only: register, verify, export, access log.
	RoleAuditor Role = "auditor"
	// RoleCaseWorker works the eM@w inbox of the measures assigned to them.
	RoleCaseWorker Role = "caseworker"
	// RoleAdmin manages users and roles.
	RoleAdmin Role = "admin"
)

// Roles lists every Role.
func Roles() []Role { return []Role{RoleOperator, RoleAuditor, RoleCaseWorker, RoleAdmin} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// User is one console login as the users file keeps it.
type User struct {
	Login string `json:"login"`
	Role  Role   `json:"role"`
	// Hash is the argon2id hash in PHC string form
	// ($argon2id$v=19$m=…,t=…,p=…$salt$key).
	Hash     string `json:"hash"`
	Disabled bool   `json:"disabled,omitempty"`
	// Massnahmen are the Maßnahmeschlüssel (e.g. "12321114/01") whose
	// eM@w inbox a case worker works; a trailing "*" matches a prefix,
	// "*" alone every measure.
	Massnahmen []string  `json:"massnahmen,omitempty"`
	Changed    time.Time `json:"changed"`
}

// Assigned reports whether the case worker u works the measure m.
func (u User) Assigned(m string) bool {
	for _, a := range u.Massnahmen {
		if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(m, p) || a == m {
			return true
		}
	}
	return false
}

// HashParams are argon2id's cost parameters.
type HashParams struct {
	Time    uint32
	MemKiB  uint32
	Threads uint8
}

// RFC9106Second is the second recommended option of RFC 9106 (section
// 4): t=3, m=64 MiB, p=4, 128-bit salt, 256-bit tag; for machines where
// 2 GiB per hash is too much.
var RFC9106Second = HashParams{Time: 3, MemKiB: 64 * 1024, Threads: 4}

// Upper bounds for parameters read from a users file, so that an edited
// file cannot make one login cost gigabytes.
const (
	maxHashTime = 10
	maxHashMem  = 1024 * 1024 // KiB: 1 GiB
)

// HashPassword returns the argon2id hash of password with a fresh salt.
func HashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=([0-9]{1,8}),t=([0-9]{1,3}),p=([0-9]{1,3})\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{16,128})$`)

// CheckPassword reports whether password matches hash, comparing in
// constant time. A hash that is not argon2id in PHC form, or whose
// parameters exceed the bounds, is an error.
func CheckPassword(hash, password string) (bool, error) {
	m := phcRe.FindStringSubmatch(hash)
	if m == nil {
		return false, errors.New("password hash: expected $argon2id$v=19$m=…,t=…,p=…$SALT$KEY")
	}
	var mem, t, p uint32
	fmt.Sscan(m[1], &mem)
	fmt.Sscan(m[2], &t)
	fmt.Sscan(m[3], &p)
	if t < 1 || t > maxHashTime || mem < 8 || mem > maxHashMem || p < 1 || p > 255 {
		return false, fmt.Errorf("password hash: parameters m=%d,t=%d,p=%d out of bounds", mem, t, p)
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(m[4])
	want, err2 := b64.DecodeString(m[5])
	if err1 != nil || err2 != nil {
		return false, errors.New("password hash: salt or key is not base64")
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, uint8(p), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// loginRe is the shape of a login: it becomes a register actor name.
var loginRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// massnahmeRe is a Maßnahmeschlüssel or a prefix of one ending in "*".
var massnahmeRe = regexp.MustCompile(`^([0-9][0-9/]{0,39}\*?|\*)$`)

// ErrUnknownUser is returned for a login the users file does not hold.
var ErrUnknownUser = errors.New("no such user")

// Users is the users file: JSON, mode 0600, rewritten whole and
// atomically on every change. It is read at Open and kept in memory; a
// change made by another process (meldeweg users …) is seen after Reload.
type Users struct {
	path   string
	Params HashParams // for new hashes; defaults to RFC9106Second

	mu    sync.Mutex
	users []User
	now   func() time.Time
}

type usersFile struct {
	Version int    `json:"version"`
	Users   []User `json:"users"`
}

// OpenUsers reads the users file at path; a missing file is an empty
// list (it is created by the first change). Errors name the file.
func OpenUsers(path string) (*Users, error) {
	u := &Users{path: path, Params: RFC9106Second, now: time.Now}
	return u, u.Reload()
}

// Reload reads the file again.
func (u *Users) Reload() error {
	u.mu.Lock() // held while reading, so no change is overtaken by an older read
	defer u.mu.Unlock()
	data, err := os.ReadFile(u.path)
	if errors.Is(err, fs.ErrNotExist) {
		u.users = nil
		return nil
	}
	if err != nil {
		return err
	}
	var f usersFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: %w", u.path, err)
	}
	if f.Version != 1 {
		return fmt.Errorf("%s: version %d, expected 1", u.path, f.Version)
	}
	for i, x := range f.Users {
		if err := x.validate(); err != nil {
			return fmt.Errorf("%s: users[%d]: %w", u.path, i, err)
		}
	}
	u.users = f.Users
	return nil
}

func (x User) validate() error {
	switch {
	case !loginRe.MatchString(x.Login):
		return fmt.Errorf("login %q: expected 1 to 64 characters from [A-Za-z0-9._@-]", x.Login)
	case !x.Role.Valid():
		return fmt.Errorf("user %s: role %q: expected operator, auditor, caseworker or admin", x.Login, x.Role)
	case !phcRe.MatchString(x.Hash):
		return fmt.Errorf("user %s: hash: expected an argon2id PHC string", x.Login)
	}
	for _, m := range x.Massnahmen {
		if !massnahmeRe.MatchString(m) {
			return fmt.Errorf("user %s: Maßnahme %q: expected digits and \"/\", optionally ending in \"*\"", x.Login, m)
		}
	}
	return nil
}

// List returns the users, sorted by login.
func (u *Users) List() []User {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := slices.Clone(u.users)
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Login, b.Login) })
	return out
}

// Get returns the user with login, or ErrUnknownUser.
func (u *Users) Get(login string) (User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.users {
		if x.Login == login {
			return x, nil
		}
	}
	return User{}, fmt.Errorf("%q: %w", login, ErrUnknownUser)
}

// Add creates a user with a password; an existing login is an error.
func (u *Users) Add(login string, role Role, massnahmen []string, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password, u.Params)
	if err != nil {
		return err
	}
	x := User{Login: login, Role: role, Hash: h, Massnahmen: massnahmen, Changed: u.now().UTC()}
	if err := x.validate(); err != nil {
		return err
	}
	return u.change(func(us []User) ([]User, error) {
		for _, y := range us {
			if y.Login == login {
				return nil, fmt.Errorf("user %s exists already", login)
			}
		}
		return append(us, x), nil
	})
}

// SetPassword replaces a user's password hash.
func (u *Users) SetPassword(login, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password, u.Params)
	if err != nil {
		return err
	}
	return u.update(login, func(x *User) { x.Hash = h })
}

// SetDisabled disables or enables a user's login.
func (u *Users) SetDisabled(login string, disabled bool) error {
	return u.update(login, func(x *User) { x.Disabled = disabled })
}

func (u *Users) update(login string, f func(*User)) error {
	return u.change(func(us []User) ([]User, error) {
		for i := range us {
			if us[i].Login == login {
				f(&us[i])
				us[i].Changed = u.now().UTC()
				return us, nil
			}
		}
		return nil, fmt.Errorf("%q: %w", login, ErrUnknownUser)
	})
}

// change applies f to a copy of the list and writes the file; the list
// in memory changes only if the file was written.
func (u *Users) change(f func([]User) ([]User, error)) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	us, err := f(slices.Clone(u.users))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(usersFile{Version: 1, Users: us}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(u.path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", u.path, err)
	}
	u.users = us
	return nil
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

func checkPassword(p string) error {
	if len([]rune(p)) < MinPasswordLen {
		return fmt.Errorf("password: expected at least %d characters", MinPasswordLen)
	}
	if len(p) > 1024 {
		return errors.New("password: expected at most 1024 bytes")
	}
	return nil
}

// Authenticate checks login and password. It returns the user, or an
// error that does not say whether the login exists; a disabled user
// fails like a wrong password. An unknown login still costs one hash,
// so timing does not tell logins apart.
func (u *Users) Authenticate(login, password string) (User, bool) {
	x, err := u.Get(login)
	hash := x.Hash
	if err != nil {
		hash = u.dummyHash()
	}
	ok, herr := CheckPassword(hash, password)
	if err != nil || herr != nil || !ok || x.Disabled {
		return User{}, false
	}
	return x, true
}

var (
	dummyOnce sync.Once
	dummy     string
)

func (u *Users) dummyHash() string {
	dummyOnce.Do(func() { dummy, _ = HashPassword("no user has this password", u.Params) })
	return dummy
}
