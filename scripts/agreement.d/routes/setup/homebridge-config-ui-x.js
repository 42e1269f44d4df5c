// Starts homebridge-config-ui-x (NestJS on the Fastify adapter) as its own `dist/main.js` does,
// with a fresh Homebridge storage folder holding a minimal config.json (the UI on a free
// loopback port), and returns the Fastify instance under the Nest app.
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

module.exports = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'homebridge-'));
  const port = await freePort();
  const config = {
    bridge: { name: 'Homebridge', username: '0E:00:00:00:00:01', port: 51826, pin: '031-45-154' },
    platforms: [{ platform: 'config', name: 'Config', port, host: '127.0.0.1' }],
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  process.env.UIX_STORAGE_PATH = dir;
  process.env.UIX_CONFIG_PATH = path.join(dir, 'config.json');
  const main = require.resolve('homebridge-config-ui-x/dist/main.js', {
    paths: [process.cwd(), ...(process.env.NODE_PATH || '').split(':')],
  });
  const { app } = await import(main);
  const nest = await app;
  return nest.getHttpAdapter().getInstance();
};
