package localenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the parent process of these tests: with LOCALENV_TEST_PARENT set,
// it starts a child the way the variable says, prints the child's PID and waits to be killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LOCALENV_TEST_PARENT"); mode != "" {
		os.Exit(parent(mode))
	}
	os.Exit(m.Run())
}

func parent(mode string) int {
	var cmd *exec.Cmd
	switch mode {
	case "attr":
		cmd = exec.Command("sleep", "300")
		cmd.SysProcAttr = ChildAttr()
	case "wrapper":
		cmd = exec.Command(os.Getenv("LOCALENV_TEST_WRAPPER"), "300")
	case "wrapper-pgid": // as envtest starts the control plane: a process group of its own already
		cmd = exec.Command(os.Getenv("LOCALENV_TEST_WRAPPER"), "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	case "plain":
		cmd = exec.Command("sleep", "300")
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(cmd.Process.Pid)
	_ = cmd.Wait()
	return 0
}

// alive says whether pid runs (a zombie waiting for a reaper counts as gone).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// startParent runs the test binary as a parent in mode and returns it and its child's PID.
func startParent(t *testing.T, mode string, env ...string) (*exec.Cmd, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), "LOCALENV_TEST_PARENT="+mode), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("reading the child's PID: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	return cmd, child
}

func TestChildrenDieWithTheirParent(t *testing.T) {
	wrapper := filepath.Join(t.TempDir(), "sleep")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	pids := filepath.Join(t.TempDir(), "pids")
	if err := PdeathsigWrapper(wrapper, sleep, pids); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode string
		env  []string
	}{
		{mode: "attr"},
		{mode: "wrapper", env: []string{"LOCALENV_TEST_WRAPPER=" + wrapper}},
		{mode: "wrapper-pgid", env: []string{"LOCALENV_TEST_WRAPPER=" + wrapper}},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			parent, child := startParent(t, tt.mode, tt.env...)
			// The wrapper keeps its PID through setsid and setpriv to sleep: wait for the last exec.
			if !eventually(func() bool {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
				return strings.HasPrefix(string(cmdline), "sleep\x00") || strings.HasPrefix(string(cmdline), sleep+"\x00")
			}) {
				t.Fatalf("child %d never ran sleep", child)
			}
			if pgid, err := syscall.Getpgid(child); err != nil || pgid != child {
				t.Errorf("child %d is in process group %d (%v), want its own", child, pgid, err)
			}
			_ = parent.Process.Kill()
			_ = parent.Wait()
			if !eventually(func() bool { return !alive(child) }) {
				t.Fatalf("child %d still runs after its parent was SIGKILLed", child)
			}
		})
	}
	// The wrapper recorded the PID it kept.
	if data, err := os.ReadFile(pids); err != nil || len(strings.Fields(string(data))) != 2 {
		t.Errorf("pid file = %q (%v), want two PIDs", data, err)
	}
}

// Without the attributes, a child outlives its killed parent: the check above can fail.
func TestPlainChildOutlivesItsParent(t *testing.T) {
	parent, child := startParent(t, "plain")
	_ = parent.Process.Kill()
	_ = parent.Wait()
	time.Sleep(500 * time.Millisecond) // a negative check: give a signal time to arrive
	if !alive(child) {
		t.Fatalf("a plain child %d died with its parent; the test above proves nothing", child)
	}
}

func TestKillStale(t *testing.T) {
	dir := t.TempDir()
	stale := exec.Command("sleep", "301")
	other := exec.Command("tail", "-f", "/dev/null")
	for _, c := range []*exec.Cmd{stale, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	pids := fmt.Sprintf("%d\n%d\n999999999\nnot-a-pid\n", stale.Process.Pid, other.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "pids"), []byte(pids), 0o644); err != nil {
		t.Fatal(err)
	}
	killed, err := KillStale(dir, "sleep")
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) != 1 || killed[0] != stale.Process.Pid {
		t.Errorf("KillStale killed %v, want [%d]", killed, stale.Process.Pid)
	}
	if err := stale.Wait(); err == nil {
		t.Error("the stale sleep exited cleanly, want killed")
	}
	if !alive(other.Process.Pid) {
		t.Error("KillStale killed a process that runs another binary")
	}
	if _, err := os.Stat(filepath.Join(dir, "pids")); !os.IsNotExist(err) {
		t.Errorf("pid file still there: %v", err)
	}
	if killed, err := KillStale(dir, "sleep"); err != nil || len(killed) != 0 {
		t.Errorf("KillStale without a pid file = %v, %v", killed, err)
	}
}
