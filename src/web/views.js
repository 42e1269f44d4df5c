// The page's views but the graph: home (upload and repositories), a job's live progress, a
// repository's snapshots, and a snapshot's overview, files, file, routes and capabilities.

import { artifact, followEvents, getJson, upload } from './api.js';

/** Makes an element: `h('a', {href}, 'text', child)`; `on*` attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
export function clear(el) { while (el.firstChild) el.firstChild.remove(); }

export const snapHref = (r, s, view, query = '') => `#/repos/${r}/snapshots/${s}/${view}${query ? `?${query}` : ''}`;
export const fileHref = (r, s, path) => `#/repos/${r}/snapshots/${s}/file/${path.split('/').map(encodeURIComponent).join('/')}`;
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : (n ?? '–'));
const when = (t) => (t ? new Date(t).toLocaleString() : '–');
const stat = (key, label, value) => h('div', { class: 'stat', 'data-k': key }, h('b', {}, fmt(value)), h('span', {}, label));
const section = (title, ...body) => h('section', { class: 'card' }, h('h2', {}, title), ...body);

function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', class: /^(#|lines|size|files|line|count|in|out)$/i.test(x) ? 'num' : null }, x)))),
    h('tbody', {}, rows));
}

// ---------------------------------------------------------------- snapshot data

const indexes = new Map();
/** Which artifact kinds a snapshot has (so the page asks only for what exists). */
export function artifactKinds(r, s) {
  const key = `${r}/${s}/kinds`;
  if (!indexes.has(key)) {
    const p = getJson(`/repos/${r}/snapshots/${s}/artifacts`).then((l) => {
      const kinds = new Map();
      for (const a of l.artifacts) if (!kinds.has(a.kind) || kinds.get(a.kind).version < a.version) kinds.set(a.kind, a);
      return kinds;
    });
    p.catch(() => indexes.delete(key));
    indexes.set(key, p);
  }
  return indexes.get(key);
}

async function maybe(r, s, kind) {
  const kinds = await artifactKinds(r, s);
  return kinds.has(kind) ? artifact(r, s, kind) : null;
}

/** The graph with lookups: importers per file, the cycle of each file. */
export function graphIndex(r, s) {
  const key = `${r}/${s}/graphIndex`;
  if (!indexes.has(key)) {
    const p = artifact(r, s, 'graph').then((graph) => {
      const importers = new Map(); const imports = new Map(); const cycleOf = new Map();
      for (const e of graph.edges) {
        if (e.external) continue;
        if (!importers.has(e.to)) importers.set(e.to, []);
        importers.get(e.to).push(e);
        if (!imports.has(e.from)) imports.set(e.from, []);
        imports.get(e.from).push(e);
      }
      (graph.metrics.cycles || []).forEach((c, i) => c.forEach((p2) => cycleOf.set(p2, i)));
      return { graph, importers, imports, cycleOf };
    });
    p.catch(() => indexes.delete(key));
    indexes.set(key, p);
  }
  return indexes.get(key);
}

/** files.json with a path lookup. */
export function filesIndex(r, s) {
  const key = `${r}/${s}/filesIndex`;
  if (!indexes.has(key)) {
    const p = artifact(r, s, 'files').then((files) => ({ files, byPath: new Map(files.files.map((f) => [f.path, f])) }));
    p.catch(() => indexes.delete(key));
    indexes.set(key, p);
  }
  return indexes.get(key);
}

// ---------------------------------------------------------------- home

