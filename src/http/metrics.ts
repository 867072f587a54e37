import type { FastifyPluginAsync } from 'fastify';
import { registry } from '../metrics.js';

/** GET /metrics in the Prometheus text format. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
};
