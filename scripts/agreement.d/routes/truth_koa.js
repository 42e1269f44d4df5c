// Route table of a Koa app from its own routers: Koa's `use` is wrapped before the app loads,
// so every Koa application the app builds is seen with its middleware; the routes are the
// layers of each koa-router / @koa/router the applications use — `app.use(router.routes())`
// (the dispatch function carries its router) or koa-router 3's `app.use(router(app))` (the
// router is `app.router`). A router nested with `router.use(path, other.routes())` is already
// in its parent's layers with the prefix applied, as koa-router serves it. koa-mount is
// wrapped too, so that `app.use(mount(prefix, x))` is followed into x (a router's dispatch, a
// middleware or another Koa application) with the prefix put before its routes; a Koa
// application mounted that way is read only through its mounts.
// Usage: node truth_koa.js SETUP.js — SETUP exports a function that loads the app (its return
// value is not used). Writes JSON [{method, path, module}] to $TRUTH_OUT (else stdout); the
// HEAD koa-router adds beside each GET is left out.
const path = require('path');
const Module = require('module');

const paths = [process.cwd(), ...(process.env.NODE_PATH || '').split(':')];
const apps = [];
const mounts = new WeakMap(); // function koa-mount returned -> {prefix, target}

function hookKoa() {
  const Koa = require(require.resolve('koa', { paths }));
  const proto = (Koa.default || Koa).prototype;
  const use = proto.use;
  proto.use = function (fn) {
    if (!apps.includes(this)) apps.push(this);
    return use.call(this, fn);
  };
}

function hookMount() {
  const load = Module._load;
  const wrapped = new Map();
  Module._load = function (request, parent, ...rest) {
    const exp = load.call(this, request, parent, ...rest);
    let file;
    try {
      file = Module._resolveFilename(request, parent);
    } catch (e) {
      return exp;
    }
    if (typeof exp !== 'function' || !/[\\/]node_modules[\\/]koa-mount[\\/]index\.js$/.test(file)) return exp;
    if (!wrapped.has(exp)) {
      wrapped.set(exp, function mount(prefix, target) {
        const fn = exp.apply(this, arguments);
        if (typeof prefix !== 'string') [prefix, target] = ['/', prefix];
        if (typeof fn === 'function' && !mounts.has(fn)) mounts.set(fn, { prefix, target });
        return fn;
      });
    }
    return wrapped.get(exp);
  };
}

function join(prefix, p) {
  return prefix === '/' ? p : prefix.replace(/\/$/, '') + p;
}

require('./truth_out').run(async () => {
  hookKoa();
  hookMount();
  const setup = require(path.resolve(process.argv[2]));
  await setup();
  const mountedApps = new Set();
  for (const app of apps) {
    for (const mw of app.middleware || []) {
      const m = mounts.get(mw);
      if (m && m.target && m.target.middleware) mountedApps.add(m.target);
    }
  }
  const routers = []; // [router, prefix], each pair once
  const prefixes = new Map(); // router -> Set of prefixes already taken
  const addRouter = (router, prefix) => {
    if (!prefixes.has(router)) prefixes.set(router, new Set());
    if (prefixes.get(router).has(prefix)) return;
    prefixes.get(router).add(prefix);
    routers.push([router, prefix]);
  };
  const walk = (fns, prefix, depth) => {
    if (depth > 20) return;
    for (const mw of fns) {
      if (!mw) continue;
      if (mw.router) {
        addRouter(mw.router, prefix);
        continue;
      }
      const m = mounts.get(mw);
      if (!m || !m.target) continue;
      const p = join(prefix, m.prefix);
      if (m.target.middleware) {
        if (m.target.router) addRouter(m.target.router, p);
        walk(m.target.middleware, p, depth + 1);
      } else {
        walk([m.target], p, depth + 1);
      }
    }
  };
  for (const app of apps) {
    if (mountedApps.has(app)) continue;
    if (app.router) addRouter(app.router, '/');
    walk(app.middleware || [], '/', 0);
  }
  const out = [];
  for (const [router, prefix] of routers) {
    for (const layer of router.stack || router.routes || []) {
      const methods = (layer.methods || []).filter((m) => !(m === 'HEAD' && layer.methods.includes('GET')));
      const p = layer.path instanceof RegExp ? String(layer.path) : join(prefix, layer.path);
      for (const m of methods) out.push({ method: m, path: p, module: '' });
    }
  }
  return out;
});
