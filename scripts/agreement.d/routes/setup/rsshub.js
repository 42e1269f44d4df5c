// Loads RSSHub's Koa application (lib/app.js, what lib/index.js builds before it listens) from
// the analysed source ($AGREE_SRC), not from an installed copy: the `rsshub` package cannot be
// installed here, since its dependency @postlight/mercury-parser pulls two packages from GitHub.
// The app's entry in the apps list installs rsshub's other dependencies at the versions its
// package.json pins, and a stub stands in for @postlight/mercury-parser, which only the
// `mode=fulltext` branch of middleware/parameter.js calls, per request. Default configuration:
// in-memory cache (no Redis), no log files, no listening.
const fs = require('fs');
const Module = require('module');
const os = require('os');
const path = require('path');

module.exports = async () => {
  process.env.NO_LOGFILES = '1';
  const stub = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rsshub-')), 'mercury-parser.js');
  fs.writeFileSync(stub, 'module.exports = { parse() { throw new Error("stub"); } };\n');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === '@postlight/mercury-parser' ? stub : resolve.call(this, request, ...rest);
  };
  require(path.join(process.env.AGREE_SRC, 'lib', 'app.js'));
};
