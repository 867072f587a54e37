import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { registry } from '../metrics.js';

/** GET /metrics in the Prometheus text format. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { schema: { response: { 200: Type.String({ description: 'Prometheus text exposition format' }) } } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};
