// Route table of a Koa app from its own routers: Koa's `use` is wrapped before the app loads,
// so every Koa application the app builds is seen with its middleware; the routes are the
// layers of each koa-router / @koa/router the applications use — `app.use(router.routes())`
// (the dispatch function carries its router) or koa-router 3's `app.use(router(app))` (the
// router is `app.router`). A router nested with `router.use(path, other.routes())` is already
// in its parent's layers with the prefix applied, as koa-router serves it.
// Usage: node truth_koa.js SETUP.js — SETUP exports a function that loads the app (its return
// value is not used). Writes JSON [{method, path, module}] to $TRUTH_OUT (else stdout); the
// HEAD koa-router adds beside each GET is left out.
const path = require('path');

const paths = [process.cwd(), ...(process.env.NODE_PATH || '').split(':')];
const apps = [];

function hookKoa() {
  const Koa = require(require.resolve('koa', { paths }));
  const proto = (Koa.default || Koa).prototype;
  const use = proto.use;
  proto.use = function (fn) {
    if (!apps.includes(this)) apps.push(this);
    return use.call(this, fn);
  };
}

require('./truth_out').run(async () => {
  hookKoa();
  const setup = require(path.resolve(process.argv[2]));
  await setup();
  const routers = new Set();
  for (const app of apps) {
    if (app.router) routers.add(app.router);
    for (const mw of app.middleware || []) if (mw && mw.router) routers.add(mw.router);
  }
  const out = [];
  for (const router of routers) {
    for (const layer of router.stack || router.routes || []) {
      const methods = (layer.methods || []).filter((m) => !(m === 'HEAD' && layer.methods.includes('GET')));
      const p = layer.path instanceof RegExp ? String(layer.path) : layer.path;
      for (const m of methods) out.push({ method: m, path: p, module: '' });
    }
  }
  return out;
});
