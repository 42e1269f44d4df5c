// Loads @node-red/editor-api with admin auth and the editor enabled, a stub runtime and
// storage (no flows, no disk), and returns its admin Express app.
const http = require('http');

const stub = new Proxy(function () {}, {
  get: (target, prop) => (prop === 'then' ? undefined : stub),
  apply: () => Promise.resolve({}),
});

module.exports = async () => {
  const api = require('@node-red/editor-api');
  const settings = {
    httpAdminRoot: '/',
    adminAuth: { type: 'credentials', users: [] },
    disableEditor: false,
    editorTheme: { projects: { enabled: true } },
    get: () => undefined,
  };
  api.init(settings, http.createServer(), stub, stub);
  return api.httpAdmin;
};
