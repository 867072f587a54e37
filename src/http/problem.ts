import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { logger } from '../log.js';

const log = logger('http');

/** An RFC 9457 problem body: every error answer of the API has this shape. */
export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  field: Type.Optional(Type.String()),
  version: Type.Optional(Type.Integer()),
  /** A POST's command that may have been written despite the error: retry with this id. */
  commandId: Type.Optional(Type.String()),
});

export class Unavailable extends Error {
  readonly statusCode = 503;
}

/** A call to Redis or Kafka: its failure is the service being unavailable (503), not a bug (500). */
export async function dependency<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Unavailable) throw err; // says already what is unavailable
    throw new Unavailable(`${what} unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function problem(reply: FastifyReply, status: number, detail: string, extra: { field?: string; version?: number; commandId?: string } = {}) {
  const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Read model behind', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 503: 'Service Unavailable' };
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title: titles[status] ?? 'Error', status, detail, ...extra });
}

/** 400 naming the field for schema failures, 503 for Redis/Kafka, the status of other HTTP errors. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const [first] = err.validation;
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const path = `${first?.instancePath ?? ''}${missing ? `/${missing}` : ''}`.replaceAll('/', '.').replace(/^\./, '');
      const field = `${err.validationContext ?? 'request'}${path ? `.${path}` : ''}`;
      return problem(reply, 400, `${field} ${first?.message ?? 'is invalid'}`, { field });
    }
    const status = err.statusCode ?? 500;
    // A bug: the client gets "internal error", the log gets what happened (fastify's own logger is off).
    if (status >= 500 && !(err instanceof Unavailable)) log.error('request failed', { method: req.method, url: req.url.split('?')[0], error: err.stack ?? String(err) });
    // fastify's content-type and body parsing errors (FST_ERR_CTP_*): the body is what is wrong.
    const field = err.code?.startsWith('FST_ERR_CTP_') ? 'body' : undefined;
    return problem(reply, status, status === 500 ? 'internal error' : err.message, field ? { field } : {});
  });
}

