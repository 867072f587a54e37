import type { FastifyPluginAsync } from 'fastify';

/** What a passing check may add to its entry: state worth seeing that is no failure (a restore in progress, say). */
export type HealthDetail = Readonly<Record<string, number | string | readonly number[]>>;

/** A dependency the service needs; check() throws when it is not usable. */
export interface HealthCheck {
  readonly name: string;
  check(): Promise<void | HealthDetail>;
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
        properties: { status: { type: 'string', enum: ['up', 'down'] }, error: { type: 'string' }, detail: { type: 'object', additionalProperties: true } },
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

async function runCheck(check: () => Promise<void | HealthDetail>): Promise<{ status: 'up' | 'down'; error?: string; detail?: HealthDetail }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  try {
    const detail = await Promise.race([check(), timeout]);
    return detail ? { status: 'up', detail } : { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