async function home({ main, alive, navigate }) {
  main.append(h('h1', {}, 'Map a repository'));
  const status = h('div', { id: 'upload-status', role: 'status', 'aria-live': 'polite' });
  const fileInput = h('input', { type: 'file', id: 'zip-input', accept: '.zip,application/zip', class: 'visually-hidden' });
  const repoInput = h('input', { type: 'text', id: 'repo-input', placeholder: 'name (default: the zip name)', 'aria-label': 'Repository name' });
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop a zip of a source repository here, or ',
      h('label', { for: 'zip-input', class: 'button', tabindex: '0', id: 'pick-zip',
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } } }, 'choose a zip'), '.'),
    h('p', {}, repoInput), fileInput, status);
  const start = async (file) => {
    if (!file) return;
    clear(status);
    const bar = h('div', { style: 'width:0%' });
    status.append(h('p', {}, `Uploading ${file.name} (${fmt(file.size)} bytes)…`), h('div', { class: 'progress' }, bar));
    try {
      const acc = await upload(file, repoInput.value.trim(), (f) => { bar.style.width = `${Math.round(f * 100)}%`; });
      navigate(`#/jobs/${acc.jobId}`);
    } catch (err) {
      clear(status);
      status.append(h('div', { class: 'error', role: 'alert', id: 'upload-error', 'data-code': err.code },
        h('strong', {}, `Refused (${err.code})`), `: ${err.message}`,
        err.body && err.body.jobId ? h('p', {}, 'The refusal is recorded in ', h('a', { href: `#/jobs/${err.body.jobId}` }, 'its job'), '.') : null));
    }
  };
  fileInput.addEventListener('change', () => start(fileInput.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); start(e.dataTransfer.files[0]); });
  main.append(drop);

  const list = h('div', { id: 'repos' }, h('p', { class: 'muted' }, 'Loading repositories…'));
  main.append(h('h2', { style: 'margin-top:20px' }, 'Repositories'), list);
  const rows = h('tbody');
  let offset = 0;
  const more = h('button', { type: 'button', class: 'ghost', hidden: true }, 'More');
  const page = async () => {
    const l = await getJson(`/repos?limit=50&offset=${offset}`);
    if (!alive()) return;
    if (offset === 0) {
      clear(list);
      if (!l.total) { list.append(h('p', { class: 'muted' }, 'Nothing uploaded yet.')); return; }
      list.append(h('table', {}, h('thead', {}, h('tr', {}, ['Repository', 'Snapshots', 'Latest', 'Status', ''].map((x) => h('th', { scope: 'col' }, x)))), rows), more);
    }
    for (const r of l.repos) {
      const s = r.latestSnapshot;
      rows.append(h('tr', {},
        h('td', {}, h('a', { href: `#/repos/${r.id}` }, r.name)),
        h('td', { class: 'num' }, r.snapshots),
        h('td', {}, s ? when(s.createdAt) : '–'),
        h('td', {}, s ? h('span', { class: `badge ${s.status}` }, s.status) : '–'),
        h('td', {}, s && s.status === 'completed' ? h('a', { href: snapHref(r.id, s.id, 'overview') }, 'Open') : s && s.jobId ? h('a', { href: `#/jobs/${s.jobId}` }, 'Job') : '')));
    }
    offset += l.repos.length;
    more.hidden = offset >= l.total;
  };
  more.addEventListener('click', page);
  await page();
}

// ---------------------------------------------------------------- job

const PHASES = ['queued', 'acquiring', 'discovering', 'parsing', 'merging', 'mapping', 'summarizing', 'finalizing', 'done'];

