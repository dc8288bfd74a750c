// Emulator serves the in-memory Browserbase API v1 of internal/emulator on a TCP port, so the
// operator, scripts and SDKs can run against it instead of api.browserbase.com:
//
//	go run ./hack/emulator --listen 127.0.0.1:0 --key bb_dev_key=dev-project,concurrency=3
//
// Once it listens, it prints exactly one line to stdout,
//
//	BROWSERBASE_BASE_URL=http://127.0.0.1:4010
//
// with the port it really got, and writes everything else to stderr. It stops on SIGINT or
// SIGTERM. The admin API under /admin/ (see the package documentation of internal/emulator) needs
// no API key, so keep the listener on loopback.
//
// Flags:
//
//	--listen ADDR                  host:port to listen on (default 127.0.0.1:4010; port 0 picks one)
//	--key KEY=PROJECT_ID[,concurrency=N][,per-minute=N][,default-timeout=SECONDS]
//	                               an API key and its project, repeatable; without any, the key
//	                               bb_emulator_key of project emulator-project (concurrency 25,
//	                               50 creates per minute)
//	--latency D                    delay before every API answer
//	--error-rate R                 share (0..1) of API calls answered 500
//	--create-commit-then-fail N    the next N creates commit the session, then answer 500
//	--create-commit-then-drop N    the next N creates commit the session, then drop the connection
//	--commit-late D                a create whose answer a fault above lost is stored D later
//	--list-lag D                   a new session shows in list (GET /v1/sessions) only D after its create
//	--concurrency-retry-after D    Retry-After of the concurrency 429 (default 60s; 0: none)
//	--pending-for D                new sessions stay PENDING for D before RUNNING (default 0)
//	--browser MODE                 off, auto or required (default off): a headless Chromium per session
//	                               behind connectUrl (see internal/emulator); auto uses one when
//	                               installed, required refuses to start without one
//	--chromium PATH                the browser binary (default: chromium-headless-shell, then chromium)
//	--chromedriver PATH            chromedriver for seleniumRemoteUrl (default: found on PATH)
//	--max-browsers N               most browsers at once; creates beyond are answered 429 (default 8)
//	--exit-with-parent             stop (as on SIGTERM) when the parent process dies, so a test
//	                               or script that is killed leaves no emulator (nor browser) behind
//	--get-returns-connect          GET of a session returns connectUrl and signingKey (default true;
//	                               --get-returns-connect=false answers GET without them, as the
//	                               real API may; PUT /admin/settings changes it at run time)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/browserbase/session-operator/internal/emulator"
)

const (
	defaultKey     = "bb_emulator_key"
	defaultProject = "emulator-project"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		os.Exit(2) // the flag package has printed the error and the usage
	default:
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
}

// usageError is a command line the flag package refused, and has already reported.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// apiKey is one --key: an API key and the project it opens.
type apiKey struct {
	key     string
	project emulator.Project
}

// keyFlags collects the repeated --key flag.
type keyFlags []apiKey

func (k *keyFlags) String() string { return "" }

func (k *keyFlags) Set(v string) error {
	key, p, err := parseKey(v)
	if err != nil {
		return err
	}
	for _, have := range *k {
		if have.key == key {
			return fmt.Errorf("key %q given twice", key)
		}
	}
	*k = append(*k, apiKey{key: key, project: p})
	return nil
}

// parseKey parses KEY=PROJECT_ID[,concurrency=N][,per-minute=N][,default-timeout=SECONDS].
// Unset limits are 0, which the emulator takes as unlimited (concurrency, per-minute) or its
// default of 300 s (default-timeout).
func parseKey(v string) (string, emulator.Project, error) {
	fields := strings.Split(v, ",")
	key, projectID, ok := strings.Cut(fields[0], "=")
	key, projectID = strings.TrimSpace(key), strings.TrimSpace(projectID)
	if !ok || key == "" || projectID == "" {
		return "", emulator.Project{}, fmt.Errorf("--key %q: want KEY=PROJECT_ID[,concurrency=N][,per-minute=N][,default-timeout=SECONDS]", v)
	}
	p := emulator.Project{ID: projectID}
	seen := map[string]bool{}
	for _, opt := range fields[1:] {
		name, value, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok {
			return "", emulator.Project{}, fmt.Errorf("--key for project %s: option %q is not name=value", projectID, opt)
		}
		if seen[name] {
			return "", emulator.Project{}, fmt.Errorf("--key for project %s: %s given twice", projectID, name)
		}
		seen[name] = true
		if name != "concurrency" && name != "per-minute" && name != "default-timeout" {
			return "", emulator.Project{}, fmt.Errorf("--key for project %s: unknown option %q (want concurrency, per-minute or default-timeout)", projectID, name)
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return "", emulator.Project{}, fmt.Errorf("--key for project %s: %s=%q is not a non-negative integer", projectID, name, value)
		}
		switch name {
		case "concurrency":
			p.Concurrency = n
		case "per-minute":
			p.CreatesPerMinute = n
		case "default-timeout":
			if n < 60 || n > 21600 {
				return "", emulator.Project{}, fmt.Errorf("--key for project %s: default-timeout=%d is outside 60..21600 seconds", projectID, n)
			}
			p.DefaultTimeout = n
		}
	}
	return key, p, nil
}

