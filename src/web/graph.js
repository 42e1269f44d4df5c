// The graph view: the import graph aggregated by folder, drawn with cytoscape.js. Folders
// expand into their sub-folders and files (drill-down); a folder with many files shows its
// most connected ones and one "more" node, so no more than MAX_DRAWN nodes are ever drawn,
// whatever the size of the repository. Cycles are red; external packages are drawn on demand.

import cytoscape from './cytoscape.esm.min.mjs';
import { h, clear, fileHref, snapHref, graphIndex } from './views.js';

/** Most nodes drawn at once. */
export const MAX_DRAWN = 2500;
/** Files of one expanded folder drawn one by one (the rest are one "more" node). */
const FILES_PER_FOLDER = 120;
/** Sub-folders of one expanded folder drawn one by one. */
const FOLDERS_PER_FOLDER = 150;
/** External packages drawn when asked for. */
const MAX_PACKAGES = 60;

const LANG_COLOR = { ts: '#3178c6', js: '#e0b400', py: '#3572a5', other: '#9aa5b1' };

/** Folder tree of the graph's files: path → {folders, files, count}. */
function buildTree(nodes) {
  const folders = new Map([['', { path: '', folders: [], files: [], count: 0 }]]);
  const get = (path) => {
    let f = folders.get(path);
    if (!f) {
      f = { path, folders: [], files: [], count: 0 };
      folders.set(path, f);
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      get(parent).folders.push(path);
    }
    return f;
  };
  for (const n of nodes) {
    const cut = n.id.lastIndexOf('/');
    const dir = cut < 0 ? '' : n.id.slice(0, cut);
    get(dir).files.push(n);
    let p = dir;
    for (;;) {
      folders.get(p).count += 1;
      if (p === '') break;
      p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    }
  }
  for (const f of folders.values()) {
    f.files.sort((a, b) => (b.inDegree + b.outDegree) - (a.inDegree + a.outDegree) || a.id.localeCompare(b.id));
    f.folders.sort((a, b) => folders.get(b).count - folders.get(a).count || a.localeCompare(b));
  }
  return folders;
}

const base = (p) => p.slice(p.lastIndexOf('/') + 1);
const parentOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const ancestors = (file) => {
  const out = [];
  let p = parentOf(file);
  while (p) { out.push(p); p = parentOf(p); }
  return out;
};

/** What is drawn for the current expansion: node per file/folder, edges summed between them. */
function aggregate(tree, gi, expanded, showExt) {
  const rep = new Map(); // file -> drawn node id
  const drawn = new Map(); // id -> data
  const visit = (path) => {
    const f = tree.get(path);
    f.folders.forEach((child, i) => {
      if (i >= FOLDERS_PER_FOLDER) {
        const id = `more-dirs:${path}`;
        if (!drawn.has(id)) drawn.set(id, { id, kind: 'more', label: `… ${f.folders.length - FOLDERS_PER_FOLDER} more folders`, files: 0, path });
        markAll(child, id);
        return;
      }
      if (expanded.has(child)) { visit(child); return; }
      const id = `dir:${child}`;
      drawn.set(id, { id, kind: 'folder', path: child, label: `${path ? '' : ''}${base(child)}/ (${tree.get(child).count})`, files: tree.get(child).count });
      markAll(child, id);
    });
    f.files.forEach((n, i) => {
      if (i >= FILES_PER_FOLDER) {
        const id = `more:${path}`;
        if (!drawn.has(id)) drawn.set(id, { id, kind: 'more', path, label: `… ${f.files.length - FILES_PER_FOLDER} more files in ${path || '/'}`, files: 0 });
        drawn.get(id).files += 1;
        rep.set(n.id, id);
        return;
      }
      drawn.set(n.id, { id: n.id, kind: 'file', path: n.id, label: base(n.id), files: 1, language: n.language });
      rep.set(n.id, n.id);
    });
  };
  const markAll = (path, id) => {
    const f = tree.get(path);
    for (const n of f.files) rep.set(n.id, id);
    for (const c of f.folders) markAll(c, id);
  };
  visit('');
  const edges = new Map();
  const cycleNodes = new Set();
  for (const [file, idx] of gi.cycleOf) { const d = rep.get(file); if (d !== undefined) { cycleNodes.add(d); drawn.get(d).cycleIdx = drawn.get(d).cycleIdx ?? idx; } }
  const pkgCount = new Map();
  for (const e of gi.graph.edges) {
    const a = rep.get(e.from);
    if (a === undefined) continue;
    let b;
    if (e.external) {
      if (!showExt) continue;
      b = `pkg:${e.to}`;
      pkgCount.set(e.to, (pkgCount.get(e.to) || 0) + 1);
    } else {
      b = rep.get(e.to);
      if (b === undefined || a === b) continue;
    }
    const key = `${a}\u0000${b}`;
    let agg = edges.get(key);
    if (!agg) { agg = { id: `e${edges.size}`, source: a, target: b, weight: 0, cycle: false }; edges.set(key, agg); }
    agg.weight += 1;
    if (!e.external) {
      const ca = gi.cycleOf.get(e.from);
      if (ca !== undefined && ca === gi.cycleOf.get(e.to)) { agg.cycle = true; agg.cycleIdx = ca; }
    }
  }
  if (showExt) {
    const top = [...pkgCount.entries()].sort((x, y) => y[1] - x[1]).slice(0, MAX_PACKAGES);
    const keep = new Set(top.map(([p]) => `pkg:${p}`));
    for (const [p, n] of top) drawn.set(`pkg:${p}`, { id: `pkg:${p}`, kind: 'pkg', label: p, files: n, path: p });
    for (const [k, e] of edges) if (e.target.startsWith('pkg:') && !keep.has(e.target)) edges.delete(k);
  }
  return { drawn, edges, rep, cycleNodes };
}

