// The admin console in a real browser (Debian's Chromium, driven by playwright-core): starts the
// built server in testing mode on free loopback ports, gives it data through its API (clients
// that ping and submit, two campaigns, one of them named like a script, jobs run as of chosen
// times), then goes through every page the console offers: each renders under its CSP with no
// violation and no script, charts have their points, a campaign named `<script>alert(1)</script>`
// shows as text, the run-now forms run a job (the jobs page's at a chosen time, after which its
// history shows the run), an unknown campaign gets an error page, changing the level to DEBUG
// makes a DEBUG line appear in the server's log. Saves a screenshot of each page in a folder it
// prints.
//
// Usage (from the repository root, after `cargo build`): node tests/browser/console.mjs
// Environment: PDD_SERVER_BIN (default target/debug/pdd-server), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOTS (default target/browser-screenshots).

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BIN = process.env.PDD_SERVER_BIN || path.join(ROOT, 'target/debug/pdd-server');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(process.env.SCREENSHOTS || path.join(ROOT, 'target/browser-screenshots'));
const TOKEN = 'browser-test-token-5d1c';
const ZONE = 'Europe/London';
const XSS = '<script>alert(1)</script>';
const DEADLINE_MS = 120_000;

const started = Date.now();
let passed = 0;
const failures = [];

function check(what, ok, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`ok   ${what}`);
  } else {
    failures.push(what);
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
}

function fatal(message) {
  console.error(`browser test: FATAL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

// ---- the server

function startServer() {
  const args = [
    '-http.port=127.0.0.1:0',
    '-admin.port=127.0.0.1:0',
    `-api.access_token=${TOKEN}`,
    `-timezone=${ZONE}`,
    '-testing_mode',
    '-http.rate_limit.register=0',
    '-http.rate_limit.ping=0',
  ];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  const server = { child, lines: [], http: null, admin: null, exited: null };
  let listening;
  const ready = new Promise((resolve, reject) => { listening = { resolve, reject }; });
  const collect = (stream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop();
      for (const line of parts) {
        server.lines.push(line);
        const m = line.match(/listening http=(\S+) admin=(\S+)/);
        if (m) {
          server.http = `http://${m[1]}`;
          server.admin = `http://${m[2]}`;
          listening.resolve();
        }
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  child.on('error', (e) => listening.reject(e));
  child.on('exit', (code, signal) => {
    server.exited = { code, signal };
    listening.reject(new Error(`the server exited (${code ?? signal}) before listening:\n${server.lines.join('\n')}`));
  });
  const timeout = setTimeout(() => listening.reject(new Error('the server did not say where it listens in 20 s')), 20_000);
  server.ready = ready.finally(() => clearTimeout(timeout));
  return server;
}