// run serves until ctx ends. It writes the base URL line to stdout and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		keys           keyFlags
		faults         emulator.Faults
		listen         = fs.String("listen", "127.0.0.1:4010", "host:port to listen on; port 0 picks a free port")
		retryAfter     = fs.Duration("concurrency-retry-after", 60*time.Second, "Retry-After of the concurrency 429; 0 sends none")
		pendingFor     = fs.Duration("pending-for", 0, "how long new sessions stay PENDING before RUNNING")
		getRetConnect  = fs.Bool("get-returns-connect", true, "GET of a session returns connectUrl and signingKey")
		browserMode    = fs.String("browser", "off", "a headless Chromium per session behind connectUrl: off, auto (when installed) or required")
		chromium       = fs.String("chromium", "", "the browser binary (default: chromium-headless-shell, then chromium)")
		chromedriver   = fs.String("chromedriver", "", "chromedriver, for seleniumRemoteUrl (default: found on PATH)")
		exitWithParent = fs.Bool("exit-with-parent", false, "stop when the parent process dies (Linux)")
		maxBrowsers    = fs.Int("max-browsers", emulator.DefaultMaxBrowsers, "most browsers running at once; creates beyond are answered 429")
	)
	fs.Var(&keys, "key", "API key and project: KEY=PROJECT_ID[,concurrency=N][,per-minute=N][,default-timeout=SECONDS]; repeatable (default "+defaultKey+"="+defaultProject+",concurrency=25,per-minute=50)")
	fs.DurationVar(&faults.Latency, "latency", 0, "delay before every API answer")
	fs.Float64Var(&faults.ErrorRate, "error-rate", 0, "share (0..1) of API calls answered 500")
	fs.IntVar(&faults.CreateCommitThenFail, "create-commit-then-fail", 0, "the next N creates commit the session, then answer 500")
	fs.IntVar(&faults.CreateCommitThenDrop, "create-commit-then-drop", 0, "the next N creates commit the session, then drop the connection")
	fs.DurationVar(&faults.CommitLate, "commit-late", 0, "a create whose answer a fault lost is stored this long after (0: before the answer)")
	fs.DurationVar(&faults.ListLag, "list-lag", 0, "a new session shows in GET /v1/sessions only this long after its create")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := faults.Validate(); err != nil {
		return err
	}
	if *retryAfter < 0 || *pendingFor < 0 {
		return errors.New("--concurrency-retry-after and --pending-for must not be negative")
	}
	mode, err := emulator.ParseBrowserMode(*browserMode)
	if err != nil {
		return err
	}
	if *maxBrowsers < 1 {
		return errors.New("--max-browsers must be at least 1")
	}
	if *exitWithParent {
		// SIGTERM when the parent dies, handled like any SIGTERM: browsers stopped, profiles removed.
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
			return fmt.Errorf("--exit-with-parent: %w", errno)
		}
	}
	if len(keys) == 0 {
		keys = keyFlags{{key: defaultKey, project: emulator.Project{ID: defaultProject, Concurrency: 25, CreatesPerMinute: 50}}}
	}

	emu := emulator.New()
	for _, k := range keys {
		emu.AddKey(k.key, k.project)
	}
	emu.SetFaults(faults)
	emu.SetConcurrencyRetryAfter(*retryAfter)
	emu.SetPendingFor(*pendingFor)
	emu.SetGetReturnsConnect(*getRetConnect)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	mode, err = emu.EnableBrowsers(emulator.BrowserOptions{Mode: mode, Chromium: *chromium, Chromedriver: *chromedriver, MaxBrowsers: *maxBrowsers})
	if err != nil {
		return err
	}
	defer emu.Close() // stops every browser
	if mode == emulator.BrowserOff && *browserMode == string(emulator.BrowserAuto) {
		log.Warn("no Chromium found: sessions get connect URLs that lead nowhere; install chromium-headless-shell for a real browser")
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	if !addr.IP.IsLoopback() {
		log.Warn("listening beyond loopback: the admin API under /admin/ needs no API key", "listen", addr.String())
	}
	if _, err := fmt.Fprintf(stdout, "BROWSERBASE_BASE_URL=http://%s\n", net.JoinHostPort(host, strconv.Itoa(addr.Port))); err != nil {
		_ = ln.Close()
		return err
	}
	projects := make([]string, 0, len(keys))
	for _, k := range keys {
		projects = append(projects, fmt.Sprintf("%s(concurrency=%d,per-minute=%d)", k.project.ID, k.project.Concurrency, k.project.CreatesPerMinute))
	}
	log.Info("Browserbase emulator serving", "listen", addr.String(), "projects", projects,
		"latency", faults.Latency, "errorRate", faults.ErrorRate,
		"createCommitThenFail", faults.CreateCommitThenFail, "createCommitThenDrop", faults.CreateCommitThenDrop,
		"commitLate", faults.CommitLate, "listLag", faults.ListLag,
		"concurrencyRetryAfter", *retryAfter, "pendingFor", *pendingFor, "getReturnsConnect", *getRetConnect, "browser", mode, "maxBrowsers", *maxBrowsers)

	srv := &http.Server{
		Handler:           emu,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
