import { randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { CommandSender } from '../kafka/command-sender.js';
import { AccountView, HistoryEntry, Stats } from '../../actors/projections/read-models.js';
import { CommandResult } from '../../topics/command-results.js';
import { AggregateId as AccountId, checkPublicCommand, encodeCommand } from '../../topics/commands.js';
import type { ReadModels } from '../redis/read-models.js';
import { dependency, problem, Problem } from './problem.js';
import type { VersionWaiter } from './version-waiter.js';
import type { AccountCache } from './account-cache.js';
import { clientKey, overLimit, type RateLimit } from './rate-limit.js';
import type { Redis } from 'ioredis';
import { logger, throttledLog } from '../log.js';
import { apiMetrics } from '../metrics.js';
import { withTimeout } from '../timeout.js';

const log = logger('api');
/** During an outage these repeat per request or per retry: a line per 10 s, with how many were left out. */
const logRepeated = throttledLog(log, 10_000);

export interface ApiOptions {
  readonly readModels: ReadModels;
  readonly waiter: VersionWaiter;
  readonly sender: CommandSender;
  /** Longest wait of GET /accounts/:id?minVersion and POST /commands?wait=true. */
  readonly waitMaxMs: number;
  readonly cache: AccountCache;
  /** Counts POST /commands per client. */
  readonly rateLimit: RateLimit & { readonly redis: Redis; readonly keyPrefix: string };
}

export const historyPageSizeMax = 100;
/** ?wait=true polls Redis for the result after 25 ms, then every 50, 100, 200 ms: a slow command costs Redis 5 calls a second, not 40. */
const resultPollFirstMs = 25;
const resultPollMaxMs = 200;
/** A POST whose command Kafka has not acknowledged by then answers 503 (the send goes on, and may land). */
export const commandSendTimeoutMs = 10_000;
/** Sends not yet acknowledged (those whose POST gave up included); beyond, a POST answers 503 without sending. */
export const sendsInFlightMax = 10_000;
/** The same per partition: one without a leader (its sends retry until it has one) fills only its own share. */
export const sendsInFlightPerPartitionMax = 2_000;
/** The same in bytes of command bodies (a body is at most 64 KiB). */
export const sendBytesInFlightMax = 64 * 1024 * 1024;
/** POST ?wait=true requests polling for their result at once; beyond, a POST answers 202 pending without waiting. */
export const resultWaitersMax = 1_000;

const Accepted = Type.Object({ commandId: Type.String(), partition: Type.Integer(), offset: Type.String(), status: Type.Optional(Type.Literal('pending')) });

export const apiRoutes =
  (o: ApiOptions): FastifyPluginAsync =>
  async (app) => {
    const problems = { 400: Problem, 404: Problem, 409: Problem, 503: Problem };
    let resultWaiters = 0;
    let sendsInFlight = 0;
    let sendBytesInFlight = 0;

    app.get<{ Params: { id: string }; Querystring: { minVersion?: number } }>(
      '/accounts/:id',
      {
        schema: {
          params: Type.Object({ id: AccountId }),
          querystring: Type.Object({ minVersion: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) }),
          response: { 200: AccountView, ...problems },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const { minVersion } = req.query;
        const cached = o.cache.get(id, minVersion);
        if (cached) return cached;
        if (minVersion !== undefined) {
          const reached = await dependency('redis', () => o.waiter.waitFor(id, minVersion, o.waitMaxMs, () => o.readModels.version(id)));
          if (reached < minVersion) {
            reply.header('retry-after', '1');
            return problem(reply, 409, `the read model of ${id} is at version ${reached}, below minVersion ${minVersion} after ${o.waitMaxMs} ms`, { version: reached });
          }
        }
        const token = o.cache.expect(id);
        const view = await dependency('redis', () => o.readModels.account(id)).catch((err: unknown) => {
          o.cache.abandon(id, token);
          throw err;
        });
        if (!view) {
          o.cache.abandon(id, token);
          return problem(reply, 404, `no account ${id}`);
        }
        o.cache.set(view, token);
        return view;
      },
    );

    app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: number } }>(
      '/accounts/:id/transactions',
      {
        schema: {
          params: Type.Object({ id: AccountId }),
          querystring: Type.Object({
            limit: Type.Integer({ minimum: 1, maximum: historyPageSizeMax, default: 20 }),
            cursor: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
          }),
          response: { 200: Type.Object({ items: Type.Array(HistoryEntry), nextCursor: Type.Union([Type.Integer(), Type.Null()]) }), ...problems },
        },
      },
      async (req) => dependency('redis', () => o.readModels.history(req.params.id, req.query.limit, req.query.cursor)),
    );

    app.get(
      '/stats',
      { schema: { response: { 200: Stats, 503: Problem } } },
      async () => dependency('redis', () => o.readModels.stats()),
    );

    app.get<{ Params: { commandId: string } }>(
      '/commands/:commandId',
      { schema: { params: Type.Object({ commandId: Type.String({ minLength: 1, maxLength: 200 }) }), response: { 200: CommandResult, ...problems } } },
      async (req, reply) => (await dependency('redis', () => o.readModels.result(req.params.commandId))) ?? problem(reply, 404, `no result for ${req.params.commandId} (yet)`),
    );

    app.post<{ Body: Record<string, unknown>; Querystring: { wait?: boolean } }>(
      '/commands',
      {
        schema: {
          // The body is checked below by the commands topic's own codecs (one schema per message),
          // which name the exact field; an anyOf over the command types could not.
          body: Type.Object({}, { additionalProperties: true }),
          querystring: Type.Object({ wait: Type.Optional(Type.Boolean()) }),
          response: { 200: CommandResult, 202: Accepted, 429: Problem, ...problems },
        },
      },
      async (req, reply) => {
        const { redis, keyPrefix } = o.rateLimit;
        const client = clientKey(req.ip);
        const retryAfterMs = await dependency('redis', () => overLimit(redis, keyPrefix, client, o.rateLimit));
        if (retryAfterMs !== undefined) {
          apiMetrics.rateLimited.inc();
          reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
          return problem(reply, 429, `more than ${o.rateLimit.requestsPerWindow} commands in ${o.rateLimit.windowMs} ms from ${client}`);
        }
        const candidate = { commandId: randomUUID(), issuedAt: new Date().toISOString(), ...req.body };
        const checked = checkPublicCommand(candidate);
        if (!checked.ok) {
          const field = `body.${checked.reason.slice(0, checked.reason.indexOf(':'))}`;
          return problem(reply, 400, `body.${checked.reason}`, { field });
        }
        const command = checked.value;
        const value = encodeCommand(command);
        const partition = o.sender.partitionOf(command.aggregateId);
        const waiting = o.sender.waiting(partition);
        const backlog =
          sendsInFlight >= sendsInFlightMax || sendBytesInFlight + value.length > sendBytesInFlightMax
            ? `${sendsInFlight} commands (${sendBytesInFlight} bytes) wait for it already`
            : waiting >= sendsInFlightPerPartitionMax
              ? `${waiting} commands for partition ${partition} wait for it already`
              : undefined;
        if (backlog !== undefined) {
          return problem(reply, 503, `kafka unavailable: ${backlog}; retry with commandId ${command.commandId}`, { commandId: command.commandId });
        }
        const startedMs = Date.now();
        sendsInFlight++;
        sendBytesInFlight += value.length;
        const send = o.sender.send(command.aggregateId, value, partition).finally(() => {
          sendsInFlight--;
          sendBytesInFlight -= value.length;
        });
        const sent = await withTimeout(send, commandSendTimeoutMs, 'kafka did not acknowledge the command').catch((err: Error) => err);
        if (sent instanceof Error) {
          // Perhaps written all the same: the client retries with this commandId, and the processor answers a duplicate.
          logRepeated('warn', 'send', 'producing a command failed', { commandId: command.commandId, error: sent.message });
          return problem(reply, 503, `kafka unavailable: ${sent.message}; the command may have been written: retry with commandId ${command.commandId}`, { commandId: command.commandId });
        }
        const accepted = { commandId: command.commandId, partition: sent.partition, offset: sent.offset };
        if (!req.query.wait || resultWaiters >= resultWaitersMax) return reply.code(202).send(req.query.wait ? { ...accepted, status: 'pending' as const } : accepted);
        // The command is in Kafka now: Redis failing while we wait is not a 503, which a client
        // would retry (with a new commandId if it did not choose one), but a pending outcome.
        resultWaiters++;
        const result = await pollResult(o.readModels, command.commandId, command.aggregateId, startedMs + o.waitMaxMs)
          .catch((err: unknown) => {
            logRepeated('warn', 'result', 'waiting for a command result failed; answering pending', { commandId: command.commandId, error: String(err) });
            return undefined;
          })
          .finally(() => resultWaiters--);
        return result ? reply.code(200).send(result) : reply.code(202).send({ ...accepted, status: 'pending' as const });
      },
    );
  };

/** Polls until deadlineMs (the request's start plus waitMaxMs, so a slow send shortens the wait). */
async function pollResult(readModels: ReadModels, commandId: string, aggregateId: string, deadlineMs: number): Promise<Static<typeof CommandResult> | undefined> {
  for (let pauseMs = resultPollFirstMs; ; pauseMs = Math.min(resultPollMaxMs, pauseMs * 2)) {
    const found = await readModels.result(commandId);
    const result = found?.aggregateId === aggregateId ? found : undefined; // commandIds are unique per account only
    if (result || Date.now() >= deadlineMs) return result;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs, Math.max(0, deadlineMs - Date.now()))));
  }
}
