import type { FastifyPluginAsync } from 'fastify';

/** A dependency the service needs; check() throws when it is not usable. */
export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

const checkTimeoutMs = 2_000;

const healthResponse = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['status'],
        properties: { status: { type: 'string', enum: ['up', 'down'] }, error: { type: 'string' } },
      },
    },
  },
} as const;

/** GET /health: 200 when every check passes within checkTimeoutMs, else 503 naming the failures. */
export const healthRoutes =
  (checks: HealthCheck[]): FastifyPluginAsync =>
  async (app) => {
    app.get('/health', { schema: { response: { 200: healthResponse, 503: healthResponse } } }, async (_req, reply) => {
      const results = await Promise.all(checks.map(async ({ name, check }) => [name, await runCheck(check)] as const));
      const ok = results.every(([, result]) => result.status === 'up');
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: Object.fromEntries(results) });
    });
  };

async function runCheck(check: () => Promise<void>): Promise<{ status: 'up' | 'down'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
