import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { installErrorHandler, problem } from './problem.js';

export const bodyLimitBytes = 64 * 1024;

/** The HTTP app: each route group is a plugin carrying its own schemas. */
export function buildHttpServer(plugins: FastifyPluginAsync[], trustProxy?: string[]): FastifyInstance {
  // Requests that come while closing get our 503 problem body, not fastify's own.
  const app = Fastify({ logger: false, bodyLimit: bodyLimitBytes, return503OnClosing: false, trustProxy: trustProxy ?? false });
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
  installErrorHandler(app);
  app.setNotFoundHandler((req, reply) => problem(reply, 404, `no route ${req.method} ${req.url.split('?')[0]}`));
  for (const plugin of plugins) app.register(plugin);
  return app;
}
