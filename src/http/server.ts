import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { installErrorHandler, problem } from './problem.js';
import { httpMetrics } from '../metrics.js';

export const bodyLimitBytes = 64 * 1024;
/**
 * A request (body included) must arrive within this; longer waits of its own (WAIT_MAX_MS, at
 * most 15 s) come after it has arrived. Without it a client sending its body slowly held a
 * socket, and with it the shutdown, indefinitely.
 */
const requestTimeoutMs = 20_000;
/** How often Node checks requestTimeout (its default, 30 s, let a request take up to 50 s). */
const timeoutsCheckedEveryMs = 1_000;
/**
 * On close, connections still open this long after are closed: longer than any request of ours
 * takes once it has arrived (WAIT_MAX_MS is at most 15 s), within SHUTDOWN_TIMEOUT_MS (at least
 * 20 s). Node stops checking requestTimeout once the server closes, so a slow body would
 * otherwise hold the shutdown.
 */
const closeConnectionsAfterMs = 16_000;

/** The HTTP app: each route group is a plugin carrying its own schemas. */
export function buildHttpServer(plugins: FastifyPluginAsync[], trustProxy?: string[]): FastifyInstance {
  // Requests that come while closing get our 503 problem body, not fastify's own.
  const app = Fastify({
    logger: false,
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    http: { connectionsCheckingInterval: timeoutsCheckedEveryMs },
    // On close, idle keep-alive connections are closed at once; busy ones finish their request
    // (and are closed at closeConnectionsAfterMs). The keep-alive timeout stays fastify's 72 s,
    // above load balancers' idle timeouts (a shorter one makes them reuse closed sockets: 502s).
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    trustProxy: trustProxy ?? false,
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    setTimeout(() => app.server.closeAllConnections(), closeConnectionsAfterMs).unref();
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (closing) return problem(reply, 503, 'shutting down');
  });
  // ajv coerces "1e400" or "Infinity" in a query to Infinity for an integer, and then skips
  // maximum (it checks finite numbers only): every route refuses such a query value.
  app.addHook('preHandler', async (req, reply) => {
    const query = (req.query ?? {}) as Record<string, unknown>;
    const name = Object.keys(query).find((key) => typeof query[key] === 'number' && !Number.isFinite(query[key]));
    if (name !== undefined) return problem(reply, 400, `querystring.${name} must be a finite number`, { field: `querystring.${name}` });
  });
  // Every answer, by its route's pattern; requests matching no route count as one "(none)" route.
  app.addHook('onResponse', async (req, reply) => {
    httpMetrics.requestSeconds.observe({ route: req.routeOptions.url ?? '(none)', method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  installErrorHandler(app);
  app.setNotFoundHandler((req, reply) => problem(reply, 404, `no route ${req.method} ${req.url.split('?')[0]}`));
  for (const plugin of plugins) app.register(plugin);
  return app;
}
