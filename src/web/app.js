// The shell: hash routes (the URL names repository, snapshot and view, so reload and the
// back button work), the header's breadcrumbs and tabs, and the token dialog.

import { getJson, onUnauthorized, setToken, token } from './api.js';
import { h, clear, views, fileHref, snapHref } from './views.js';
import { graphView } from './graph.js';

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
const tabs = document.getElementById('tabs');

/** Parses `#/repos/<r>/snapshots/<s>/<view>/<rest>?query` into a route. */
export function parseRoute(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean);
  const q = new URLSearchParams(queryPart);
  if (parts[0] === 'jobs' && parts[1]) return { name: 'job', jobId: parts[1], q };
  if (parts[0] === 'repos' && parts[1] && parts[2] === 'snapshots' && parts[3]) {
    const view = parts[4] || 'overview';
    const rest = parts.slice(5).map(decodeURIComponent).join('/');
    return { name: view, repoId: parts[1], snapshotId: parts[3], path: rest, q };
  }
  if (parts[0] === 'repos' && parts[1]) return { name: 'repo', repoId: parts[1], q };
  return { name: 'home', q };
}

const SNAPSHOT_TABS = [
  ['overview', 'Overview'], ['graph', 'Graph'], ['files', 'Files'], ['routes', 'Routes'], ['capabilities', 'Capabilities'],
];

let generation = 0;
/** Renders the current URL; a newer navigation makes an older, still loading view stop. */
async function render() {
  const gen = ++generation;
  const route = parseRoute(location.hash);
  const alive = () => gen === generation;
  document.dispatchEvent(new CustomEvent('provis:leave'));
  renderChrome(route);
  clear(main);
  main.setAttribute('aria-busy', 'true');
  main.dataset.view = route.name;
  const ctx = { main, route, alive, navigate };
  try {
    if (route.name === 'graph') await graphView(ctx);
    else if (views[route.name]) await views[route.name](ctx);
    else main.append(h('p', { class: 'error' }, `No view called “${route.name}”. `, h('a', { href: '#/' }, 'Home')));
  } catch (err) {
    if (!alive()) return;
    console.warn('view failed', err);
    clear(main);
    main.append(h('div', { class: 'error', role: 'alert' },
      h('strong', {}, err.code ? `${err.code}: ` : 'Error: '), err.message || String(err)));
  } finally {
    if (alive()) main.setAttribute('aria-busy', 'false');
  }
}

function renderChrome(route) {
  clear(crumbs); clear(tabs);
  const add = (node) => {
    if (crumbs.childNodes.length) crumbs.append(h('span', { class: 'sep', 'aria-hidden': 'true' }, '›'));
    crumbs.append(node);
  };
  add(h('a', { href: '#/' }, 'Repositories'));
  if (route.repoId) add(h('a', { href: `#/repos/${route.repoId}`, id: 'crumb-repo' }, 'repository'));
  if (route.snapshotId) add(h('a', { href: snapHref(route.repoId, route.snapshotId, 'overview') }, `snapshot ${route.snapshotId.slice(-8)}`));
  if (route.name === 'file') add(h('span', { class: 'mono' }, route.path));
  if (route.name === 'job') add(h('span', {}, `job ${route.jobId.slice(-8)}`));
  if (route.snapshotId) {
    for (const [view, label] of SNAPSHOT_TABS) {
      const a = h('a', { href: snapHref(route.repoId, route.snapshotId, view) }, label);
      if (route.name === view) a.setAttribute('aria-current', 'page');
      tabs.append(a);
    }
  }
  if (route.repoId) nameRepo(route.repoId);
}

const repoNames = new Map();
/** Puts the repository's name in the breadcrumb (from `GET /repos/{id}/snapshots`). */
async function nameRepo(repoId) {
  if (!repoNames.has(repoId)) {
    repoNames.set(repoId, getJson(`/repos/${repoId}/snapshots?limit=1`).then((l) => l.repoName).catch(() => null));
  }
  const name = await repoNames.get(repoId);
  const el = document.getElementById('crumb-repo');
  if (name && el) el.textContent = name;
}

/** Goes to a URL of the page (pushes history, so back returns). */
export function navigate(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

// The token dialog: opened from the header, or when the server answers 401.
const dialog = document.getElementById('token-dialog');
const input = document.getElementById('token-input');
function askToken() {
  if (dialog.open) return;
  input.value = token();
  dialog.showModal();
}
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'ok') { setToken(input.value.trim()); render(); }
});
document.getElementById('token-button').addEventListener('click', askToken);
onUnauthorized(askToken);

window.addEventListener('hashchange', render);
render();

// For tests and the benchmark: links the page makes, without reaching into its modules.
window.provis = { fileHref, snapHref, parseRoute };
