import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { startRedis } from '../../src/stack/redis.js';
import { startKafka } from '../../src/stack/kafka.js';
import { commandSendTimeoutMs } from '../../src/http/api.js';
import { stopPid } from '../../src/stack/process.js';
import { deployment, partitions, produce } from '../support/deployment.js';
import { startRoles, type RoleProcess } from '../support/processes.js';
import { tempDir, testEnv } from '../support/env.js';
import { until } from '../support/until.js';
import { buildWorkload } from '../support/ledger-model.js';
import { Redis } from 'ioredis';

const issuedAt = '2026-01-01T00:00:00Z';
/** Read-your-writes waits up to this: on a loaded 2-core machine a transaction and its projection can take more than the default 5 s. */
const readYourWritesEnv = { WAIT_MAX_MS: '15000' };
const callTimeoutMs = 30_000;

type Reply = { status: number; json: any; headers: Headers };

async function call(port: number, method: string, path: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(callTimeoutMs), // a request that hangs fails its test instead of the run
  });
  const text = await response.text();
  return { status: response.status, json: text.startsWith('{') ? JSON.parse(text) : text, headers: response.headers };
}

test('commands by POST and by a raw Kafka producer; read-your-writes; views, history, stats, results', async () => {
  const d = await deployment(readYourWritesEnv);
  const roles: RoleProcess[] = [await startRoles('processor', d.env), await startRoles('projector', d.env), await startRoles('api', d.env)];
  const port = roles[2]!.port;
  try {
    for (const id of ['acc-a', 'acc-b']) {
      const opened = await call(port, 'POST', '/commands?wait=true', { commandId: `open-${id}`, type: 'OpenAccount', aggregateId: id, payload: { ownerId: 'ann', currency: 'EUR' } });
      assert.equal({ status: opened.status, json: opened.json }, { status: 200, json: { commandId: `open-${id}`, aggregateId: id, status: 'accepted', version: 1 } });
    }
    await produce(d.topics.commands.name, [{ commandId: 'dep-1', type: 'Deposit', aggregateId: 'acc-a', payload: { amount: 300 }, issuedAt }]);
    const deposited = await call(port, 'GET', '/accounts/acc-a?minVersion=2');
    assert.is(deposited.status, 200);
    assert.equal([deposited.json.balance, deposited.json.version], [300, 2], 'the raw Kafka command is visible');

    const transfer = await call(port, 'POST', '/commands', { commandId: 'tr-1', type: 'TransferMoney', aggregateId: 'acc-a', payload: { transferId: 't1', toAccountId: 'acc-b', amount: 120 } });
    assert.is(transfer.status, 202);
    assert.equal(Object.keys(transfer.json).sort(), ['commandId', 'offset', 'partition']);
    const target = await call(port, 'GET', '/accounts/acc-b?minVersion=2');
    assert.equal([target.status, target.json.balance, target.json.version], [200, 120, 2], 'read-your-writes on the saga credit');
    const source = await call(port, 'GET', '/accounts/acc-a?minVersion=3');
    assert.equal([source.json.balance, source.json.status, source.json.ownerId, source.json.currency], [180, 'open', 'ann', 'EUR']);

    const page1 = await call(port, 'GET', '/accounts/acc-a/transactions?limit=1');
    assert.equal(page1.json.items.map((e: { type: string; amount: number }) => [e.type, e.amount]), [['TransferDebited', -120]]);
    assert.is(page1.json.nextCursor, 3);
    const page2 = await call(port, 'GET', `/accounts/acc-a/transactions?limit=1&cursor=${page1.json.nextCursor}`);
    assert.equal(page2.json.items.map((e: { type: string; amount: number }) => [e.type, e.amount]), [['MoneyDeposited', 300]]);
    assert.is(page2.json.nextCursor, null);

    assert.equal((await call(port, 'GET', '/stats')).json, { accounts: { open: 2, closed: 0 }, balances: { EUR: 300 } });
    // Results are projected from their own topic, not with the events: the account's version does not imply its result is there yet.
    let result!: Reply;
    await until('the result of tr-1', async () => (result = await call(port, 'GET', '/commands/tr-1')).status !== 404, 15_000, 100);
    assert.equal(result.json, { commandId: 'tr-1', aggregateId: 'acc-a', status: 'accepted', version: 3 });
    const again = await call(port, 'POST', '/commands?wait=true', { commandId: 'dep-1', type: 'Deposit', aggregateId: 'acc-a', payload: { amount: 300 }, issuedAt });
    assert.equal(again.json, { commandId: 'dep-1', aggregateId: 'acc-a', status: 'accepted', version: 2 }, 'a repeated command answers the original outcome');
    const next = await call(port, 'POST', '/commands?wait=true', { commandId: 'dep-2', type: 'Deposit', aggregateId: 'acc-a', payload: { amount: 1 } });
    assert.equal([next.json.status, next.json.version], ['accepted', 4], 'the repeat applied nothing: the next command is version 4, not 5');
    assert.is((await call(port, 'GET', '/accounts/acc-a?minVersion=4')).json.balance, 181);
    // The processor's entry also says the partitions' state: it owns them all, each opened (restored), none failing.
    const expected = { processor: { status: 'up', detail: { partitionsOwned: partitions, restoring: [], openFailing: [], backingOff: [] } }, projector: { status: 'up' } };
    for (const [role, name] of [[roles[0]!, 'processor'], [roles[1]!, 'projector']] as const) {
      const health = await call(role.port, 'GET', '/health');
      assert.equal([health.status, health.json.checks[name]], [200, expected[name]], `${name} role's /health`);
    }
  } finally {
    for (const role of roles) await role.stop();
  }
});

