import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { installErrorHandler } from './problem.js';

export const bodyLimitBytes = 64 * 1024;

/** The HTTP app: each route group is a plugin carrying its own schemas. */
export function buildHttpServer(plugins: FastifyPluginAsync[]): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: bodyLimitBytes, return503OnClosing: true });
  installErrorHandler(app);
  for (const plugin of plugins) app.register(plugin);
  return app;
}
