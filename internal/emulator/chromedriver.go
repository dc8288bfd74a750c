package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// chromedriver is a chromedriver attached to a session's browser, for Selenium.
type chromedriver struct {
	cmd      *exec.Cmd
	addr     string // 127.0.0.1:<port>
	stopOnce sync.Once
}

// startChromedriver runs chromedriver on a free loopback port, with the same process
// attributes as the browser.
func startChromedriver(bin string, timeout time.Duration) (*chromedriver, error) {
	cmd := exec.Command(bin, "--port=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting chromedriver: %w", err)
	}
	d := &chromedriver{cmd: cmd}
	port := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		sent := false
		for lines.Scan() {
			// "ChromeDriver was started successfully on port 34567."
			if _, p, ok := strings.Cut(lines.Text(), "started successfully on port "); ok && !sent {
				port <- strings.TrimSuffix(strings.TrimSpace(p), ".")
				sent = true
			}
		}
		_ = cmd.Wait()
		if !sent {
			close(port)
		}
	}()
	select {
	case p, ok := <-port:
		if !ok {
			return nil, errors.New("chromedriver exited without saying its port")
		}
		d.addr = "127.0.0.1:" + p
		return d, nil
	case <-time.After(timeout):
		d.stop()
		return nil, errors.New("chromedriver did not start in time")
	}
}

// stop kills chromedriver's process group. Safe to call more than once: the group is killed
// once, so a later call cannot hit a process group that reused its id.
func (d *chromedriver) stop() {
	d.stopOnce.Do(func() {
		if d.cmd.Process != nil {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			_ = d.cmd.Process.Kill()
		}
	})
}