async function job({ main, route, alive }) {
  const jobId = route.jobId;
  const phase = h('span', { id: 'job-phase' }, '…');
  const pct = h('span', { id: 'job-pct' }, '0');
  const bar = h('div', { style: 'width:0%' });
  const conn = h('span', { id: 'job-conn', class: 'muted' }, 'connecting');
  const counters = h('div', { class: 'stats', id: 'job-counters' });
  const warnings = h('ul', { id: 'job-warnings', class: 'plain' });
  const errorBox = h('div', { id: 'job-error' });
  const log = h('div', { class: 'log', id: 'job-log', 'aria-label': 'Events' });
  const next = h('div', { id: 'job-next' });
  const wrap = h('div', { class: 'card', id: 'job' },
    h('h1', {}, 'Job ', h('code', {}, jobId)),
    h('p', {}, 'Phase: ', h('strong', {}, phase), ' · ', pct, '% · stream: ', conn),
    h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-labelledby': 'job-phase' }, bar),
    h('p', { class: 'muted' }, PHASES.join(' → ')),
    counters, errorBox, next);
  main.append(wrap, section('Warnings', warnings), section('Events', log));

  let last = null; let pending = false;
  const refresh = async () => {
    if (pending) return; pending = true;
    setTimeout(async () => {
      pending = false;
      try { last = await getJson(`/status/${jobId}`); } catch { return; }
      if (!alive()) return;
      show(last);
    }, 250);
  };
  const show = (st) => {
    phase.textContent = st.phase; pct.textContent = st.pct;
    bar.style.width = `${st.pct}%`;
    bar.parentElement.setAttribute('aria-valuenow', st.pct);
    wrap.className = `card phase-${st.phase}`;
    wrap.dataset.phase = st.phase;
    clear(counters);
    counters.append(stat('files-discovered', 'files discovered', st.filesDiscovered), stat('files-parsed', 'files parsed', st.filesParsed),
      stat('imports', 'imports', st.importsTotal), stat('warnings', 'warnings', st.warningsCount));
    if (st.error) { clear(errorBox); errorBox.append(h('div', { class: 'error', role: 'alert' }, st.error)); }
    if (st.phase === 'done' && !next.firstChild) {
      next.append(h('p', {}, h('a', { class: 'button', id: 'open-overview', href: snapHref(st.repoId, st.snapshotId, 'overview') }, 'Open the overview'), ' ',
        h('a', { href: snapHref(st.repoId, st.snapshotId, 'graph') }, 'Graph')));
    }
  };
  try { show(await getJson(`/status/${jobId}`)); } catch (err) { if (err.status === 404) throw err; }
  const seen = new Set();
  const follower = followEvents(jobId, {
    onEvent: (ev) => {
      if (!alive() || seen.has(ev.seq)) return;
      seen.add(ev.seq);
      log.append(h('div', {}, `#${ev.seq} ${ev.type} ${JSON.stringify(ev.payload)}`));
      if (log.childNodes.length > 300) log.firstChild.remove();
      log.scrollTop = log.scrollHeight;
      if (ev.type === 'warning') {
        const p = ev.payload || {};
        warnings.append(h('li', { class: 'warnbox' }, h('code', {}, p.code || 'warning'), ' ', p.path ? h('span', { class: 'mono' }, `${p.path}: `) : '', p.message || ''));
      }
      if (ev.type === 'error') {
        const p = ev.payload || {};
        clear(errorBox);
        errorBox.append(h('div', { class: 'error', role: 'alert', 'data-code': p.code }, h('strong', {}, p.code || 'error'), `: ${p.message || ''}`));
      }
      if (ev.type === 'phase' && ev.payload) { phase.textContent = ev.payload.phase; pct.textContent = ev.payload.pct; bar.style.width = `${ev.payload.pct}%`; }
      refresh();
    },
    onState: (s, attempt) => { conn.textContent = s === 'reconnecting' ? `reconnecting (attempt ${attempt})` : s; wrap.dataset.stream = s; },
    onEnd: () => refresh(),
  });
  window.provisJob = follower;
  document.addEventListener('provis:leave', () => follower.stop(), { once: true });
}

// ---------------------------------------------------------------- repository

async function repo({ main, route, alive }) {
  const l = await getJson(`/repos/${route.repoId}/snapshots?limit=200`);
  if (!alive()) return;
  main.append(h('h1', {}, l.repoName), h('p', { class: 'muted' }, `${l.total} snapshot(s), newest first.`));
  main.append(table(['Created', 'Status', 'Content hash', 'Settings', 'Job', ''], l.snapshots.map((s) => h('tr', {},
    h('td', {}, when(s.createdAt)),
    h('td', {}, h('span', { class: `badge ${s.status}` }, s.status), s.error ? h('div', { class: 'muted' }, s.error) : ''),
    h('td', { class: 'mono' }, s.commitHash.slice(0, 16)),
    h('td', { class: 'mono' }, s.settingsHash.slice(0, 8)),
    h('td', {}, s.jobId ? h('a', { href: `#/jobs/${s.jobId}` }, s.phase || 'job') : '–'),
    h('td', {}, s.status === 'completed' ? h('a', { href: snapHref(route.repoId, s.id, 'overview') }, 'Open') : '')))));
}

