import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { installErrorHandler, problem } from './problem.js';
import { httpMetrics } from '../metrics.js';

export const bodyLimitBytes = 64 * 1024;
/**
 * A request (body included) must arrive within this; longer waits of its own (WAIT_MAX_MS, at
 * most 15 s) come after it has arrived. Without it a client sending its body slowly held a
 * socket, and with it the shutdown, indefinitely.
 */
export const requestTimeoutMs = 20_000;
/** An idle keep-alive connection is closed after this. */
const keepAliveTimeoutMs = 5_000;

/** The HTTP app: each route group is a plugin carrying its own schemas. */
export function buildHttpServer(plugins: FastifyPluginAsync[], trustProxy?: string[]): FastifyInstance {
  // Requests that come while closing get our 503 problem body, not fastify's own.
  const app = Fastify({
    logger: false,
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    // On close, idle keep-alive connections are closed at once; busy ones finish their request.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    trustProxy: trustProxy ?? false,
  });
  let closing = false;
  app.addHook('preClose', async () => void (closing = true));
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
