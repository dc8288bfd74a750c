// Package emulator is an in-memory Browserbase API v1, served as an http.Handler: sessions
// (create, get, list with the status and q filters, release, debug URLs), contexts (create, get,
// update, delete), the key's project and its usage, API keys that belong to projects with
// concurrency and creation-rate limits, sessions that may start PENDING and that time out at
// expiresAt, and fault knobs (latency, 5xx answers, a create that commits and then fails or drops
// the connection). It follows the contract in the operator's docs and shares no code with the
// operator's client, so tests of one check the other. Time passes lazily: statuses change when
// something reads them, never in the background.
//
// # Files
//
// One file a concern, and each test file mirrors its source file:
//
//	server.go             Server, New, ServeHTTP: authentication, the error-rate and latency
//	                      faults, routing
//	types.go              the records: Project, Session, sessionExtra
//	settings.go           AddKey, the Set* settings and Reset
//	inspect.go            Sessions, Session, SetSessionStatus, ExpireSession: reading and forcing
//	                      sessions from Go
//	recorder.go           Request, Requests, CountRequests and the recorder of every API call
//	faults.go             Faults, their JSON and Validate, and the late commits of CommitLate
//	sessions.go           the session endpoints: create (decodeCreate, then admit, then commit),
//	                      get, update (release), list; refresh and setStatus, where time passes
//	                      lazily
//	limits.go             admission of a create: concurrency, the browser cap, creation rate (429)
//	query.go              userMetadata: the q filter parser and its serialized length as
//	                      Browserbase counts it
//	resources.go          debug URLs, contexts, projects and usage
//	browser_backend.go    the browser backend: BrowserOptions, EnableBrowsers, Close, BrowserPIDs,
//	                      startBrowser (a session's browser and its end), retire (stopping
//	                      browsers and the cap), stale profiles
//	browser_discovery.go  FindChromium, FindChromedriver: which binaries are installed
//	browser_launch.go     one headless Chromium: launch, DevToolsActivePort, stop, its process group
//	chromedriver.go       a chromedriver attached to a session's browser, for Selenium
//	connect.go            the connect front door: connectUrl and seleniumRemoteUrl proxied to the
//	                      browser, sessions found by signing key
//	cdp_watch.go          what the front door watches on a CDP connection: the upgrade, and a
//	                      client's Browser.close
//	admin.go              the admin API
//	http.go               writeJSON, writeError and other HTTP helpers
//
// # Admin API
//
// The same handler serves an admin API under /admin/, JSON in and out, for tests and scripts that
// drive the emulator from outside the process. It takes no API key, ignores the faults and is not
// recorded in Requests, so it is for loopback listeners only: anyone who reaches it can read
// every session's signing key.
//
//	GET  /admin/sessions               every session, oldest first, as stored: AdminSession, with
//	                                   connectUrl, signingKey and createBody (the create request)
//	GET  /admin/requests               every API call recorded: Request {time, method, path,
//	                                   query, projectId, status}
//	GET  /admin/faults                 the faults: {"latency":"250ms","errorRate":0.1,
//	                                   "createCommitThenFail":1,"createCommitThenDrop":0,
//	                                   "commitLate":"5s","listLag":"2s"}
//	PUT  /admin/faults                 replace the faults (same shape; latency a Go duration,
//	                                   missing fields zero, unknown fields 400); answers the new value
//	GET  /admin/settings               {"getReturnsConnect":true,"pendingFor":"0s",
//	                                   "concurrencyRetryAfter":"1m0s"}
//	PUT  /admin/settings               change the fields given (the Set* methods); Reset keeps them
//	POST /admin/sessions/{id}/status   {"status":"COMPLETED"}: force a status (SetSessionStatus);
//	                                   answers the session
//	POST /admin/sessions/{id}/expire   time the session out now (ExpireSession); answers the session
//	POST /admin/reset                  forget sessions, contexts, requests, creation windows and
//	                                   faults; keys and settings stay (Reset); answers {}
//
// # A real browser
//
// EnableBrowsers (hack/emulator --browser=off|auto|required) gives each new session its own
// headless Chromium: Debian's chromium-headless-shell when installed (FindChromium), with its own
// --user-data-dir, --no-sandbox when root, DevTools on a loopback port it picks
// (--remote-debugging-port=0, read back from DevToolsActivePort). It is started on create (the
// 201 is sent once it listens) and stopped, with its process group, when the session ends: on
// release, at expiresAt (a timer, so a browser never outlives its timeout even when nobody
// reads), when its last client disconnects from a session without keepAlive (as Browserbase
// documents; an upgrade that failed is no disconnect), and on Close or Reset; its profile
// directory is then removed, and its chromedriver stopped. It runs in its own process group with
// SIGKILL as its parent-death signal, so a SIGKILLed emulator leaves no browser behind (its
// profile directories are removed by the next EnableBrowsers). A client's Browser.close
// (Puppeteer's browser.close()) completes the session as the front door passes it on, so a
// reconnect once it is answered gets 410, and the browser has a few seconds to exit by itself; a
// browser that exits otherwise (a crash) completes its session as soon as its process is
// reaped. At most MaxBrowsers (DefaultMaxBrowsers) run at once, counting those still stopping
// and those of late creates (commitLate) yet to commit; a create beyond waits up to 2 s for a
// stopping one, then is answered 429 with Browserbase's concurrency message. auto without a
// Chromium keeps the fake connect URLs.
//
// A session with a browser gets connectUrl ws://<emulator host>/?signingKey=<key>, the real
// one's shape on the host the create came to, and seleniumRemoteUrl http://<emulator host>/webdriver.
// The front door (connect.go) checks the signing key (401), answers an ended session 410 and a
// session without a browser 501, serves /json/version with webSocketDebuggerUrl pointing back at
// itself, and proxies the CDP websocket to the browser with httputil.ReverseProxy (Host and path
// rewritten, query, Origin and Sec-WebSocket-Extensions dropped, so frames stay uncompressed and
// readable: cdp_watch.go). Several clients may connect at once. /webdriver takes
// the key in the x-bb-signing-key header and proxies to a chromedriver (Debian's chromium-driver)
// started for the session and attached to its browser through goog:chromeOptions.debuggerAddress.
//
// # Fault knobs and assumptions
//
// Faults (SetFaults, PUT /admin/faults, hack/emulator flags) make the emulator misbehave on
// purpose: latency before every answer; a share of calls answered 500; the next N creates
// committed and then answered 500 (createCommitThenFail) or dropped (createCommitThenDrop);
// commitLate, which stores such a create only that long after its answer was lost (a create
// finishing behind a timed-out load balancer: the session appears later); and listLag, which
// hides a new session from list (and so from q) until that long after its create, as an
// eventually consistent index would, while GET by id sees it at once.
//
// Where the API's behaviour is unconfirmed, the emulator assumes: releasing a session that
// already ended answers 200 with the session unchanged (status and endedAt as they were), since
// Browserbase's Go client retries release as replay-safe; GET of a session returns the connect
// fields unless SetGetReturnsConnect(false) (PUT /admin/settings {"getReturnsConnect":false},
// --get-returns-connect=false) says otherwise, which is the case the API document allows;
// userMetadata is refused when JSON.stringify of it is 512 characters or more, counted in
// UTF-16 code units as JavaScript counts them (so '<' is one character, not Go's six); and list
// refuses a status filter outside the enum with 400, as the API's schema validation does.
//
// Unknown session ids answer 404 and bad bodies 400, with the API's error shape
// {statusCode, error, message}.
//
// Tests use it through httptest; hack/emulator wraps it in a standalone program.
package emulator