// ---------------------------------------------------------------- overview

async function overview({ main, route, alive }) {
  const { repoId: r, snapshotId: s } = route;
  const [tree, gi, metrics, caps] = await Promise.all([maybe(r, s, 'tree'), graphIndex(r, s), maybe(r, s, 'metrics'), maybe(r, s, 'capabilities')]);
  if (!alive()) return;
  const m = gi.graph.metrics;
  const languages = (tree && tree.languages) || {};
  const total = tree ? tree.totalFiles : m.numNodes;
  main.append(h('h1', {}, 'Overview'));
  main.append(h('div', { class: 'stats', id: 'overview-stats' },
    stat('files', 'files', total), stat('internal', 'internal imports', m.internal), stat('external', 'external imports', m.external),
    stat('unresolved', 'unresolved imports', m.unresolvedLocal), stat('cycles', 'import cycles', m.cycles.length),
    stat('warnings', 'warnings', metrics ? metrics.warningsCount : null), stat('capabilities', 'capabilities', caps ? caps.capabilities.length : null)));
  const maxLang = Math.max(1, ...Object.values(languages));
  const grid = h('div', { class: 'grid', style: 'margin-top:12px' });
  grid.append(section('Files per language', table(['Language', 'Files', ''], Object.entries(languages).sort((a, b) => b[1] - a[1]).map(([lang, n]) =>
    h('tr', { 'data-lang': lang }, h('td', {}, lang), h('td', { class: 'num' }, fmt(n)), h('td', {}, h('span', { class: 'bar', style: `width:${Math.round((100 * n) / maxLang)}px` })))))));
  grid.append(section('Most imported files (hubs)', h('ol', { id: 'hubs' }, (m.topHubs || []).map((hub) =>
    h('li', {}, h('a', { href: fileHref(r, s, hub.id), class: 'mono' }, hub.id), ` — imported by ${hub.inDegree}`)))));
  grid.append(section(`Import cycles (${m.cycles.length})`, m.cycles.length
    ? h('ol', { id: 'cycles' }, m.cycles.slice(0, 50).map((c, i) => h('li', {}, h('a', { href: snapHref(r, s, 'graph', `cycle=${i}`), class: 'cycle' }, `${c.length} files`), ': ',
      c.slice(0, 6).map((p, j) => [j ? ', ' : '', h('a', { href: fileHref(r, s, p), class: 'mono' }, p)]), c.length > 6 ? ' …' : '')))
    : h('p', { class: 'muted' }, 'No import cycles.')));
  if (metrics) {
    grid.append(section('Job', h('dl', { class: 'kv' },
      h('dt', {}, 'total time'), h('dd', {}, `${fmt(metrics.totalMs)} ms`),
      h('dt', {}, 'bytes'), h('dd', {}, fmt(metrics.bytes)),
      h('dt', {}, 'cache hit'), h('dd', {}, String(metrics.cacheHit)),
      ...Object.entries(metrics.phaseDurationsMs || {}).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, `${fmt(v)} ms`)]))));
  }
  main.append(grid);
  if (caps) main.append(h('h2', { style: 'margin-top:16px' }, 'Capabilities'), capabilityCards(r, s, caps.capabilities));
  const warnBox = h('div', { id: 'overview-warnings' });
  main.append(h('h2', { style: 'margin-top:16px' }, 'Warnings'), warnBox);
  const kinds = await artifactKinds(r, s);
  const filesArt = kinds.get('files');
  const loadWarnings = async () => {
    clear(warnBox); warnBox.append(h('p', { class: 'muted' }, 'Loading…'));
    const { files } = await filesIndex(r, s);
    if (!alive()) return;
    clear(warnBox);
    const rows = [];
    for (const w of files.warnings || []) rows.push([w.path || w.file || '', w.code, w.message]);
    for (const f of files.files) for (const w of f.warnings || []) rows.push([f.path, w.code, w.message]);
    if (!rows.length) { warnBox.append(h('p', { class: 'muted' }, 'No warnings.')); return; }
    warnBox.append(table(['File', 'Code', 'Message'], rows.slice(0, 500).map(([p, c, msg]) => h('tr', {},
      h('td', {}, p ? h('a', { href: fileHref(r, s, p), class: 'mono' }, p) : '–'), h('td', {}, h('code', {}, c)), h('td', {}, msg)))));
    if (rows.length > 500) warnBox.append(h('p', { class: 'muted' }, `${rows.length - 500} more not shown.`));
  };
  if (filesArt && filesArt.bytes < 20e6) await loadWarnings();
  else if (filesArt) warnBox.append(h('button', { type: 'button', class: 'ghost', onclick: loadWarnings }, `Load warnings (files.json, ${fmt(filesArt.bytes)} bytes)`));
}

