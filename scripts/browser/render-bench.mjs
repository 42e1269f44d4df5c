// First render of the graph view in headless chromium (scripts/bench render): for each
// snapshot given, opens the graph's deep link in a fresh browser context (nothing cached) RUNS
// times and reports the time from navigation start to the first drawn frame of the graph
// (fetching the page, its modules and graph.json included), the part of it spent in the view
// (data-render-ms: folder tree, aggregation, layout, draw), the nodes drawn, and the time to
// open the largest drawn folder (a drill-down). Prints one JSON line per snapshot.
//   node render-bench.mjs <base-url> <runs> <label>=<repoId>/<snapshotId> ...
import { chromium } from 'playwright-core';

const [base, runsText, ...targets] = process.argv.slice(2);
const runs = Number(runsText || 3);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
for (const t of targets) {
  const [label, ids] = t.split('=');
  const [repoId, snapId] = ids.split('/');
  const first = []; const view = []; const drill = [];
  let drawn = 0; let files = 0; let errors = [];
  for (let i = 0; i < runs; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${base}/#/repos/${repoId}/snapshots/${snapId}/graph`);
    await page.waitForSelector('#cy[data-ready="true"]', { timeout: 120_000 });
    first.push(await page.evaluate(() => window.provisGraphReady));
    view.push(Number(await page.getAttribute('#cy', 'data-render-ms')));
    drawn = Number(await page.getAttribute('#cy', 'data-drawn-nodes'));
    files = Number((await page.innerText('#graph-counts')).match(/for ([\d,]+) files/)[1].replace(/,/g, ''));
    const folder = page.locator('#closed-folders button').first();
    if (await folder.count()) {
      const t0 = await page.evaluate(() => performance.now());
      await folder.click();
      await page.waitForFunction(() => document.querySelector('#cy').dataset.drawnNodes !== undefined);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      drill.push((await page.evaluate(() => performance.now())) - t0);
    }
    await context.close();
  }
  console.log(JSON.stringify({
    label, files, drawnNodes: drawn, runs,
    firstRenderMs: Math.round(median(first)), firstRenderBestMs: Math.round(Math.min(...first)),
    viewMs: Math.round(median(view)), drillDownMs: drill.length ? Math.round(median(drill)) : null,
    consoleErrors: errors.length,
  }));
}
await browser.close();
