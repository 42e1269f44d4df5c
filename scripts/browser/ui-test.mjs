// The web page in a real browser (Debian's chromium driven by playwright-core), against a
// running provis: upload a fixture zip through the page and watch its job reach `done`, check
// the overview's numbers against the API, the graph's drawn nodes and its highlighted cycle,
// a file view and a link from it, a deep link reloaded, the back button, a refused zip's
// error code, and a stream that resumes after a dropped connection. Fails on any console
// error or failed request. Screenshots of each view go to OUT_DIR.
//   node ui-test.mjs <base-url> <out-dir> <fixture.zip> <unsafe.zip>
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const [base, outDir, zip, badZip] = process.argv.slice(2);
if (!badZip) { console.error('usage: node ui-test.mjs <base-url> <out-dir> <fixture.zip> <unsafe.zip>'); process.exit(2); }
fs.mkdirSync(outDir, { recursive: true });

const problems = [];
let expectRefusal = false;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
// Chrome reports every 4xx answer as a console error; the refused upload is the one the test
// asks for (and checks on the page), so only that one is expected.
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (expectRefusal && m.location().url.endsWith('/ingest') && m.text().includes('400')) return;
  problems.push(`console error: ${m.text()} (${m.location().url})`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('requestfailed', (r) => {
  // The event stream the test breaks on purpose, and streams cut by navigating away, are not failures.
  if (!r.url().includes('/events')) problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
});
page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/ingest')) problems.push(`HTTP ${r.status()} for ${r.url()}`); });

const api = async (p) => { const r = await fetch(base + p); assert.equal(r.status, 200, `${p}: ${r.status}`); return r.json(); };
const shot = (name) => page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: false });
const step = (name) => console.log(`[ui-test] ${name}`);
const text = async (sel) => (await page.locator(sel).innerText()).trim();
const num = async (sel) => Number((await text(sel)).replace(/[^0-9]/g, ''));

