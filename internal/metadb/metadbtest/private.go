package metadbtest

import (
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Server is a PostgreSQL server of a test's own, which the test may stop
// and restart without disturbing tests that share the server named by
// EDP_TEST_POSTGRES.
type Server struct {
	// URI is the DSN of its database edp_test.
	URI string

	bin, data string
	asUser    string // run the server's commands as this user (when root)
	port      int
}

// StartServer initialises and starts a private PostgreSQL with Debian's
// binaries (/usr/lib/postgresql/*/bin) in a temporary directory, stopped
// when t ends. It skips t when no binaries are installed, except under
// CI, which must provide them.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no PostgreSQL binaries under /usr/lib/postgresql: CI must install them (see .ci/run)")
		}
		t.Skip("no PostgreSQL binaries under /usr/lib/postgresql")
	}
	sort.Strings(bins)
	s := &Server{bin: filepath.Dir(bins[len(bins)-1])}
	dir := t.TempDir()
	s.data = filepath.Join(dir, "data")
	// initdb refuses to run as root; the Debian package's postgres user
	// owns the cluster then.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The temporary directories above dir must be traversable.
		for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, st.Mode().Perm()|0o011)
			}
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.run(t, "initdb", "-D", s.data, "-A", "trust", "-U", "edp", "--no-sync")
	s.Start(t)
	t.Cleanup(func() { s.pgctl(nil, "stop", "-m", "immediate") })
	s.run(t, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "edp", "edp_test")
	s.URI = fmt.Sprintf("postgres://edp@127.0.0.1:%d/edp_test?sslmode=disable", s.port)
	return s
}

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if out, err := s.pgctl(t, "start", "-w", "-l", s.data+".log",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, filepath.Dir(s.data))); err != nil {
		log, _ := os.ReadFile(s.data + ".log")
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop shuts the server down at once, ending every connection.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.pgctl(t, "stop", "-w", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (s *Server) pgctl(t testing.TB, args ...string) ([]byte, error) {
	return s.command("pg_ctl", append([]string{"-D", s.data}, args...)...).CombinedOutput()
}

func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := s.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (s *Server) command(name string, args ...string) *osexec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asUser != "" {
		return osexec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return osexec.Command(path, args...)
}
