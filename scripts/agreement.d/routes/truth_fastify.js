// Route table of a Fastify app from Fastify itself: every instance the app creates gets an
// `onRoute` hook at creation (the `fastify` factory is wrapped before the app loads), so the
// hook is inherited by every plugin context and sees each route as Fastify registers it, with
// the prefixes of `register(plugin, { prefix })` applied by Fastify.
// Usage: node truth_fastify.js SETUP.js — SETUP exports a function returning the root
// instance (or a promise of it). Writes JSON [{method, path, module}] to $TRUTH_OUT (else
// stdout); the HEAD route Fastify adds beside each GET (exposeHeadRoutes) is left out.
const path = require('path');

const paths = [process.cwd(), ...(process.env.NODE_PATH || '').split(':')];
const routes = [];

function hookFastify() {
  const file = require.resolve('fastify', { paths });
  const original = require(file);
  const wrapped = function (...args) {
    const app = original(...args);
    app.addHook('onRoute', (route) => {
      for (const m of [].concat(route.method)) routes.push({ method: m, path: route.url, module: '' });
    });
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
  const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.path));
  const table = routes.filter((r) => !(r.method === 'HEAD' && gets.has(r.path)));
  return table;
});
