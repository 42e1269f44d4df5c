// Builds turborepo-remote-cache's Fastify server with its own createApp() (dist/app.js, what its
// CLI dist/index.js listens with), on the default local storage provider in a fresh temporary
// folder and static token auth (TURBO_TOKEN set), so no cloud storage or JWKS server is reached.
// The package is ESM: it is imported by path, after the truth has wrapped `fastify`.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL } = require('url');

module.exports = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'turbo-cache-'));
  Object.assign(process.env, {
    NODE_ENV: 'production',
    STORAGE_PROVIDER: 'local',
    STORAGE_PATH: dir,
    STORAGE_PATH_USE_TMP_FOLDER: 'false',
    TURBO_TOKEN: 'agreement-token',
    LOG_LEVEL: 'error',
  });
  const file = require.resolve('turborepo-remote-cache', { // dist/app.js
    paths: [process.cwd(), ...(process.env.NODE_PATH || '').split(':')],
  });
  const { createApp } = await import(pathToFileURL(file).href);
  return createApp({ logger: false });
};