async function stopServer(server) {
  if (server.exited) return server.exited;
  const exited = new Promise((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

async function call(method, url, body, { token = false, expect } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${TOKEN}`;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (expect !== undefined && res.status !== expect) {
    fatal(`${method} ${url} answered ${res.status}, expected ${expect}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

/// Local `HH:MM` of an instant in the reference zone.
function localHourMinute(iso) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(iso));
}

async function clockNow(server) {
  return (await call('GET', `${server.admin}/admin`, undefined, { expect: 200 })).now;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Data through the API: the dashboard's campaigns, extensions that register, ping and submit
/// raw counts, the nightly jobs run as of tomorrow (sketches) and the day after (aggregation).
async function seed(server) {
  // The clock runs 288 times fast: keep "today" from changing during the seeding.
  let now = await clockNow(server);
  while (localHourMinute(now) >= '23:15') {
    await sleep(1000);
    now = await clockNow(server);
  }
  const yesterday = new Date(Date.parse(now) - 86_400_000).toISOString();
  const api = (p) => `${server.http}${p}`;
  const flu = await call('POST', api('/api/campaigns'), {
    displayName: 'Flu watch',
    vocabulary: { queries: [{ exact: 'flu' }, { terms: ['fever', 'cough'] }, { exact: 'cold' }] },
    startTime: yesterday,
    groupSize: 3,
    collectEncrypted: false,
    collectRaw: true,
  }, { token: true, expect: 201 });
  const xss = await call('POST', api('/api/campaigns'), {
    displayName: XSS,
    vocabulary: { queries: [{ exact: '<img src=x onerror=alert(2)>' }, { terms: ['"quoted"', 'a&b'] }] },
    startTime: yesterday,
    groupSize: 3,
    collectEncrypted: false,
    collectRaw: true,
  }, { token: true, expect: 201 });
  const clients = [];
  for (let i = 0; i < 24; i += 1) {
    const c = await call('POST', api('/api/clients'), { publicKey: `04${i.toString(16).padStart(62, '0')}`, browser: 'chromium' }, { expect: 201 });
    await call('POST', api(`/api/clients/${c.name}/ping`), { extensionVersion: `1.${i % 3}.0`, timezone: ZONE }, { expect: 200 });
    clients.push(c.name);
  }
  now = await clockNow(server);
  const created = await call('POST', `${server.admin}/admin/jobs/create-sketches?at=${Date.parse(now) + 86_400_000}`, undefined, { expect: 200 });
  if (!(created.created > 0)) fatal(`create-sketches created nothing: ${JSON.stringify(created)}`);
  let submitted = 0;
  for (const [i, name] of clients.entries()) {
    const pong = await call('POST', api(`/api/clients/${name}/ping`), { extensionVersion: `1.${i % 3}.0`, timezone: ZONE }, { expect: 200 });
    for (const cmd of pong.submit) {
      if (i % 5 === 4) continue; // some never submit
      const n = cmd.vocabulary.queries.length;
      const counts = [10 + i, ...Array.from({ length: n }, (_, k) => (i + k) % 4)];
      await call('PATCH', api(`/api/sketches/${cmd.sketchName}`), { rawValues: counts }, { expect: 204 });
      submitted += 1;
    }
  }
  if (submitted === 0) fatal('no sketch was submitted');
  now = await clockNow(server);
  const aggregated = await call('POST', `${server.admin}/admin/jobs/aggregate-sketches?at=${Date.parse(now) + 2 * 86_400_000}`, undefined, { expect: 200 });
  if (!(aggregated.aggregated > 0)) fatal(`aggregate-sketches aggregated nothing: ${JSON.stringify(aggregated)}`);
  // Garbage collection as of tomorrow night counts today's clients for the clients page.
  const collected = await call('POST', `${server.admin}/admin/jobs/collect-garbage?at=${Date.parse(now) + 86_400_000}`, undefined, { expect: 200 });
  if (!(collected.clientDays >= 1)) fatal(`collect-garbage counted no day: ${JSON.stringify(collected)}`);
  // Some refused requests, so that the error lines of the charts have something.
  for (let i = 0; i < 5; i += 1) {
    await call('GET', api('/api/stats'));
    await call('GET', api('/api/clients/no-such-client/ping'));
  }
  console.log(`seeded: 2 campaigns, ${clients.length} clients, ${created.created} sketches, ${submitted} submitted, ${aggregated.aggregated} days aggregated, ${collected.clientDays} days of clients counted`);
  return { flu: flu.name, xss: xss.name, client: clients[0] };
}

// ---- the browser

async function visit(page, server, pathName, name, violations, status = 200) {
  violations.length = 0;
  const res = await page.goto(`${server.admin}${pathName}`, { waitUntil: 'load' });
  check(`${name}: ${status}`, res && res.status() === status, res ? `${res.status()}` : 'no response');
  const csp = res ? (await res.allHeaders())['content-security-policy'] || '' : '';
  check(`${name}: strict CSP`, csp.includes("default-src 'none'") && csp.includes("style-src 'self'"), csp);
  const facts = await page.evaluate(() => ({
    scripts: document.scripts.length,
    h1: document.querySelector('h1')?.textContent ?? '',
    styled: getComputedStyle(document.querySelector('header')).backgroundColor,
    circles: document.querySelectorAll('svg circle.pt').length,
    bars: document.querySelectorAll('svg rect.bar').length,
    sparkPoints: [...document.querySelectorAll('svg.spark polyline')].map((p) => p.points.numberOfItems),
    text: document.body.innerText,
  }));
  check(`${name}: no script in the page`, facts.scripts === 0, `${facts.scripts}`);
  check(`${name}: the stylesheet applies`, facts.styled === 'rgb(29, 36, 48)', facts.styled);
  const shot = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  check(`${name}: no CSP violation`, violations.length === 0, violations.join(' | '));
  return facts;
}

async function browse(server, names) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const violations = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
    page.on('dialog', async (d) => { violations.push(`a dialog opened: ${d.message()}`); await d.dismiss(); });
    page.on('requestfailed', (r) => violations.push(`request failed: ${r.url()}`));
    page.on('request', (r) => { if (!r.url().startsWith(server.admin)) violations.push(`request elsewhere: ${r.url()}`); });

    let f = await visit(page, server, '/admin', 'overview', violations);
    check('overview: the traffic chart has points', f.circles >= 6, `${f.circles}`);
    check('overview: the per-route chart has bars', f.bars >= 2, `${f.bars}`);
    check('overview: storage answers', f.text.includes('memory — answers'));

    f = await visit(page, server, '/admin/metrics', 'metrics', violations);
    const drawn = f.sparkPoints.filter((n) => n >= 3).length;
    check('metrics: sparklines have points', f.sparkPoints.length >= 10 && drawn >= 10, `${drawn} of ${f.sparkPoints.length} with 3 points or more`);

    f = await visit(page, server, '/admin/campaigns', 'campaigns', violations);
    check('campaigns: the script-named campaign shows as text', f.text.includes(XSS));
    check('campaigns: both listed', f.text.includes('Flu watch'));

    f = await visit(page, server, `/admin/campaigns/${names.flu}`, 'campaign-flu', violations);
    check('campaign: the per-day chart has points', f.circles >= 3, `${f.circles}`);

    f = await visit(page, server, `/admin/campaigns/${names.xss}`, 'campaign-script', violations);
    check('campaign: the title is the script as text', f.h1 === `Campaign ${XSS}`, f.h1);
    check('campaign: hostile queries as text', f.text.includes('<img src=x onerror=alert(2)>'));

    for (const p of ['/admin/jobs', '/admin/clients']) {
      check(`navigation links ${p}`, (await page.locator(`header nav a[href="${p}"]`).count()) === 1);
    }
    f = await visit(page, server, '/admin/clients', 'clients', violations);
    check('clients: the per-day chart has points', f.circles >= 2, `${f.circles}`);
    check('clients: the versions of the day as bars', f.bars >= 3 && ['1.0.0', '1.1.0', '1.2.0'].every((v) => f.text.includes(v)), `${f.bars}`);
    const clients = await call('GET', `${server.admin}/admin/clients`, undefined, { expect: 200 });
    const today = clients.days[clients.days.length - 1];
    check('clients: today counted with the 24 seeded clients active', today && today.active === 24 && today.registrations === 24, JSON.stringify(today));
    check('clients: no client name on the page', !f.text.includes(names.client), names.client);

    // The jobs page: the seeding's runs, then one more through its own form at a chosen time.
    f = await visit(page, server, '/admin/jobs', 'jobs', violations);
    check('jobs: charts of durations have points', f.circles >= 4, `${f.circles}`);
    check('jobs: the seeding runs are listed', f.text.includes('created') && f.text.includes('aggregated') && f.text.includes('clientDays'));
    const form = page.locator('form[action="/admin/jobs/prune-clients"]');
    const offered = await form.locator('input[name="at"]').inputValue();
    const chosen = new Date(Date.parse(offered) - 86_400_000).toISOString();
    await form.locator('input[name="at"]').fill(chosen);
    await Promise.all([page.waitForURL(`${server.admin}/admin/jobs/prune-clients`), form.locator('button').click()]);
    const report = await page.locator('body').innerText();
    check('jobs: the form ran the job as of the chosen time', report.includes(`prune-clients ran as of ${chosen}`), report);
    f = await visit(page, server, '/admin/jobs', 'jobs-after-run', violations);
    const history = await call('GET', `${server.admin}/admin/jobs`, undefined, { expect: 200 });
    const prune = history.jobs.find((j) => j.job === 'prune-clients');
    const run = prune.runs.find((r) => r.firing === chosen);
    check('jobs: the history then shows the run', Boolean(run) && run.outcome === 'ok' && run.counts.pruned === 0 && run.instance.split('/').length === 3, JSON.stringify(prune.runs.slice(0, 3)));
    const localFiring = new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(chosen));
    check('jobs: the page lists it', f.text.includes(localFiring), localFiring);

    // An unknown campaign: a page saying so, under the same CSP.
    f = await visit(page, server, '/admin/campaigns/no-such-campaign', 'error-404', violations, 404);
    check('error: the page says not found', f.h1 === '404 Not Found' && f.text.includes('not found'), f.h1);

    // The run-now form of the overview.
    await visit(page, server, '/admin', 'overview-before-run', violations);
    await page.locator('form[action="/admin/jobs/prune-clients"] button').click();
    await page.waitForLoadState('load');
    const ran = await page.locator('body').innerText();
    check('run now: the job ran and says what it did', ran.includes('prune-clients ran as of') && ran.includes('pruned'), ran);
    await page.screenshot({ path: path.join(SHOTS, 'run-now.png'), fullPage: true });

    // The level: DEBUG through the form, and a DEBUG line appears in the server's log.
    f = await visit(page, server, '/admin/logging', 'logging', violations);
    check('logging: INFO at start', f.text.includes('Current level: INFO'), f.text);
    const before = server.lines.length;
    const debugBefore = server.lines.filter((l) => / DEBUG /.test(l)).length;
    await page.selectOption('select[name="level"]', 'DEBUG');
    await Promise.all([page.waitForURL(`${server.admin}/admin/logging`), page.locator('form button').click()]);
    const shown = await page.locator('body').innerText();
    check('logging: DEBUG shown after the change', shown.includes('Current level: DEBUG'), shown);
    await page.screenshot({ path: path.join(SHOTS, 'logging-debug.png'), fullPage: true });
    await page.goto(`${server.admin}/admin/metrics`);
    let debugLine = null;
    for (let i = 0; i < 50 && !debugLine; i += 1) {
      debugLine = server.lines.slice(before).find((l) => / DEBUG /.test(l));
      if (!debugLine) await sleep(100);
    }
    check('logging: no DEBUG line before the change', debugBefore === 0, `${debugBefore}`);
    check('logging: a DEBUG line in the log after the change', Boolean(debugLine), server.lines.slice(before).join('\n'));
    check('logging: the change itself logged', server.lines.slice(before).some((l) => l.includes('log level changed from the admin interface')));
    if (debugLine) console.log(`     ${debugLine}`);
  } finally {
    await browser.close();
  }
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const watchdog = setTimeout(() => { console.error('browser test: FATAL: over the time limit'); process.exit(1); }, DEADLINE_MS);
  const server = startServer();
  let exit = null;
  try {
    await server.ready;
    console.log(`server: API ${server.http}, admin ${server.admin}`);
    const names = await seed(server);
    // Let the history take a few more samples (one a clock minute: 0.21 s in testing mode).
    await sleep(2000);
    await browse(server, names);
  } finally {
    exit = await stopServer(server);
    clearTimeout(watchdog);
  }
  check('the server stops cleanly', exit && exit.code === 0, JSON.stringify(exit));
  console.log(`screenshots: ${SHOTS}`);
  console.log(`browser test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`browser: ${passed} passed, ${failures.length} failed`);
  if (failures.length > 0) {
    console.log(`server log (last 40 lines):\n${server.lines.slice(-40).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`browser test: FATAL: ${e.stack || e}`);
  process.exit(1);
});
