// Builds verdaccio's Express app from its shipped default configuration, with storage,
// plugins and htpasswd in a fresh temporary folder.
const fs = require('fs');
const os = require('os');
const path = require('path');

module.exports = async () => {
  const verdaccio = require('verdaccio');
  const config = verdaccio.parseConfigFile(require.resolve('verdaccio/conf/default.yaml'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdaccio-'));
  config.self_path = path.join(dir, 'config.yaml');
  config.storage = path.join(dir, 'storage');
  config.plugins = path.join(dir, 'plugins');
  config.auth = { htpasswd: { file: path.join(dir, 'htpasswd') } };
  const defineAPI = require('verdaccio/build/api/index').default;
  return defineAPI(config);
};