function fileList(r, s, paths, limit = 12) {
  if (!paths || !paths.length) return h('span', { class: 'muted' }, '–');
  return h('ul', { class: 'plain' }, paths.slice(0, limit).map((p) => h('li', {}, h('a', { href: fileHref(r, s, p), class: 'mono' }, p))),
    paths.length > limit ? h('li', { class: 'muted' }, `… ${paths.length - limit} more`) : null);
}

function capabilityCards(r, s, caps) {
  return h('div', { class: 'grid', id: 'capabilities' }, caps.map((c) => h('section', { class: 'card', 'data-capability': c.id },
    h('h3', {}, c.name), h('p', {}, c.purpose),
    h('h3', {}, `Entry points (${(c.entryPoints || []).length})`),
    h('ul', { class: 'plain' }, (c.entryPoints || []).slice(0, 12).map((e) => h('li', {}, h('span', { class: 'badge' }, e.kind), ' ',
      e.file ? h('a', { href: fileHref(r, s, e.file) }, e.name) : e.name))),
    h('h3', {}, 'Lanes'),
    h('div', { class: 'lanes' }, Object.entries(c.lanes || {}).filter(([, v]) => v && v.length).map(([lane, paths]) =>
      h('div', {}, h('strong', {}, lane), fileList(r, s, paths, 6)))))));
}

// ---------------------------------------------------------------- files

async function files({ main, route, alive }) {
  const { repoId: r, snapshotId: s } = route;
  const gi = await graphIndex(r, s);
  if (!alive()) return;
  const nodes = gi.graph.nodes;
  const q = h('input', { type: 'search', id: 'file-filter', placeholder: 'Filter by path', 'aria-label': 'Filter files by path', value: route.q.get('q') || '' });
  const body = h('tbody');
  const count = h('p', { class: 'muted' });
  const fill = () => {
    const needle = q.value.trim().toLowerCase();
    const hits = needle ? nodes.filter((n) => n.id.toLowerCase().includes(needle)) : nodes;
    clear(body);
    for (const n of hits.slice(0, 500)) {
      body.append(h('tr', {}, h('td', {}, h('a', { href: fileHref(r, s, n.id), class: 'mono' }, n.id), gi.cycleOf.has(n.id) ? h('span', { class: 'cycle' }, ' ↻ cycle') : ''),
        h('td', {}, n.language), h('td', { class: 'num' }, n.inDegree), h('td', { class: 'num' }, n.outDegree)));
    }
    count.textContent = `${fmt(hits.length)} of ${fmt(nodes.length)} files${hits.length > 500 ? ' (first 500 shown)' : ''}.`;
  };
  q.addEventListener('input', fill);
  main.append(h('h1', {}, 'Files'), h('p', {}, q), count, table(['Path', 'Language', 'In', 'Out'], body));
  fill();
}

// ---------------------------------------------------------------- one file

