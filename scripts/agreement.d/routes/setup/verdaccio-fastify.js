// Builds verdaccio's experimental Fastify server (@verdaccio/server-fastify) from verdaccio's
// shipped default configuration, with storage and htpasswd in a fresh temporary folder.
const fs = require('fs');
const os = require('os');
const path = require('path');

module.exports = async () => {
  const { parseConfigFile } = require('@verdaccio/config');
  const config = parseConfigFile(require.resolve('@verdaccio/config/build/conf/default.yaml'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdaccio-fastify-'));
  config.self_path = path.join(dir, 'config.yaml');
  config.configPath = config.self_path;
  config.storage = path.join(dir, 'storage');
  config.auth = { htpasswd: { file: path.join(dir, 'htpasswd') } };
  // The server hands verdaccio's shared logger to Fastify and the storage: set it up first.
  require('@verdaccio/logger').setup({ type: 'stdout', format: 'json', level: 'error' });
  const startServer = require('@verdaccio/server-fastify').default || require('@verdaccio/server-fastify');
  return startServer(config);
};