test('a mixed workload, some accounts by POST and the rest by a raw producer: every view, history, result and the stats through the API equal the model', async () => {
  const d = await deployment({ ...readYourWritesEnv, RATE_LIMIT_REQUESTS: '100000' });
  const w = buildWorkload(d.ns, 11, { senders: 20, receivers: 15, refunders: 4, ops: 800 });
  // The senders' commands go by POST, in order, after every other account's by Kafka: the
  // receivers are open before any credit reaches them, and each account's commands keep their order.
  const bySender = (c: (typeof w.commands)[number]) => c.aggregateId.startsWith(`${d.ns}-s-`);
  const posted = w.commands.filter(bySender);
  await produce(d.topics.commands.name, w.commands.filter((c) => !bySender(c)), w.poison);
  const roles: RoleProcess[] = [await startRoles('processor', d.env), await startRoles('projector', d.env), await startRoles('api', d.env)];
  const port = roles[2]!.port;
  try {
    // Amounts that are not positive safe integers are the decider's rejections, not the API's: every POST is sent.
    for (const command of posted) {
      const sent = await call(port, 'POST', '/commands', command);
      assert.is(sent.status, 202, JSON.stringify(sent.json));
    }

    let eur = 0;
    for (const [id, version] of w.versions) {
      const view = await call(port, 'GET', `/accounts/${encodeURIComponent(id)}?minVersion=${version}`);
      assert.is(view.status, 200, `${id}: ${JSON.stringify(view.json)}`);
      assert.equal([view.json.version, view.json.balance, view.json.status], [version, w.balances.get(id), 'open'], `view of ${id}`);
      if (view.json.currency === 'EUR') eur += view.json.balance;
      // The history, page by page, newest first: every money event once, the newest at the view's balance.
      const seqs: number[] = [];
      let cursor: number | null | undefined;
      let newestBalance: number | undefined;
      do {
        const page = await call(port, 'GET', `/accounts/${encodeURIComponent(id)}/transactions?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        assert.is(page.status, 200);
        newestBalance ??= page.json.items[0]?.balance;
        seqs.push(...page.json.items.map((item: { seq: number }) => item.seq));
        cursor = page.json.nextCursor;
      } while (cursor);
      assert.equal(seqs, Array.from({ length: version - 1 }, (_, i) => version - i), `history of ${id}`);
      if (version > 1) assert.is(newestBalance, w.balances.get(id), `newest history entry of ${id}`);
    }
    const stats = await call(port, 'GET', '/stats');
    assert.equal([stats.json.accounts.open, stats.json.balances.EUR], [w.versions.size, eur], 'stats');
    for (const [commandId, statuses] of w.results) {
      let result!: Reply;
      await until(`the result of ${commandId}`, async () => (result = await call(port, 'GET', `/commands/${encodeURIComponent(commandId)}`)).status !== 404, 15_000, 50);
      assert.is(result.json.status, statuses[0], `result of ${commandId} is its first outcome`);
    }
  } finally {
    for (const role of roles) await role.stop();
  }
});

test('bad requests get 400 naming the field, unknown ids 404, a lagging read model 409 with its version', async () => {
  const d = await deployment();
  const api = await startRoles('api', { ...d.env, WAIT_MAX_MS: '300' });
  try {
    const bad = await call(api.port, 'POST', '/commands', { type: 'Deposit', aggregateId: 'acc-1', payload: { amount: 'ten' } });
    assert.equal([bad.status, bad.json.field], [400, 'body.payload.amount']);
    const loneSurrogate = await call(api.port, 'POST', '/commands', { type: 'OpenAccount', aggregateId: 'acc-1', payload: { ownerId: '\ud800', currency: 'EUR' } });
    assert.equal([loneSurrogate.status, loneSurrogate.json.field], [400, 'body.payload.ownerId']);
    const internal = await call(api.port, 'POST', '/commands', { type: 'CreditTransfer', aggregateId: 'acc-1', payload: {} });
    assert.equal([internal.status, internal.json.field], [400, 'body.type']);
    const notJson = await call(api.port, 'POST', '/commands', '{"type":');
    assert.equal([notJson.status, notJson.json.field], [400, 'body']);
    const noRoute = await call(api.port, 'GET', '/acounts/acc-1');
    assert.equal([noRoute.status, noRoute.json.title, noRoute.json.detail], [404, 'Not Found', 'no route GET /acounts/acc-1']);
    const hugeCursor = await call(api.port, 'GET', '/accounts/acc-1/transactions?cursor=1e400');
    assert.equal([hugeCursor.status, hugeCursor.json.field], [400, 'querystring.cursor']);
    const tooBig = await call(api.port, 'POST', '/commands', { type: 'Deposit', aggregateId: 'acc-1', payload: { amount: 1 }, pad: 'x'.repeat(100_000) });
    assert.is(tooBig.status, 413);
    const limit = await call(api.port, 'GET', '/accounts/acc-1/transactions?limit=101');
    assert.equal([limit.status, limit.json.field], [400, 'querystring.limit']);
    assert.is((await call(api.port, 'GET', '/accounts/nobody')).status, 404);
    assert.is((await call(api.port, 'GET', '/commands/nothing')).status, 404);
    const behind = await call(api.port, 'GET', '/accounts/nobody?minVersion=1');
    assert.equal([behind.status, behind.json.version], [409, 0]);
  } finally {
    await api.stop();
  }
});

test('a start that fails late (its HTTP port taken) stops what it started and exits 1', async () => {
  const d = await deployment();
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const failure = await startRoles('processor', { ...d.env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' }).then(
      (role) => role.stop().then(() => 'started'),
      (err: Error) => err.message,
    );
    assert.match(failure, /^processor exited with 1:/);
    assert.match(failure, /"msg":"failed to start".*EADDRINUSE/);
    assert.match(failure, /"msg":"shutting down","reason":"failed to start"/);
  } finally {
    taken.close();
  }
});

test('Redis down: 503 and /health says so, and the process keeps running', async () => {
  const d = await deployment();
  const redis = await startRedis(join(tempDir('redis-down'), 'redis'));
  const api = await startRoles('api', { ...d.env, REDIS_URL: redis.url });
  try {
    assert.is((await call(api.port, 'GET', '/accounts/acc-1')).status, 404);
    await stopPid(redis.process.pid);
    const down = await call(api.port, 'GET', '/accounts/acc-1');
    assert.equal([down.status, down.json.title], [503, 'Service Unavailable']);
    const health = await call(api.port, 'GET', '/health');
    assert.equal([health.status, health.json.checks.redis.status], [503, 'down']);
    assert.is(api.child.exitCode, null, 'still running');
  } finally {
    await api.stop();
  }
});

test('Kafka down: POST /commands answers 503 with its commandId within the send timeout; /health says so; SIGTERM exits 0', async () => {
  // A broker of its own, stopped mid-test: the shared one serves the other tests.
  const kafka = await startKafka(join(tempDir('kafka-down'), 'kafka'));
  const d = await deployment();
  const api = await startRoles('api', { ...d.env, KAFKA_BROKERS: kafka.brokers });
  try {
    const open = { type: 'OpenAccount', aggregateId: 'acc-k', payload: { ownerId: 'o', currency: 'EUR' } };
    assert.is((await call(api.port, 'POST', '/commands', open)).status, 202);
    await stopPid(kafka.process.pid);
    const startedMs = Date.now();
    const down = await call(api.port, 'POST', '/commands', { ...open, commandId: 'c-kafka-down' });
    const tookMs = Date.now() - startedMs;
    assert.equal([down.status, down.json.title, down.json.commandId], [503, 'Service Unavailable', 'c-kafka-down']);
    assert.match(down.json.detail, /retry with commandId c-kafka-down/);
    assert.ok(tookMs <= commandSendTimeoutMs + 2_000, `answered after ${tookMs} ms`);
    const health = await call(api.port, 'GET', '/health');
    assert.equal([health.status, health.json.checks.kafka.status], [503, 'down']);
    assert.is(api.child.exitCode, null, 'still running');
  } finally {
    await api.stop();
    await stopPid(kafka.process.pid);
  }
  assert.is(api.child.exitCode, 0, 'a clean stop with Kafka away');
});

const metric = async (port: number, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await call(port, 'GET', '/metrics')).json)?.[1] ?? NaN);

test('the account cache serves repeated reads and never a view older than a newer write', async () => {
  const d = await deployment(readYourWritesEnv);
  const roles: RoleProcess[] = [await startRoles('processor', d.env), await startRoles('projector', d.env), await startRoles('api', d.env)];
  const port = roles[2]!.port;
  try {
    await call(port, 'POST', '/commands?wait=true', { commandId: 'o', type: 'OpenAccount', aggregateId: 'acc-c', payload: { ownerId: 'ann', currency: 'EUR' } });
    assert.is((await call(port, 'GET', '/accounts/acc-c?minVersion=1')).json.version, 1);
    const hitsBefore = await metric(port, 'ledger_api_account_cache_hits_total');
    for (let i = 0; i < 5; i++) assert.is((await call(port, 'GET', '/accounts/acc-c')).json.version, 1);
    assert.is(await metric(port, 'ledger_api_account_cache_hits_total'), hitsBefore + 5, 'five hits');
    // Every answer is counted by its route's pattern, not by the account id.
    const exposition = (await call(port, 'GET', '/metrics')).json as string;
    assert.match(exposition, /^ledger_http_request_duration_seconds_count\{(?=[^}]*route="\/accounts\/:id")(?=[^}]*method="GET")(?=[^}]*status="200")[^}]*\} ([6-9]|\d\d)/m);
    assert.not.match(exposition, /route="\/accounts\/acc-c"/);
    const deposit = await call(port, 'POST', '/commands?wait=true', { commandId: 'd', type: 'Deposit', aggregateId: 'acc-c', payload: { amount: 7 } });
    assert.is(deposit.json.version, 2);
    const fresh = await call(port, 'GET', '/accounts/acc-c?minVersion=2');
    assert.equal([fresh.json.version, fresh.json.balance], [2, 7], 'a cached version 1 is not served for minVersion 2');
    assert.is((await call(port, 'GET', '/accounts/acc-c')).json.version, 2, 'the cache moved on');
    // A write the API did not see (a raw Kafka producer) reaches plain reads of the cached view
    // too: the projector's notice invalidates it. Without it, version 2 would be served for good.
    await produce(d.topics.commands.name, [{ commandId: 'd-raw', type: 'Deposit', aggregateId: 'acc-c', payload: { amount: 5 }, issuedAt }]);
    let plain!: Reply;
    await until('a plain read of version 3', async () => (plain = await call(port, 'GET', '/accounts/acc-c')).json.version >= 3, callTimeoutMs, 100).catch(() => undefined); // the assertion says what it read
    assert.equal([plain.json.version, plain.json.balance], [3, 12], 'a plain read sees the raw write');
  } finally {
    for (const role of roles) await role.stop();
  }
});

test('POST /commands over the rate limit: 429 with Retry-After, counted in Redis', async () => {
  const d = await deployment();
  // An hour's window: the three sends cannot straddle a window's edge (a minute's could, now and then).
  const api = await startRoles('api', { ...d.env, RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_MS: '3600000' });
  const redis = new Redis(testEnv().redisUrl);
  try {
    const send = (n: number) => call(api.port, 'POST', '/commands', { commandId: `r${n}`, type: 'Deposit', aggregateId: 'acc-r', payload: { amount: 1 } });
    assert.equal([(await send(1)).status, (await send(2)).status], [202, 202]);
    const limited = await send(3);
    assert.is(limited.status, 429);
    const retryAfterS = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfterS >= 1 && retryAfterS <= 3_600, `retry-after ${retryAfterS}`);
    assert.is(await metric(api.port, 'ledger_api_rate_limited_total'), 1);
    // The count is Redis's, shared by every API instance: one key for this client and window.
    const counters = await redis.keys(`${d.appId}:rate:*`);
    assert.is(counters.length, 1, counters.join(', '));
    assert.is(await redis.get(counters[0]!), '3');
  } finally {
    redis.disconnect();
    await api.stop();
  }
});

test.run();