async function file({ main, route, alive }) {
  const { repoId: r, snapshotId: s, path } = route;
  const [fi, gi, summaries, caps] = await Promise.all([filesIndex(r, s), graphIndex(r, s), maybe(r, s, 'summaries'), maybe(r, s, 'capabilities')]);
  if (!alive()) return;
  const f = fi.byPath.get(path);
  if (!f) {
    main.append(h('div', { class: 'error', role: 'alert' }, `No file ${path} in this snapshot.`));
    return;
  }
  const sum = summaries && (summaries.files || []).find((x) => x.path === path);
  const importers = gi.importers.get(path) || [];
  const cyc = gi.cycleOf.get(path);
  main.append(h('h1', { class: 'mono', id: 'file-path' }, path),
    h('p', {}, h('a', { href: snapHref(r, s, 'graph', `sel=${encodeURIComponent(path)}`), id: 'show-in-graph' }, 'Show in the graph'),
      cyc !== undefined ? [' · ', h('a', { class: 'cycle', href: snapHref(r, s, 'graph', `cycle=${cyc}`) }, `in import cycle ${cyc + 1}`)] : ''));
  const grid = h('div', { class: 'grid' });
  grid.append(section('Summary', sum ? [h('p', {}, h('strong', {}, sum.title)), h('p', {}, sum.purpose),
    sum.keyFunctions && sum.keyFunctions.length ? h('p', {}, 'Key functions: ', sum.keyFunctions.join(', ')) : null,
    sum.risks && sum.risks.length ? h('ul', {}, sum.risks.map((x) => h('li', {}, typeof x === 'string' ? x : JSON.stringify(x)))) : null] : h('p', { class: 'muted' }, 'No summary.'),
  h('dl', { class: 'kv' }, h('dt', {}, 'language'), h('dd', {}, f.language), h('dt', {}, 'lines'), h('dd', {}, fmt(f.lines)), h('dt', {}, 'bytes'), h('dd', {}, fmt(f.size)),
    f.hints && f.hints.framework ? [h('dt', {}, 'framework'), h('dd', {}, f.hints.framework)] : null,
    f.skipped ? [h('dt', {}, 'skipped'), h('dd', {}, f.skipReason || 'yes')] : null)));
  grid.append(section(`Imports (${f.imports.length})`, f.imports.length ? table(['Import', 'Kind', 'Line'], f.imports.map((i) => h('tr', {},
    h('td', {}, i.resolved && !i.external ? h('a', { href: fileHref(r, s, i.resolved), class: 'mono import-link' }, i.resolved)
      : h('span', { class: 'mono' }, i.raw, i.external ? h('span', { class: 'badge' }, ` ${i.package || 'external'}`) : h('span', { class: 'badge failed' }, ' unresolved'))),
    h('td', {}, i.kind), h('td', { class: 'num' }, i.line)))) : h('p', { class: 'muted' }, 'None.')));
  grid.append(section(`Imported by (${importers.length})`, importers.length ? h('ul', { class: 'plain', id: 'importers' }, importers.map((e) =>
    h('li', {}, h('a', { href: fileHref(r, s, e.from), class: 'mono' }, e.from), h('span', { class: 'muted' }, ` line ${e.line}`)))) : h('p', { class: 'muted' }, 'No file imports it.')));
  grid.append(section(`Exports (${(f.exports || []).length})`, h('p', { class: 'mono' }, (f.exports || []).join(', ') || '–')));
  grid.append(section(`Functions (${f.functions.length})`, f.functions.length ? table(['Function', 'Line'], f.functions.map((fn) => h('tr', {},
    h('td', { class: 'mono' }, fn.async ? 'async ' : '', fn.name, `(${(fn.params || []).join(', ')})`, (fn.decorators || []).length ? h('div', { class: 'muted' }, fn.decorators.map((d) => `@${d}`).join(' ')) : ''),
    h('td', { class: 'num' }, fn.line)))) : h('p', { class: 'muted' }, 'None.')));
  grid.append(section(`Classes (${f.classes.length})`, f.classes.length ? table(['Class', 'Methods', 'Line'], f.classes.map((c) => h('tr', {},
    h('td', { class: 'mono' }, c.name, (c.bases || []).length ? `(${c.bases.join(', ')})` : ''), h('td', { class: 'mono' }, (c.methods || []).map((x) => (typeof x === 'string' ? x : x.name)).join(', ')),
    h('td', { class: 'num' }, c.line)))) : h('p', { class: 'muted' }, 'None.')));
  grid.append(section(`Routes (${f.routes.length})`, f.routes.length ? routeTable(r, s, f.routes.map((x) => ({ ...x, file: path })), false) : h('p', { class: 'muted' }, 'None.')));
  const inCaps = caps ? caps.capabilities.filter((c) => (c.keyFiles || []).includes(path) || Object.values(c.lanes || {}).some((l) => (l || []).includes(path))) : [];
  grid.append(section('Capabilities', inCaps.length ? h('ul', { class: 'plain' }, inCaps.map((c) => h('li', {}, h('a', { href: snapHref(r, s, 'capabilities', `id=${c.id}`) }, c.name)))) : h('p', { class: 'muted' }, 'Not part of a capability.')));
  grid.append(section(`Warnings (${(f.warnings || []).length})`, (f.warnings || []).length ? h('ul', { class: 'plain' }, f.warnings.map((w) => h('li', { class: 'warnbox' }, h('code', {}, w.code), ' ', w.message))) : h('p', { class: 'muted' }, 'None.')));
  main.append(grid);
}

