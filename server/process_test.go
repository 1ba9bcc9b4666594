package server

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/redistest"
	"gatehouse/internal/testkit"
)

var listeningAt = regexp.MustCompile(`addr=http://([0-9.:]+)`)

// process is a gatehouse binary serving on a loopback port.
type process struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	log  []byte
	done chan error
}

func (p *process) logs() string { p.mu.Lock(); defer p.mu.Unlock(); return string(p.log) }

// startProcess runs bin serve with args on a free port and waits for its address.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_LOG_FORMAT=text")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text()+"\n"...)
			p.mu.Unlock()
			if m := listeningAt.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", bin, p.logs())
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-time.After(time.Minute):
		t.Fatalf("the server did not start:\n%s", p.logs())
	}
	return p
}

// TestClusterProcessesKilledOrTerminatedLoseNoSession runs three gatehouse processes on one
// Redis. A is killed with SIGKILL, B stopped with SIGTERM (it exits 0); the sessions opened
// on both go on through C.
func TestClusterProcessesKilledOrTerminatedLoseNoSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	redis := redistest.Start(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")
	if out, err := exec.Command("go", "build", "-o", bin, "gatehouse/cmd/gatehouse").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var procs [3]*process
	for i := range procs {
		procs[i] = startProcess(t, bin, "--dir", clusterApp(t), "--store", redis.URL(), "--licenses", "5")
	}
	a, b, c := procs[0], procs[1], procs[2]
	cx, cy := testkit.NewClient(t, a.url), testkit.NewClient(t, b.url)
	if r := login(cx, "xavier", "secret"); r.Status != 200 {
		t.Fatalf("login on A: %d %s", r.Status, r.Body)
	}
	if r := login(cy, "yann", "secret"); r.Status != 200 {
		t.Fatalf("login on B: %d %s", r.Status, r.Body)
	}

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("B after SIGTERM: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("B did not exit within two minutes of SIGTERM")
	}

	for _, u := range []struct {
		jar  *testkit.Client
		name string
	}{{cx, "xavier"}, {cy, "yann"}} {
		cc := testkit.NewClient(t, c.url)
		cc.Jar, cc.HTTP.Jar = u.jar.Jar, u.jar.Jar
		if got := currentUser(t, cc, nil); got != u.name {
			t.Fatalf("on C after A was killed and B terminated: got %q, want %q", got, u.name)
		}
	}
}