/**
 * Positions for the drawn nodes: a force-directed layout (Fruchterman–Reingold) on typed
 * arrays, with repulsion only between nodes in neighbouring grid cells, so it costs O(nodes +
 * edges) per step and stays fast at MAX_DRAWN nodes. Starts from a circle in path order (a
 * folder's files start together) and uses no randomness: the same view always looks the same.
 */
export function forceLayout(ids, links) {
  const n = ids.length;
  const index = new Map(ids.map((id, i) => [id, i]));
  const order = ids.map((id, i) => [id, i]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const k = 70;
  const x = new Float64Array(n); const y = new Float64Array(n);
  const dx = new Float64Array(n); const dy = new Float64Array(n);
  const radius = k * Math.sqrt(n) * 0.6 + k;
  order.forEach(([, i], rank) => {
    const a = (2 * Math.PI * rank) / Math.max(1, n);
    const r = radius * (0.55 + 0.45 * (((rank * 7919) % 17) / 17));
    x[i] = r * Math.cos(a); y[i] = r * Math.sin(a);
  });
  const es = [];
  for (const e of links) {
    const a = index.get(e.source); const b = index.get(e.target);
    if (a !== undefined && b !== undefined && a !== b) es.push([a, b, 1 + Math.log2(e.weight || 1) * 0.3]);
  }
  const steps = n <= 300 ? 160 : n <= 1000 ? 110 : 70;
  const cell = 4 * k;
  let temp = radius / 3;
  for (let step = 0; step < steps; step += 1) {
    dx.fill(0); dy.fill(0);
    const grid = new Map();
    for (let i = 0; i < n; i += 1) {
      const key = Math.floor(x[i] / cell) * 65536 + Math.floor(y[i] / cell);
      let list = grid.get(key);
      if (!list) { list = []; grid.set(key, list); }
      list.push(i);
    }
    for (let i = 0; i < n; i += 1) {
      const cx = Math.floor(x[i] / cell); const cyy = Math.floor(y[i] / cell);
      for (let gx = cx - 1; gx <= cx + 1; gx += 1) {
        for (let gy = cyy - 1; gy <= cyy + 1; gy += 1) {
          const list = grid.get(gx * 65536 + gy);
          if (!list) continue;
          for (const j of list) {
            if (j === i) continue;
            let ddx = x[i] - x[j]; let ddy = y[i] - y[j];
            let d2 = ddx * ddx + ddy * ddy;
            if (d2 < 0.01) { ddx = ((i - j) % 7) * 0.1 + 0.1; ddy = 0.1; d2 = ddx * ddx + ddy * ddy; }
            const f = (k * k) / d2;
            dx[i] += ddx * f; dy[i] += ddy * f;
          }
        }
      }
    }
    for (const [a, b, w] of es) {
      const ddx = x[a] - x[b]; const ddy = y[a] - y[b];
      const d = Math.sqrt(ddx * ddx + ddy * ddy) || 0.01;
      const f = (d / k) * w * 0.6;
      dx[a] -= ddx * f / 2; dy[a] -= ddy * f / 2; dx[b] += ddx * f / 2; dy[b] += ddy * f / 2;
    }
    for (let i = 0; i < n; i += 1) {
      dx[i] -= x[i] * 0.006; dy[i] -= y[i] * 0.006; // gravity keeps islands near the rest
      const len = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]);
      if (len > 0) { const m = Math.min(len, temp) / len; x[i] += dx[i] * m; y[i] += dy[i] * m; }
    }
    temp = Math.max(1, temp * 0.965);
  }
  return new Map(ids.map((id, i) => [id, { x: x[i], y: y[i] }]));
}

