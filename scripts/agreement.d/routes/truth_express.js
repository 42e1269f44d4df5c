// Route table of an Express app from its own router stack (what express-list-endpoints reads).
// Usage: node truth_express.js SETUP.js — SETUP exports a function returning the app (or a
// promise of it), after whatever stubbing the app needs to load. Writes JSON
// [{method, path, module}] to $TRUTH_OUT (else stdout).
const path = require('path');

function mountPath(layer) {
  if (layer.path !== undefined && typeof layer.path === 'string') return layer.path;
  const re = layer.regexp;
  if (!re || re.fast_slash) return '';
  // Express 4 mount regexps: /^\/api\/?(?=\/|$)/i
  let src = re.source
    .replace('\\/?(?=\\/|$)', '')
    .replace(/^\^/, '')
    .replace(/\\\//g, '/');
  (layer.keys || []).forEach((k) => {
    src = src.replace('(?:([^\\/]+?))', `:${k.name}`);
  });
  return src;
}

function walk(stack, prefix, out) {
  for (const layer of stack || []) {
    if (layer.route) {
      const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all');
      if (layer.route.methods._all) methods.push('all');
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        for (const m of methods) {
          out.push({ method: m.toUpperCase(), path: prefix + (p === '/' && prefix ? '' : p), module: '' });
        }
      }
    } else if (layer.handle && layer.handle.stack) {
      walk(layer.handle.stack, prefix + mountPath(layer), out);
    } else if (layer.subApp) {
      const r = layer.subApp._router || layer.subApp.router;
      if (r) walk(r.stack, prefix + mountPath(layer), out);
    }
  }
}

// A sub-application mounted with `app.use(path, subApp)` hides behind a closure in the
// router stack: remember it on its layer.
function rememberSubApps() {
  let express;
  try {
    express = require(require.resolve('express', { paths: [process.cwd(), ...(process.env.NODE_PATH || '').split(':')] }));
  } catch (e) {
    return;
  }
  const use = express.application.use;
  express.application.use = function (...args) {
    const ret = use.apply(this, args);
    const stack = (this._router || this.router || {}).stack || [];
    const apps = args.flat().filter((a) => a && typeof a.handle === 'function' && typeof a.set === 'function');
    for (const sub of apps.reverse()) {
      for (let i = stack.length - 1; i >= 0; i--) {
        if (stack[i].name === 'mounted_app' && !stack[i].subApp) {
          stack[i].subApp = sub;
          break;
        }
      }
    }
    return ret;
  };
}

require('./truth_out').run(async () => {
  rememberSubApps();
  const setup = require(path.resolve(process.argv[2]));
  const app = await setup();
  const router = app._router || app.router;
  const out = [];
  walk(router.stack, '', out);
  // Apps log to stdout: the table goes to TRUTH_OUT when set.
  return out;
});
