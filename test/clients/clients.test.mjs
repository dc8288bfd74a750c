// Real clients against the emulator's browser backend: Playwright (chromium.connectOverCDP) and
// Puppeteer (puppeteer.connect) with a session's connectUrl, and Selenium (selenium-webdriver)
// with its seleniumRemoteUrl and the x-bb-signing-key header, as Browserbase's docs show. The
// emulator runs as hack/emulator --browser=required; each test loads a page from a local HTTP
// server through the session's browser and reads its title.
//
// Where no Chromium is installed the tests skip, saying so, unless EMULATOR_BROWSER_REQUIRED is
// set (.ci/run sets it after installing one): then they fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { Builder } from 'selenium-webdriver';

const repo = resolve(import.meta.dirname, '..', '..');
const apiKey = 'bb_client_tests_key';
const title = 'A page for real clients';
const work = mkdtempSync(join(tmpdir(), 'bb-client-tests-'));

let emulator; // the hack/emulator process
let baseURL; // its API
let pageURL; // the local page
let pageServer;
let skipReason = '';

const hasChromium = ['/usr/lib/chromium/chromium-headless-shell', '/usr/lib/chromium/chromium'].some(existsSync) ||
  ['chromium-headless-shell', 'chromium', 'google-chrome'].some((name) => {
    try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
  });
const hasChromedriver = (() => {
  try { execFileSync('which', ['chromedriver'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

before(async () => {
  if (!hasChromium) {
    if (process.env.EMULATOR_BROWSER_REQUIRED) throw new Error('no Chromium installed, and EMULATOR_BROWSER_REQUIRED is set');
    skipReason = 'SKIP: no Chromium installed (apt-get install chromium-headless-shell): real-client tests not run';
    console.log(skipReason);
    return;
  }
  const bin = join(work, 'emulator');
  execFileSync('go', ['build', '-o', bin, './hack/emulator'], { cwd: repo, stdio: 'inherit' });
  emulator = spawn(bin, ['--listen', '127.0.0.1:0', '--browser', 'required', '--exit-with-parent',
    '--key', `${apiKey}=client-tests,concurrency=10`], {
    // The browsers' profiles go to our own directory, so the test can check none is left.
    env: { ...process.env, TMPDIR: work },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  baseURL = await new Promise((ok, fail) => {
    let out = '';
    emulator.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/^BROWSERBASE_BASE_URL=(\S+)\n/);
      if (m) ok(m[1]);
    });
    emulator.on('exit', (code) => fail(new Error(`the emulator exited (${code}) before listening`)));
  });
  pageServer = createServer((_, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><title>${title}</title><p>hello</p>`);
  });
  await new Promise((ok) => pageServer.listen(0, '127.0.0.1', ok));
  pageURL = `http://127.0.0.1:${pageServer.address().port}/`;
});

after(async () => {
  if (emulator) {
    const exited = new Promise((ok) => emulator.on('exit', ok));
    emulator.kill('SIGTERM');
    await exited;
    // No browser outlives the emulator, and their profiles are gone.
    const profiles = readdirSync(work).filter((n) => n.startsWith('bb-emulator-browser-'));
    const running = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(work); } catch { return false; }
    });
    assert.deepEqual(running, [], `processes still running with profiles in ${work}`);
    assert.deepEqual(profiles, [], 'profile directories left behind');
  }
  pageServer?.close();
  rmSync(work, { recursive: true, force: true });
});

async function createSession(body = {}) {
  const res = await fetch(`${baseURL}/v1/sessions`, {
    method: 'POST',
    headers: { 'X-BB-API-Key': apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, `create: ${res.status} ${res.status === 201 ? "" : await res.clone().text()}`);
  return res.json();
}

async function statusOf(id) {
  const res = await fetch(`${baseURL}/v1/sessions/${id}`, { headers: { 'X-BB-API-Key': apiKey } });
  return (await res.json()).status;
}

// eventually polls until cond() is true, for up to 30 s.
async function eventually(cond, what) {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.fail(`never: ${what}`);
}

test('Playwright connectOverCDP with connectUrl (ws) and with its http form', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const session = await createSession();
  assert.match(session.connectUrl, /^ws:\/\/127\.0\.0\.1:\d+\/\?signingKey=/);
  // Two clients at once: the ws URL as given, and the http URL (Playwright asks /json/version/).
  const first = await chromium.connectOverCDP(session.connectUrl);
  const second = await chromium.connectOverCDP(session.connectUrl.replace(/^ws:/, 'http:'));
  for (const browser of [first, second]) {
    const context = browser.contexts()[0] ?? await browser.newContext();
    const page = await context.newPage();
    await page.goto(pageURL);
    assert.equal(await page.title(), title);
    await page.close();
  }
  await first.close(); // over CDP this closes the connection only
  assert.equal(await statusOf(session.id), 'RUNNING', 'the session ended while a client was still connected');
  await second.close();
  // Without keepAlive, the last disconnect ends the session, as Browserbase's does.
  await eventually(async () => (await statusOf(session.id)) === 'COMPLETED', 'COMPLETED after the last disconnect');
  await assert.rejects(chromium.connectOverCDP(session.connectUrl, { timeout: 10000 }), 'an ended session accepted a client');
});

test('Puppeteer connect, and browser.close() ends the session', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const session = await createSession({ keepAlive: true });
  const browser = await puppeteer.connect({ browserWSEndpoint: session.connectUrl });
  const page = await browser.newPage();
  await page.goto(pageURL);
  assert.equal(await page.title(), title);
  await browser.close(); // sends Browser.close: Chromium exits
  await eventually(async () => (await statusOf(session.id)) === 'COMPLETED', 'COMPLETED after browser.close()');
});

test('Selenium with seleniumRemoteUrl and x-bb-signing-key', async (t) => {
  if (skipReason) return t.skip(skipReason);
  if (!hasChromedriver) {
    if (process.env.EMULATOR_BROWSER_REQUIRED) assert.fail('no chromedriver installed, and EMULATOR_BROWSER_REQUIRED is set');
    console.log('SKIP: no chromedriver installed (apt-get install chromium-driver): Selenium not tested');
    return t.skip('no chromedriver');
  }
  const session = await createSession({ keepAlive: true });
  // Browserbase's documented way to send the signing key with every WebDriver call.
  const agent = new http.Agent({});
  agent.addRequest = (req, options) => {
    req.setHeader('x-bb-signing-key', session.signingKey);
    http.Agent.prototype.addRequest.call(agent, req, options);
  };
  const driver = await new Builder().forBrowser('chrome').usingHttpAgent(agent).usingServer(session.seleniumRemoteUrl).build();
  try {
    await driver.get(pageURL);
    assert.equal(await driver.getTitle(), title);
  } finally {
    await driver.quit();
  }
  assert.equal(await statusOf(session.id), 'RUNNING', 'ending the WebDriver session must leave the browser running');
});
