// Package pgtest starts a throw-away PostgreSQL server for tests: initdb
// and pg_ctl on a temporary directory, listening on a free loopback port,
// stopped and removed by Stop. It is a test helper; production code must
// not import it.
//
// initdb refuses to run as root, so when the test runs as root the server
// runs as the unprivileged user "nobody" (uid and gid 65534, or the user
// named by $MELDEWEG_PG_USER), owning its directory.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means initdb or pg_ctl is not installed; tests should skip
// with this error's message.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in $PATH, /usr/local/bin or /usr/lib/postgresql/*/bin")

// Server is a running throw-away PostgreSQL server.
type Server struct {
	dir   string
	port  int
	bin   string
	cred  *syscall.Credential
	dbSeq atomic.Int64
}

// findBin returns the directory that holds both initdb and pg_ctl.
func findBin() (string, error) {
	cands := []string{}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	cands = append(cands, "/usr/local/bin")
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(more) - 1; i >= 0; i-- { // newest version first
		cands = append(cands, more[i])
	}
	for _, d := range cands {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a server. Call Stop when done (TestMain).
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	s.dir, err = os.MkdirTemp("", "meldeweg-pg-")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		uid, gid := 65534, 65534
		if name := os.Getenv("MELDEWEG_PG_USER"); name != "" {
			u, err := user.Lookup(name)
			if err != nil {
				return nil, fmt.Errorf("MELDEWEG_PG_USER: %w", err)
			}
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return nil, err
		}
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "meldeweg", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for range 5 { // the port may be taken between choosing and binding it
		s.port, err = freePort()
		if err != nil {
			s.remove()
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", s.port, s.dir)
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			return s, nil
		}
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	s.remove()
	return nil, lastErr
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+s.dir)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN is the connection string for database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://meldeweg@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates a fresh, empty database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// Stop stops the server immediately and removes its directory.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	s.remove()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *Server) remove() { os.RemoveAll(s.dir) }

// Shared is one server for a test package, started by the first test that
// asks for a database and stopped by the package's TestMain:
//
//	var pg pgtest.Shared
//
//	func TestMain(m *testing.M) { code := m.Run(); pg.Stop(); os.Exit(code) }
//
// A package whose tests never ask starts no server.
type Shared struct {
	once   sync.Once
	server *Server
	err    error
}

// NewDB returns the URL of a fresh database on the shared server. It skips
// the test when the PostgreSQL binaries are not installed and fails it when
// the server cannot start.
func (sh *Shared) NewDB(t testing.TB) string {
	t.Helper()
	sh.once.Do(func() { sh.server, sh.err = Start() })
	if errors.Is(sh.err, ErrNoBinaries) {
		t.Skip(sh.err)
	}
	if sh.err != nil {
		t.Fatalf("starting PostgreSQL: %v", sh.err)
	}
	dsn, err := sh.server.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Stop stops the shared server if it was started; an error is printed to
// standard error, since TestMain has no test to fail.
func (sh *Shared) Stop() {
	if sh.server == nil {
		return
	}
	if err := sh.server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// NewTestDB starts a server for test t alone and returns the URL of a
// database on it; t's cleanup stops the server. Use it where no TestMain
// can stop a Shared server: testscript.RunMain, for one, always ends the
// process itself. It skips t when the binaries are not installed.
func NewTestDB(t testing.TB) string {
	t.Helper()
	s, err := Start()
	if errors.Is(err, ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	dsn, err := s.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