// ---------------------------------------------------------------- routes and capabilities

function routeTable(r, s, routes, withFile = true) {
  return table(['Method', 'Path', 'Handler', 'Framework', ...(withFile ? ['File'] : []), 'Line'], routes.map((x) => h('tr', {},
    h('td', {}, h('code', {}, x.method)), h('td', { class: 'mono' }, x.path), h('td', { class: 'mono' }, x.handler || '–'), h('td', {}, x.framework || '–'),
    withFile ? h('td', {}, h('a', { href: fileHref(r, s, x.file), class: 'mono' }, x.file)) : null, h('td', { class: 'num' }, x.line))), { id: 'routes-table' });
}

async function routes({ main, route, alive }) {
  const { repoId: r, snapshotId: s } = route;
  const fi = await filesIndex(r, s);
  if (!alive()) return;
  const all = [];
  for (const f of fi.files.files) for (const x of f.routes || []) all.push({ ...x, file: f.path });
  all.sort((a, b) => (a.path || '').localeCompare(b.path || '') || (a.method || '').localeCompare(b.method || ''));
  main.append(h('h1', {}, `Routes (${all.length})`), all.length ? routeTable(r, s, all) : h('p', { class: 'muted' }, 'No routes found.'));
}

async function capabilities({ main, route, alive }) {
  const { repoId: r, snapshotId: s } = route;
  const caps = await maybe(r, s, 'capabilities');
  if (!alive()) return;
  const list = caps ? caps.capabilities : [];
  main.append(h('h1', {}, `Capabilities (${list.length})`));
  main.append(table(['Capability', 'Purpose', 'Entry points', 'Key files', 'Lanes'], list.map((c) => h('tr', { id: `cap-${c.id}` },
    h('td', {}, h('strong', {}, c.name)), h('td', {}, c.purpose),
    h('td', {}, h('ul', { class: 'plain' }, (c.entryPoints || []).slice(0, 10).map((e) => h('li', {}, e.file ? h('a', { href: fileHref(r, s, e.file) }, e.name) : e.name)))),
    h('td', {}, fileList(r, s, c.keyFiles, 8)),
    h('td', {}, Object.entries(c.lanes || {}).filter(([, v]) => v && v.length).map(([lane, v]) => h('div', {}, `${lane}: ${v.length}`)))))));
  const id = route.q.get('id');
  const row = id && document.getElementById(`cap-${id}`);
  if (row) { row.style.background = '#fff8d6'; row.scrollIntoView(); }
}

/** The views by route name (the graph has its own module). */
export const views = { home, job, repo, overview, files, file, routes, capabilities };
