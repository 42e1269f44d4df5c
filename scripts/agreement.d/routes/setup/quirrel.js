// Starts Quirrel's job-queue server (the Fastify app of quirrel/dist/cjs/src/api/scheduler) as
// its own scheduler/main.js does, with what its `quirrel` dev CLI uses instead of a Redis server:
// createRedisFactory() without a URL gives an in-memory ioredis-mock. PASSPHRASES is set (as a
// production deployment sets it), which turns on the /usage and /tokens plugins; no
// JWT_PUBLIC_KEY (so the token routes are kept); telemetry (Sentry, usage pings) is disabled
// and PostHog is left unset since both would reach out to the network. The server listens on
// a free loopback port; the truth reads the table from the returned instance.
const resolve = (id) =>
  require.resolve(id, { paths: [process.cwd(), ...(process.env.NODE_PATH || '').split(':')] });

module.exports = async () => {
  const { createServer } = require(resolve('quirrel/dist/cjs/src/api/scheduler/index.js'));
  const { createRedisFactory } = require(resolve('quirrel/dist/cjs/src/api/shared/create-redis.js'));
  const { app } = await createServer({
    port: 0,
    host: '127.0.0.1',
    redisFactory: createRedisFactory(undefined),
    passphrases: ['agreement-passphrase'],
    disableTelemetry: true,
  });
  return app;
};
