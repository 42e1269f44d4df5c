// Loads both of cnpmjs.org's Koa servers (the registry and the web site) as its dispatch.js
// does, without listening. Its default configuration uses SQLite through Sequelize, which
// loads the native `sqlite3` module when the servers are built; no query runs, so a stub
// stands in for it (its native build cannot be fetched here).
const fs = require('fs');
const Module = require('module');
const os = require('os');
const path = require('path');

module.exports = async () => {
  const stub = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cnpm-')), 'sqlite3.js');
  fs.writeFileSync(stub, 'function Database() {}\nmodule.exports = { verbose() { return module.exports; }, Database };\n');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === 'sqlite3' ? stub : resolve.call(this, request, ...rest);
  };
  const paths = [process.cwd(), ...(process.env.NODE_PATH || '').split(':')];
  require(require.resolve('cnpmjs.org/servers/registry.js', { paths }));
  require(require.resolve('cnpmjs.org/servers/web.js', { paths }));
};