const STYLE = [
  { selector: 'node', style: { label: 'data(label)', 'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 3, color: '#1b2330',
    'background-color': 'data(color)', width: 'data(size)', height: 'data(size)', 'text-outline-color': '#fff', 'text-outline-width': 2, 'min-zoomed-font-size': 7 } },
  { selector: 'node.folder', style: { shape: 'round-rectangle', 'font-weight': 'bold' } },
  { selector: 'node.more', style: { shape: 'round-rectangle', 'background-color': '#d9dee6', 'border-style': 'dashed', 'border-width': 1, 'border-color': '#8a96a8' } },
  { selector: 'node.pkg', style: { shape: 'diamond', 'background-color': '#b79ad9' } },
  { selector: 'node.cycle', style: { 'border-width': 3, 'border-color': '#d32f2f' } },
  { selector: 'edge', style: { width: 'data(w)', 'line-color': '#b7c2d3', 'curve-style': 'straight', 'target-arrow-shape': 'triangle', 'target-arrow-color': '#b7c2d3', 'arrow-scale': 0.7, opacity: 0.8 } },
  { selector: 'edge.hay', style: { 'curve-style': 'haystack', 'haystack-radius': 0, 'target-arrow-shape': 'none' } },
  { selector: 'edge.ext', style: { 'line-style': 'dashed', 'line-color': '#cbb8e3', 'target-arrow-color': '#cbb8e3' } },
  { selector: 'edge.cycle', style: { 'line-color': '#d32f2f', 'target-arrow-color': '#d32f2f', 'z-index': 10, opacity: 1 } },
  { selector: '.faded', style: { opacity: 0.12 } },
  { selector: 'node.sel', style: { 'border-width': 5, 'border-color': '#ffb300' } },
  { selector: 'node.focus', style: { 'border-width': 5, 'border-color': '#d32f2f' } },
];

