// Route table of a Next.js app from Next's own route collection: the functions `next build`
// runs before it compiles anything (find-pages-dir, createValidFileMatcher, recursiveReadDir,
// createPagesMapping — synchronous before Next 15, async since —, normalizeAppPath, as in
// next/dist/build/index.js), on the app's source
// in $AGREE_SRC, with the installed `next` the app pins. Its next.config is loaded by Next
// (pageExtensions, basePath); when it cannot load (its own dependencies are not installed)
// Next's defaults are used and a line on stderr says so.
// Usage: node truth_nextjs.js [SETUP.js] — SETUP (optional) exports { env } set before the
// config loads. Writes JSON [{method, path, module}] to $TRUTH_OUT (else stdout): method
// `PAGE` for pages, `ANY` for API routes and route handlers; module `next` for what Next adds
// itself (`/_app`, `/_document`, `/_error`, `/_not-found`), `app` for the app's own files.
const path = require('path');

const req = (m) => require(require.resolve(m, { paths: [process.cwd(), ...(process.env.NODE_PATH || '').split(':')] }));

const RESERVED = new Set(['/_app', '/_document', '/_error', '/_not-found', '/404', '/500']);

require('./truth_out').run(async () => {
  const dir = path.resolve(process.env.AGREE_SRC || '.');
  if (process.argv[2]) {
    const setup = require(path.resolve(process.argv[2]));
    Object.assign(process.env, (setup && setup.env) || {});
  }
  const { findPagesDir } = req('next/dist/lib/find-pages-dir');
  const { createValidFileMatcher } = req('next/dist/server/lib/find-page-file');
  const { recursiveReadDir } = req('next/dist/lib/recursive-readdir');
  const { createPagesMapping } = req('next/dist/build/entries');
  const { normalizeAppPath } = req('next/dist/shared/lib/router/utils/app-paths');
  let pageExtensions = ['tsx', 'ts', 'jsx', 'js'];
  let basePath = '';
  try {
    const loadConfig = req('next/dist/server/config').default;
    const { PHASE_PRODUCTION_BUILD } = req('next/dist/shared/lib/constants');
    const config = await loadConfig(PHASE_PRODUCTION_BUILD, dir);
    pageExtensions = config.pageExtensions || pageExtensions;
    basePath = config.basePath || '';
  } catch (e) {
    console.error(`next.config not loaded (${String(e.message || e).split('\n')[0]}); Next's defaults used`);
  }
  const { pagesDir, appDir } = findPagesDir(dir);
  const matcher = createValidFileMatcher(pageExtensions, appDir);
  const out = [];
  const push = (method, route, internal) =>
    out.push({ method, path: basePath + (route === '/' && basePath ? '' : route), module: internal ? 'next' : 'app' });
  if (pagesDir) {
    const pagePaths = await recursiveReadDir(pagesDir, { pathnameFilter: matcher.isPageFile });
    const pages = await createPagesMapping({ isDev: false, pageExtensions, pagesType: 'pages', pagePaths, pagesDir, appDir });
    for (const route of Object.keys(pages)) {
      const api = route === '/api' || route.startsWith('/api/');
      push(api ? 'ANY' : 'PAGE', route, RESERVED.has(route));
    }
  }
  if (appDir) {
    const appPaths = await recursiveReadDir(appDir, {
      pathnameFilter: (p) => matcher.isAppRouterPage(p) || matcher.isRootNotFound(p),
      ignorePartFilter: (part) => part.startsWith('_'),
    });
    const pages = await createPagesMapping({ isDev: false, pageExtensions, pagesType: 'app', pagePaths: appPaths, pagesDir, appDir });
    for (const key of Object.keys(pages)) {
      // A split sitemap's page key names its id without the `.xml` its URLs end in.
      const route = (normalizeAppPath(key) || '/').replace(/\/sitemap\/\[__metadata_id__\]$/, '/sitemap/[__metadata_id__].xml');
      push(key.endsWith('/route') ? 'ANY' : 'PAGE', route, RESERVED.has(route));
    }
  }
  return out;
});
