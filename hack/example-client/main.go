// Command example-client is the smallest workload that uses a BrowserSession: it reads the
// session's connect URL from the operator's Secret, connects to the browser over the Chrome
// DevTools Protocol, and asks for its version. Real workloads do the same through Playwright
// (chromium.connectOverCDP), Puppeteer (puppeteer.connect) or Selenium (seleniumRemoteUrl).
//
// With --url it does what a scraper does instead: it opens a tab, loads the page and prints its
// title, through chromedp (Go's CDP client), which connects with the same connectUrl.
//
// It takes the URL from a mounted Secret volume when --connect-url-file is given, re-reading it
// on every connect so that a new session's URL is picked up (volumes see Secret updates;
// environment variables never do), and otherwise from $connectUrl, as `envFrom` sets it.
//
//	envFrom:      [{secretRef: {name: example-browserbase}}]            # sets $connectUrl
//	volumeMounts: [{name: browserbase, mountPath: /etc/browserbase}]    # --connect-url-file /etc/browserbase/connectUrl
//
// With --every it runs as a long-lived workload does: again at that interval until stopped,
// each round reading the connect URL afresh, so a mounted Secret's renewed session is followed
// without a restart. A failed round is logged and the next one tried.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"golang.org/x/net/websocket"
)

func main() {
	file := flag.String("connect-url-file", "", "Read the connect URL from this file (a mounted Secret key) instead of $connectUrl.")
	timeout := flag.Duration("timeout", 30*time.Second, "How long to wait for the browser.")
	page := flag.String("url", "", "Load this page in the browser and print its title (instead of the browser's version).")
	every := flag.Duration("every", 0, "Run again at this interval until stopped, reading the connect URL afresh each time (0: once).")
	flag.Parse()
	log.SetFlags(0)

	for {
		out, err := run(*file, *page, *timeout)
		switch {
		case err != nil && *every == 0:
			log.Fatal(err)
		case err != nil:
			log.Print(err)
		default:
			fmt.Println(out)
		}
		if *every == 0 {
			return
		}
		time.Sleep(*every)
	}
}

func run(file, page string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url, err := connectURL(file)
	if err != nil {
		return "", err
	}
	if page != "" {
		return pageTitle(ctx, url, page)
	}
	return browserVersion(ctx, url)
}

// pageTitle loads page in a new tab of the browser at connectURL and returns its title. Errors
// never carry the URL, which holds the signing key.
func pageTitle(ctx context.Context, connectURL, page string) (string, error) {
	allocCtx, cancelAlloc := remote.NewAllocator(ctx, connectURL, remote.NoModifyURL)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if _, err := chromedp.Run(tabCtx, chromedp.Navigate(page)); err != nil {
		return "", fmt.Errorf("loading %s through the browser: %s", page, redact(err.Error(), connectURL))
	}
	title, err := chromedp.Run(tabCtx, chromedp.Title())
	if err != nil {
		return "", fmt.Errorf("reading the title: %s", redact(err.Error(), connectURL))
	}
	return title, nil
}

// redact removes the connect URL's query (the signing key) from s.
func redact(s, connectURL string) string {
	if _, query, ok := strings.Cut(connectURL, "?"); ok && query != "" {
		s = strings.ReplaceAll(s, query, "REDACTED")
	}
	return s
}

// connectURL reads the URL from the file, else from $connectUrl.
func connectURL(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the connect URL: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if v := os.Getenv("connectUrl"); v != "" {
		return v, nil
	}
	return "", errors.New("no connect URL: mount the BrowserSession's Secret and pass --connect-url-file, or use envFrom to set $connectUrl")
}

// browserVersion sends the CDP command Browser.getVersion and returns the product it answers.
// The URL carries the session's signing key, so errors name only its host.
func browserVersion(ctx context.Context, url string) (string, error) {
	cfg, err := websocket.NewConfig(url, "http://localhost/")
	if err != nil {
		return "", errors.New("the connect URL does not parse")
	}
	conn, err := cfg.DialContext(ctx)
	if err != nil {
		return "", fmt.Errorf("connecting to the browser at %s: %w", cfg.Location.Host, errors.Unwrap(err))
	}
	defer func() { _ = conn.Close() }()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if err := websocket.JSON.Send(conn, map[string]any{"id": 1, "method": "Browser.getVersion"}); err != nil {
		return "", err
	}
	var answer struct {
		ID     int `json:"id"`
		Result struct {
			Product string `json:"product"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := websocket.JSON.Receive(conn, &answer); err != nil {
		return "", err
	}
	if answer.Error != nil {
		return "", fmt.Errorf("the browser answered: %s", answer.Error.Message)
	}
	return answer.Result.Product, nil
}