export async function graphView({ main, route, alive }) {
  const { repoId: r, snapshotId: s } = route;
  const started = performance.now();
  const gi = await graphIndex(r, s);
  if (!alive()) return;
  const tLoaded = performance.now();
  const tree = buildTree(gi.graph.nodes);
  const tTree = performance.now();
  const q = route.q;
  const expanded = new Set(['', ...(q.get('open') ? q.get('open').split(',').filter((p) => tree.has(p)) : [])]);
  let showExt = q.get('ext') === '1';
  let selected = q.get('sel') || null;
  let cycleIdx = q.get('cycle') !== null && q.get('cycle') !== '' ? Number(q.get('cycle')) : null;
  const cycles = gi.graph.metrics.cycles || [];
  if (!q.get('open')) autoExpand();
  if (selected) for (const a of ancestors(selected)) expanded.add(a);
  if (cycleIdx !== null && cycles[cycleIdx]) openCycle(cycleIdx);

  const box = h('div', { id: 'cy', role: 'img', 'aria-label': 'Import graph; use the panel on the right to explore it with the keyboard' });
  const notice = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  const counts = h('p', { class: 'muted', id: 'graph-counts' });
  const search = h('input', { type: 'search', id: 'graph-search', placeholder: 'Find a file…', 'aria-label': 'Find a file', autocomplete: 'off' });
  const suggest = h('div', { class: 'suggest', hidden: true, id: 'graph-suggest' });
  const extBox = h('input', { type: 'checkbox', id: 'graph-ext', checked: showExt });
  const selPanel = h('div', { id: 'graph-selection' });
  const folderPanel = h('div', { id: 'graph-folders' });
  const cyclePanel = h('div', { id: 'graph-cycles' });
  main.append(h('div', { class: 'graph-wrap' }, box,
    h('aside', { class: 'side', 'aria-label': 'Graph controls' },
      h('div', { class: 'card' }, h('div', { style: 'position:relative' }, search, suggest), counts,
        h('label', {}, extBox, ' show external packages'), notice,
        h('div', { class: 'legend' }, h('span', {}, h('i', { style: 'background:#7fa6d9' }), 'folder'), h('span', {}, h('i', { style: `background:${LANG_COLOR.ts}` }), 'ts'),
          h('span', {}, h('i', { style: `background:${LANG_COLOR.js}` }), 'js'), h('span', {}, h('i', { style: `background:${LANG_COLOR.py}` }), 'py'),
          h('span', {}, h('i', { style: 'background:#fff;border:2px solid #d32f2f' }), 'in a cycle'))),
      h('div', { class: 'card' }, selPanel), h('div', { class: 'card' }, cyclePanel), h('div', { class: 'card' }, folderPanel))));

  const cy = cytoscape({ container: box, style: STYLE, minZoom: 0.05, maxZoom: 4, textureOnViewport: true, hideEdgesOnViewport: true });
  document.addEventListener('provis:leave', () => cy.destroy(), { once: true });
  let current = null;

  function autoExpand() {
    // Open the biggest folders while the picture stays small, so the first view says something.
    for (let guard = 0; guard < 20; guard += 1) {
      const { drawn } = aggregate(tree, gi, expanded, false);
      if (drawn.size >= 14) break;
      const closed = [...drawn.values()].filter((d) => d.kind === 'folder').sort((a, b) => b.files - a.files);
      const pick = closed.find((d) => { expanded.add(d.path); const n = aggregate(tree, gi, expanded, false).drawn.size; expanded.delete(d.path); return n <= 80; });
      if (!pick) break;
      expanded.add(pick.path);
    }
  }
  function openCycle(i) {
    const before = new Set(expanded);
    for (const f of cycles[i]) for (const a of ancestors(f)) expanded.add(a);
    if (aggregate(tree, gi, expanded, showExt).drawn.size > MAX_DRAWN) { expanded.clear(); before.forEach((p) => expanded.add(p)); }
  }

  function syncUrl() {
    const params = new URLSearchParams();
    const open = [...expanded].filter(Boolean);
    if (open.length) params.set('open', open.join(','));
    if (selected) params.set('sel', selected);
    if (showExt) params.set('ext', '1');
    if (cycleIdx !== null) params.set('cycle', String(cycleIdx));
    const hash = snapHref(r, s, 'graph', params.toString().replace(/%2F/g, '/').replace(/%2C/g, ','));
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  function draw() {
    const t = performance.now();
    const agg = aggregate(tree, gi, expanded, showExt);
    const tAgg = performance.now();
    if (agg.drawn.size > MAX_DRAWN) return false;
    current = agg;
    const maxFiles = Math.max(1, ...[...agg.drawn.values()].map((d) => d.files));
    const els = [];
    for (const d of agg.drawn.values()) {
      const size = d.kind === 'file' ? 14 : d.kind === 'pkg' ? 16 : 18 + 42 * Math.sqrt(d.files / maxFiles);
      const color = d.kind === 'file' ? (LANG_COLOR[d.language] || LANG_COLOR.other) : '#7fa6d9';
      els.push({ group: 'nodes', data: { id: d.id, label: d.label, size, color, kind: d.kind, path: d.path }, classes: `${d.kind}${agg.cycleNodes.has(d.id) ? ' cycle' : ''}` });
    }
    // Many edges: haystack lines (no arrow heads) draw several times faster.
    const hay = agg.edges.size > 400 ? ' hay' : '';
    for (const e of agg.edges.values()) {
      els.push({ group: 'edges', data: { id: e.id, source: e.source, target: e.target, weight: e.weight, w: Math.min(6, 0.8 + Math.log2(e.weight)) },
        classes: `${e.cycle ? 'cycle' : ''}${e.target.startsWith('pkg:') ? ' ext' : ''}${hay}` });
    }
    cy.batch(() => { cy.elements().remove(); cy.add(els); });
    const n = agg.drawn.size;
    const tAdd = performance.now();
    const pos = forceLayout([...agg.drawn.keys()], [...agg.edges.values()]);
    const tForce = performance.now();
    const layout = { name: 'preset', positions: (node) => pos.get(node.id()), fit: true, padding: 30, animate: false };
    cy.layout(layout).run();
    if (cy.zoom() > 1.3) { cy.zoom(1.3); cy.center(); }
    box.dataset.timing = `aggregate ${Math.round(tAgg - t)} add ${Math.round(tAdd - tAgg)} force ${Math.round(tForce - tAdd)} layout ${Math.round(performance.now() - tForce)}`;
    highlight();
    box.dataset.drawnNodes = String(n);
    box.dataset.drawnEdges = String(agg.edges.size);
    box.dataset.cycleNodes = String(cy.nodes('.cycle').length);
    box.dataset.cycleEdges = String(cy.edges('.cycle').length);
    counts.textContent = `${n.toLocaleString('en-US')} nodes and ${agg.edges.size.toLocaleString('en-US')} edges drawn, for ${gi.graph.nodes.length.toLocaleString('en-US')} files.`;
    renderFolders(); renderCycles(); renderSelection(); syncUrl();
    box.dataset.layoutMs = String(Math.round(performance.now() - t));
    return true;
  }

  function highlight() {
    cy.elements().removeClass('faded sel focus');
    if (cycleIdx !== null && cycles[cycleIdx]) {
      const ids = new Set(cycles[cycleIdx].map((f) => current.rep.get(f)));
      cy.nodes().forEach((nd) => { if (ids.has(nd.id())) nd.addClass('focus'); });
    }
    if (selected) {
      const id = current.rep.get(selected);
      const node = id && cy.getElementById(id);
      if (node && node.nonempty()) {
        const hood = node.closedNeighborhood();
        cy.elements().not(hood).addClass('faded');
        node.addClass('sel');
      }
    }
  }

  function tryExpand(path) {
    expanded.add(path);
    if (!draw()) { expanded.delete(path); notice.textContent = `Opening ${path}/ would draw more than ${MAX_DRAWN} nodes; open one of its sub-folders or search for a file.`; return; }
    notice.textContent = '';
  }
  function collapse(path) {
    for (const p of [...expanded]) if (p === path || p.startsWith(`${path}/`)) expanded.delete(p);
    draw();
  }
  function select(file) {
    selected = file;
    const hidden = ancestors(file).filter((a) => !expanded.has(a));
    if (hidden.length) { hidden.forEach((a) => expanded.add(a)); if (!draw()) { hidden.forEach((a) => expanded.delete(a)); draw(); } } else { highlight(); renderSelection(); syncUrl(); }
    const node = cy.getElementById(current.rep.get(file) || '');
    if (node.nonempty()) cy.animate({ center: { eles: node }, duration: 0 });
  }

  function renderSelection() {
    clear(selPanel);
    if (!selected) { selPanel.append(h('h2', {}, 'Selection'), h('p', { class: 'muted' }, 'Click a file, or find one above. Click a folder to open it.')); return; }
    const outs = (gi.imports.get(selected) || []);
    const ins = (gi.importers.get(selected) || []);
    const ext = gi.graph.edges.filter((e) => e.external && e.from === selected).map((e) => e.to);
    const pills = (list) => h('div', { class: 'pill-list' }, list.slice(0, 80).map((p) => h('button', { type: 'button', class: gi.cycleOf.has(p) && gi.cycleOf.get(p) === gi.cycleOf.get(selected) ? 'cycle' : null, onclick: () => select(p), title: p }, p)));
    selPanel.append(h('h2', { class: 'mono' }, selected),
      h('p', {}, h('a', { href: fileHref(r, s, selected), id: 'open-file' }, 'Open the file view'), ' · ', h('button', { type: 'button', class: 'link', onclick: () => { selected = null; highlight(); renderSelection(); syncUrl(); } }, 'clear')),
      h('h3', {}, `Imports (${outs.length})`), pills(outs.map((e) => e.to)),
      h('h3', {}, `Imported by (${ins.length})`), pills(ins.map((e) => e.from)),
      ext.length ? h('h3', {}, `Packages (${new Set(ext).size})`) : '', ext.length ? h('p', { class: 'mono' }, [...new Set(ext)].join(', ')) : '');
  }
  function renderCycles() {
    clear(cyclePanel);
    cyclePanel.append(h('h2', {}, `Import cycles (${cycles.length})`));
    if (!cycles.length) { cyclePanel.append(h('p', { class: 'muted' }, 'None.')); return; }
    cyclePanel.append(h('div', { class: 'pill-list' }, cycles.slice(0, 60).map((c, i) => h('button', { type: 'button', class: 'cycle', 'aria-pressed': String(cycleIdx === i),
      onclick: () => { cycleIdx = cycleIdx === i ? null : i; if (cycleIdx !== null) openCycle(i); draw(); } }, `${i + 1}: ${c.length} files`))));
  }
  function renderFolders() {
    clear(folderPanel);
    const open = [...expanded].filter(Boolean).sort();
    folderPanel.append(h('h2', {}, 'Folders'));
    if (open.length) folderPanel.append(h('h3', {}, 'Open'), h('ul', { class: 'plain' }, open.map((p) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => collapse(p), title: `Close ${p}/` }, `▾ ${p}/`)))));
    const closed = [...current.drawn.values()].filter((d) => d.kind === 'folder').sort((a, b) => b.files - a.files).slice(0, 100);
    if (closed.length) folderPanel.append(h('h3', {}, 'Drawn closed'), h('ul', { class: 'plain', id: 'closed-folders' }, closed.map((d) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => tryExpand(d.path) }, `▸ ${d.path}/`), h('span', { class: 'muted' }, ` ${d.files} files`)))));
  }

  // Search: substring over paths, 20 suggestions; Enter takes the first.
  const fill = () => {
    const needle = search.value.trim().toLowerCase();
    clear(suggest);
    if (!needle) { suggest.hidden = true; return; }
    const hits = [];
    for (const n of gi.graph.nodes) { if (n.id.toLowerCase().includes(needle)) { hits.push(n.id); if (hits.length >= 20) break; } }
    for (const p of hits) suggest.append(h('button', { type: 'button', onclick: () => { suggest.hidden = true; search.value = p; select(p); } }, p));
    if (!hits.length) suggest.append(h('p', { class: 'muted', style: 'padding:4px 8px;margin:0' }, 'No file matches.'));
    suggest.hidden = false;
  };
  search.addEventListener('input', fill);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { const first = suggest.querySelector('button'); if (first) first.click(); }
    if (e.key === 'ArrowDown') { const first = suggest.querySelector('button'); if (first) { e.preventDefault(); first.focus(); } }
    if (e.key === 'Escape') suggest.hidden = true;
  });
  suggest.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && document.activeElement.nextElementSibling) { e.preventDefault(); document.activeElement.nextElementSibling.focus(); }
    if (e.key === 'ArrowUp') { e.preventDefault(); (document.activeElement.previousElementSibling || search).focus(); }
  });
  extBox.addEventListener('change', () => { showExt = extBox.checked; draw(); });

  cy.on('tap', 'node', (evt) => {
    const d = evt.target.data();
    if (d.kind === 'folder') tryExpand(d.path);
    else if (d.kind === 'file') select(d.path);
    else if (d.kind === 'more') notice.textContent = `${d.label}: find them with the search box.`;
    else if (d.kind === 'pkg') notice.textContent = `Package ${d.path}: imported ${d.files} times by drawn files.`;
  });

  const tBeforeDraw = performance.now();
  draw();
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  if (!alive()) return;
  box.dataset.renderMs = String(Math.round(performance.now() - started));
  box.dataset.loadMs = String(Math.round(tLoaded - started));
  box.dataset.treeMs = String(Math.round(tTree - tLoaded));
  box.dataset.beforeDrawMs = String(Math.round(tBeforeDraw - started));
  box.dataset.ready = 'true';
  window.provisGraphReady = performance.now();
}
