// Route table of a Fastify app from Fastify itself: every instance the app creates gets an
// `onRoute` hook at creation, so the hook is inherited by every plugin context and sees each
// route as Fastify registers it, with the prefixes of `register(plugin, { prefix })` applied by
// Fastify. Instances are caught on the `fastify.initialization` diagnostics channel (Fastify
// 4 and 5 publish each new instance there), which also sees an ES module's `import Fastify from
// 'fastify'` and any other copy of Fastify; the `fastify` factory is wrapped too before the app
// loads, for versions without the channel.
// Usage: node truth_fastify.js SETUP.js — SETUP exports a function returning the root
// instance (or a promise of it). Writes JSON [{method, path, module}] to $TRUTH_OUT (else
// stdout). The HEAD route Fastify adds beside each GET (exposeHeadRoute) is left out: a HEAD
// with the GET's own handler at the same path, also where it carries the other spelling of the
// path (for a plugin's "/" route under a prefix, Fastify registers the GET at "/prefix" and its
// HEAD at "/prefix/", prefixTrailingSlash "both"); a HEAD route the app declares is kept.
const path = require('path');

const paths = [process.cwd(), ...(process.env.NODE_PATH || '').split(':')];
const routes = [];
const hooked = new WeakSet();

function hookInstance(app) {
  if (!app || hooked.has(app)) return;
  hooked.add(app);
  app.addHook('onRoute', (route) => {
    for (const m of [].concat(route.method)) routes.push({ method: m, path: route.url, handler: route.handler });
  });
}

function hookFastify() {
  require('diagnostics_channel').subscribe('fastify.initialization', ({ fastify }) => hookInstance(fastify));
  const file = require.resolve('fastify', { paths });
  const original = require(file);
  const wrapped = function (...args) {
    const app = original(...args);
    hookInstance(app);
    return app;
  };
  Object.assign(wrapped, original);
  wrapped.default = wrapped;
  wrapped.fastify = wrapped;
  require.cache[file].exports = wrapped;
}

require('./truth_out').run(async () => {
  hookFastify();
  const setup = require(path.resolve(process.argv[2]));
  const app = await setup();
  await app.ready();
  const bare = (p) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  const auto = (head) =>
    routes.some((r) => r.method === 'GET' && bare(r.path) === bare(head.path) && r.handler === head.handler);
  return routes
    .filter((r) => !(r.method === 'HEAD' && auto(r)))
    .map((r) => ({ method: r.method, path: r.path, module: '' }));
});
