// Package pgtest runs a package's tests a second time against a real, throwaway PostgreSQL:
// one cluster per test binary (initdb into a temporary directory, a free loopback port, no
// fsync), a fresh database per test, the cluster stopped and removed when the tests end.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "")) }
//
// Tests open their database through a helper that asks Active: during the PostgreSQL pass it
// calls NewDatabase(t) for a postgres:// URL, otherwise it uses a SQLite file as before.
//
// Without PostgreSQL's server binaries (Debian's postgresql package), the PostgreSQL pass is
// skipped with a message, unless the environment sets CI: then it fails.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating databases
)

var (
	active  atomic.Bool
	current *Cluster
	dbSeq   atomic.Int64
)

// Main runs m's tests against SQLite, then starts a cluster and runs them again with Active
// true. pgRun, when not empty and no -run was given, restricts the PostgreSQL pass to the
// tests it matches (a -test.run pattern) and runs no benchmark. It returns the exit code for os.Exit.
func Main(m *testing.M, pgRun string) int {
	code := m.Run()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "pgtest: FAIL: CI is set but %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "pgtest: SKIP: the PostgreSQL pass did not run: %v (install Debian's postgresql; with CI set this fails)\n", err)
		return code
	}
	if pgRun != "" {
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
			return code // only benchmarks were asked for; see below
		}
	}
	c, err := Start(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: FAIL: %v\n", err)
		return 1
	}
	defer c.Stop()
	if pgRun != "" {
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
			f.Value.Set(pgRun)
		}
		// A restricted pass is for the tests it names: the package's benchmarks measure
		// SQLite and have already run (running them again would also overwrite -cpuprofile).
		if f := flag.Lookup("test.bench"); f != nil {
			f.Value.Set("")
		}
	}
	fmt.Printf("pgtest: running the tests again against PostgreSQL (%s)\n", c.addr)
	current = c
	active.Store(true)
	defer active.Store(false)
	if pg := m.Run(); pg != 0 {
		return pg
	}
	return code
}

// Active reports whether the PostgreSQL pass is running.
func Active() bool { return active.Load() }

// NewDatabase creates an empty database in the running cluster and returns its URL. It fails
// the test outside the PostgreSQL pass.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if !Active() {
		t.Fatal("pgtest: NewDatabase outside the PostgreSQL pass")
	}
	url, err := current.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// SQLiteOnly skips t in the PostgreSQL pass: it tests something only SQLite has (a file, its
// locks).
func SQLiteOnly(t testing.TB, why string) {
	t.Helper()
	if Active() {
		t.Skip("SQLite only: " + why)
	}
}

// BinDir finds the newest PostgreSQL server binaries under /usr/lib/postgresql.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or on PATH")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	bin, dir, addr string
	asPostgres     bool
	admin          *sql.DB
	mu             sync.Mutex
}

// Start initialises a cluster in a new temporary directory and starts it on a free loopback
// port. As root, the server runs as the postgres user (initdb refuses root).
func Start(bin string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, asPostgres: os.Geteuid() == 0}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var port int
	for attempt := 0; ; attempt++ {
		if port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-k %s -h 127.0.0.1 -p %d -F -c max_connections=200", dir, port)
		out, err := c.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts)
		if err == nil {
			break
		}
		if attempt == 2 { // another process took the port in between, twice: give up
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	c.addr = "127.0.0.1:" + strconv.Itoa(port)
	c.admin, err = sql.Open("pgx", c.url("postgres"))
	if err == nil {
		err = c.admin.Ping()
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
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

func (c *Cluster) url(db string) string {
	return "postgres://postgres@" + c.addr + "/" + db + "?sslmode=disable"
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase() (string, error) {
	c.mu.Lock() // CREATE DATABASE copies template1, one at a time
	defer c.mu.Unlock()
	name := fmt.Sprintf("t%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return c.url(name), nil
}

// Stop stops the server and removes its directory.
func (c *Cluster) Stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	c.run("pg_ctl", "stop", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w")
	os.RemoveAll(c.dir)
}
