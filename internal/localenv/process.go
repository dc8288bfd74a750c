package localenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Children of the local environment die with their parent. Every process it starts gets its own
// process group, so that a Ctrl-C in the terminal reaches only the parent, which then stops
// them in order (deleting BrowserSessions needs the manager and the control plane still up), and
// SIGKILL as its parent-death signal, so that when the parent dies without cleaning up (SIGKILL,
// a crash, SIGPIPE from `make dev | tee` when tee is gone) they die too. Linux sends the
// parent-death signal when the thread that started the child exits; Go keeps its threads for
// the life of the process unless a goroutine locked to one exits, which this package never does.
//
// The control-plane binaries are started by envtest, which sets no process attributes: they run
// through a small wrapper script (PdeathsigWrapper) that gives them the same two properties with
// util-linux's setsid and setpriv before it execs them, keeping their PID.
//
// As a second line, each process's PID is appended to <WorkDir>/pids as it starts, and Start
// kills the ones of an earlier run that are still alive (after checking that the PID still runs
// the recorded binary), so a second `make dev` after a crash starts cleanly.

// ChildAttr is the SysProcAttr of every process the local environment starts: its own process
// group, and SIGKILL when its parent dies.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// PdeathsigWrapper writes an executable script at path that runs bin (with the script's
// arguments) in a new session (its own process group) with SIGKILL as its parent-death signal,
// keeping the PID, and first appends that PID to pidFile when pidFile is not empty. Without
// setsid and setpriv (util-linux) on PATH, the script runs bin as it is.
func PdeathsigWrapper(path, bin, pidFile string) error {
	var script strings.Builder
	script.WriteString("#!/bin/sh\n# Written by internal/localenv: run the binary so that it dies with its parent.\n")
	if pidFile != "" {
		fmt.Fprintf(&script, "echo $$ >> %s\n", shellQuote(pidFile))
	}
	setsid, errSetsid := exec.LookPath("setsid")
	setpriv, errSetpriv := exec.LookPath("setpriv")
	if errSetsid == nil && errSetpriv == nil {
		// setsid forks when its caller leads a process group (envtest starts its processes with
		// Setpgid), and the fork would lose both the PID and the parent-death signal: skip it
		// then, since a group of its own is what setsid would give.
		fmt.Fprintf(&script, "read -r _ _ _ _ pgrp _ < /proc/$$/stat\n")
		fmt.Fprintf(&script, "if [ \"$pgrp\" = \"$$\" ]; then exec %s --pdeathsig KILL -- %s \"$@\"; fi\n", shellQuote(setpriv), shellQuote(bin))
		fmt.Fprintf(&script, "exec %s %s --pdeathsig KILL -- %s \"$@\"\n", shellQuote(setsid), shellQuote(setpriv), shellQuote(bin))
	} else {
		fmt.Fprintf(&script, "exec %s \"$@\"\n", shellQuote(bin))
	}
	return os.WriteFile(path, []byte(script.String()), 0o755)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// pidFile records the PIDs of the processes a local environment started, so that the next run
// can kill any that outlived a crash.
type pidFile struct {
	mu   sync.Mutex
	path string
}

// add appends pid.
func (p *pidFile) add(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = fmt.Fprintln(f, pid)
}

// KillStale kills the processes listed in the pid file of workDir that are still alive and
// still run one of the binaries (a path in their command line), then empties the file. It
// returns the PIDs it killed.
func KillStale(workDir string, binaries ...string) ([]int, error) {
	path := filepath.Join(workDir, "pids")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var killed []int
	for _, field := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(field)
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // gone
		}
		for _, bin := range binaries {
			if bytes.Contains(cmdline, []byte(bin)) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed = append(killed, pid)
				}
				break
			}
		}
	}
	return killed, os.Remove(path)
}

// ExitWithParent asks Linux to send sig to this process when its parent dies: for programs such
// as hack/dev that run under make or go run, so that killing those stops them too (with a
// signal they handle, to clean up).
func ExitWithParent(sig syscall.Signal) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); errno != 0 {
		return errno
	}
	if os.Getppid() == 1 {
		return errors.New("the parent is already gone")
	}
	return nil
}