try {
  step('home page, upload through the page');
  await page.goto(base + '/');
  await page.waitForSelector('#drop');
  await page.setInputFiles('#zip-input', zip);
  await page.waitForURL(/#\/jobs\//);
  const jobId = page.url().split('#/jobs/')[1];
  step(`watching job ${jobId}`);
  await page.waitForSelector('#job[data-phase="done"]', { timeout: 120_000 });
  await page.waitForSelector('#job[data-stream="ended"]', { timeout: 30_000 });
  const status = await api(`/status/${jobId}`);
  assert.equal(status.phase, 'done');
  assert.equal(await num('#job-pct'), 100);
  assert.equal(await num('[data-k="files-discovered"] b'), status.filesDiscovered);
  const logLines = await page.locator('#job-log div').count();
  assert.ok(logLines >= 4, `the event log shows the job's events (${logLines})`);
  assert.match(await text('#job-log'), /done/);
  await shot('1-job');

  step('the stream resumes with Last-Event-ID after a dropped connection');
  // The next stream the page opens is cut after its third message (as a network blip would
  // cut it): the page must reconnect with Last-Event-ID and show every event exactly once.
  const all = await page.locator('#job-log div').count();
  let cutAfter = null;
  await page.route('**/jobs/*/events', async (route) => {
    const resp = await route.fetch();
    const blocks = (await resp.text()).split('\n\n').filter((b) => b.includes('data:'));
    cutAfter = blocks[2].match(/^id: (\d+)/m)[1];
    await route.fulfill({ status: 200, headers: resp.headers(), body: blocks.slice(0, 3).map((b) => `${b}\n\n`).join('') });
  }, { times: 1 });
  const resumed = page.waitForRequest((r) => r.url().includes('/events') && r.headers()['last-event-id'] !== undefined, { timeout: 15_000 });
  await page.reload();
  const req = await resumed;
  assert.equal(req.headers()['last-event-id'], cutAfter, 'resumes after the last event it saw');
  await page.waitForSelector('#job[data-stream="ended"]', { timeout: 30_000 });
  const ids = (await page.locator('#job-log div').allInnerTexts()).map((l) => l.split(' ')[0]);
  assert.equal(new Set(ids).size, ids.length, 'no event shown twice after the reconnect');
  assert.equal(ids.length, all, 'every event shown once the stream resumed');
  console.log(`[ui-test] cut after event ${cutAfter}, resumed with Last-Event-ID ${req.headers()['last-event-id']}; ${ids.length} events`);

  step('overview: numbers against the API');
  await page.click('#open-overview');
  await page.waitForSelector('#overview-stats');
  const repoId = status.repoId; const snapId = status.snapshotId;
  const graph = await api(`/repo/${repoId}/graph?snapshot_id=${snapId}`);
  const tree = await api(`/repo/${repoId}/tree?snapshot_id=${snapId}`);
  const caps = await api(`/repo/${repoId}/capabilities?snapshot_id=${snapId}`);
  assert.equal(await num('[data-k="files"] b'), tree.totalFiles);
  assert.equal(await num('[data-k="internal"] b'), graph.metrics.internal);
  assert.equal(await num('[data-k="external"] b'), graph.metrics.external);
  assert.equal(await num('[data-k="unresolved"] b'), graph.metrics.unresolvedLocal);
  assert.equal(await num('[data-k="cycles"] b'), graph.metrics.cycles.length);
  assert.equal(await num('[data-k="capabilities"] b'), caps.capabilities.length);
  const metrics = await api(`/repo/${repoId}/metrics?snapshot_id=${snapId}`);
  assert.equal(await num('[data-k="warnings"] b'), metrics.warningsCount);
  assert.equal(await page.locator('#hubs li').count(), graph.metrics.topHubs.length);
  for (const [lang, n] of Object.entries(tree.languages)) {
    assert.equal(Number((await text(`tr[data-lang="${lang}"] td.num`)).replace(/,/g, '')), n, `files in ${lang}`);
  }
  assert.ok(graph.metrics.cycles.length >= 1, 'the fixture has an import cycle');
  assert.ok(graph.metrics.unresolvedLocal >= 1, 'the fixture has an unresolved import');
  assert.equal(await page.locator('#capabilities [data-capability]').count(), caps.capabilities.length);
  await shot('2-overview');

  step('repositories list (GET /repos) and snapshots');
  const repos = await api('/repos');
  await page.goto(base + '/#/');
  await page.waitForSelector('#repos table');
  assert.equal(await page.locator('#repos tbody tr').count(), repos.repos.length);
  await page.click(`#repos a[href="#/repos/${repoId}"]`);
  await page.waitForSelector('main[data-view="repo"] table');
  const snaps = await api(`/repos/${repoId}/snapshots`);
  assert.equal(await page.locator('main tbody tr').count(), snaps.snapshots.length);
  await shot('3-repository');
  await page.goBack();
  await page.waitForSelector('#repos table');
  assert.ok(page.url().endsWith('#/'), `back returns home: ${page.url()}`);

  step('graph: drawn nodes and a highlighted cycle');
  await page.goto(`${base}/#/repos/${repoId}/snapshots/${snapId}/graph`);
  await page.waitForSelector('#cy[data-ready="true"]');
  const drawn = Number(await page.getAttribute('#cy', 'data-drawn-nodes'));
  assert.ok(drawn >= 3 && drawn <= 2500, `drawn nodes: ${drawn}`);
  const cycle = graph.metrics.cycles[0];
  await page.click('#graph-cycles button.cycle');
  await page.waitForFunction(() => Number(document.querySelector('#cy').dataset.cycleEdges) >= 1);
  const cycleNodes = Number(await page.getAttribute('#cy', 'data-cycle-nodes'));
  const cycleEdges = Number(await page.getAttribute('#cy', 'data-cycle-edges'));
  assert.equal(cycleNodes, cycle.length, 'each file of the cycle is drawn, marked');
  assert.ok(cycleEdges >= cycle.length, `the cycle's edges are red (${cycleEdges})`);
  assert.match(page.url(), /cycle=0/);
  await shot('4-graph-cycle');
  // Search a file, see its imports and importers.
  await page.fill('#graph-search', cycle[0]);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#graph-selection h2.mono');
  assert.equal(await text('#graph-selection h2.mono'), cycle[0]);
  assert.match(await text('#graph-selection'), /Imported by \(\d+\)/);
  step('external packages on demand');
  const nodesNoExt = Number(await page.getAttribute('#cy', 'data-drawn-nodes'));
  await page.check('#graph-ext');
  await page.waitForFunction((n) => Number(document.querySelector('#cy').dataset.drawnNodes) > n, nodesNoExt);
  await shot('5-graph-packages');

  step('file view and a link along the graph');
  await page.click('#open-file');
  await page.waitForSelector('#file-path');
  assert.equal(await text('#file-path'), cycle[0]);
  const files = await api(`/repo/${repoId}/files?snapshot_id=${snapId}`);
  const rec = files.files.find((f) => f.path === cycle[0]);
  assert.match(await text('main'), new RegExp(`Imports \\(${rec.imports.length}\\)`));
  assert.match(await text('main'), new RegExp(`Functions \\(${rec.functions.length}\\)`));
  await shot('6-file');
  const target = await page.locator('a.import-link').first().innerText();
  await page.locator('a.import-link').first().click();
  await page.waitForFunction((t) => document.querySelector('#file-path') && document.querySelector('#file-path').textContent === t, target);
  step(`followed an import to ${target}; reload the deep link`);
  const deep = page.url();
  await page.reload();
  await page.waitForSelector('#file-path');
  assert.equal(await text('#file-path'), target);
  assert.equal(page.url(), deep);
  await page.goBack();
  await page.waitForFunction((t) => document.querySelector('#file-path') && document.querySelector('#file-path').textContent === t, cycle[0]);

  step('routes and capabilities tables link to files');
  await page.goto(`${base}/#/repos/${repoId}/snapshots/${snapId}/routes`);
  await page.waitForSelector('#routes-table');
  const routeCount = files.files.reduce((n, f) => n + f.routes.length, 0);
  assert.equal(await page.locator('#routes-table tbody tr').count(), routeCount);
  await shot('7-routes');
  await page.locator('#routes-table tbody a').first().click();
  await page.waitForSelector('#file-path');
  await page.goto(`${base}/#/repos/${repoId}/snapshots/${snapId}/capabilities`);
  await page.waitForSelector('main table tbody tr');
  assert.equal(await page.locator('main table tbody tr').count(), caps.capabilities.length);
  await shot('8-capabilities');

  step('keyboard: the upload control and the views are reachable with Tab');
  await page.goto(base + '/#/');
  await page.waitForSelector('#drop');
  const reached = [];
  for (let i = 0; i < 12; i += 1) { await page.keyboard.press('Tab'); reached.push(await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim().slice(0, 20)))); }
  assert.ok(reached.includes('pick-zip'), `Tab reaches the zip picker: ${reached.join(' | ')}`);

  step('a refused zip shows its error code');
  expectRefusal = true;
  await page.setInputFiles('#zip-input', badZip);
  await page.waitForSelector('#upload-error');
  const code = await page.getAttribute('#upload-error', 'data-code');
  assert.ok(code && code !== 'network' && !code.startsWith('http_'), `a rule's code: ${code}`);
  await shot('9-refused');
  console.log(`[ui-test] refused with ${code}`);
} catch (err) {
  await shot('failure').catch(() => {});
  problems.unshift(`${err.stack || err}`);
}
await browser.close();
if (problems.length) {
  console.error(`[ui-test] FAILED:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('[ui-test] ok');
