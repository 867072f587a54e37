import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { keys } from '../../actors/projections/read-models.js';
import { buildWorkload, type Workload } from '../support/ledger-model.js';
import { deployment, drained, produce, type Deployment } from '../support/deployment.js';
import { startRoles, type RoleProcess } from '../support/processes.js';
import { testEnv, testKafka } from '../support/env.js';
import { until } from '../support/until.js';

const rebuildPath = fileURLToPath(new URL('../../src/cli/rebuild.ts', import.meta.url));
const redis = new Redis(testEnv().redisUrl);
const admin = testKafka('projector-test').admin();
test.before(() => admin.connect());
test.after(async () => {
  await admin.disconnect();
  redis.disconnect();
});

const projectorDrained = (d: Deployment) => drained(admin, `${d.appId}-projector`, [d.topics.events.name, d.topics.commandResults.name]);
const processorDrained = (d: Deployment) => drained(admin, `${d.appId}-processor`, [d.topics.commands.name]);

/** Runs `npm run rebuild` for the deployment; returns its stderr, asserting its exit code. */
async function rebuild(d: Deployment, expectedCode: number): Promise<string> {
  const { brokers, redisUrl } = testEnv();
  const child = spawn(process.execPath, ['--import', 'tsx', rebuildPath], {
    env: { ...process.env, ...d.env, KAFKA_BROKERS: brokers.join(','), REDIS_URL: redisUrl },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.is(code, expectedCode, stderr);
  return stderr;
}

/** Every key of the deployment. */
async function keysOf(appId: string): Promise<string[]> {
  const all: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${appId}:*`, 'COUNT', 1000);
    cursor = next;
    all.push(...found);
  } while (cursor !== '0');
  return all;
}

/**
 * Every key of the deployment with its value, TTLs aside: what "identical read models" means.
 * The projector's applied offsets are bookkeeping, not a read model: left out.
 */
async function dump(appId: string): Promise<Map<string, unknown>> {
  const all = new Map<string, unknown>();
  for (const key of await keysOf(appId)) {
    if (key !== keys(appId).appliedOffsets) {
      const type = await redis.type(key);
      if (type === 'hash') all.set(key, await redis.hgetall(key));
      else if (type === 'zset') all.set(key, await redis.zrange(key, '0', '-1', 'WITHSCORES'));
      else all.set(key, await redis.get(key));
    }
  }
  return new Map([...all].sort(([a], [b]) => a.localeCompare(b)));
}

/** The read models equal the model: views, history sizes, stats and command results. */
async function verify(d: Deployment, w: Workload): Promise<void> {
  const k = keys(d.appId);
  let eur = 0;
  for (const [id, version] of w.versions) {
    const view = await redis.hgetall(k.account(id));
    assert.is(Number(view.version), version, `version of ${id}`);
    assert.is(Number(view.balance), w.balances.get(id), `balance of ${id}`);
    assert.is(view.status, 'open');
    assert.is(await redis.zcard(k.history(id)), version - 1, `history of ${id}: every money event once`);
    if (view.currency === 'EUR') eur += Number(view.balance);
  }
  const stats = await redis.hgetall(k.stats);
  assert.is(Number(stats['accounts:open']), w.versions.size, 'open accounts');
  assert.is(Number(stats['balance:EUR']), eur, 'total EUR balance');
  for (const [commandId, statuses] of w.results) {
    const stored = JSON.parse((await redis.get(k.result(commandId))) ?? 'null') as { status: string } | null;
    assert.is(stored?.status, statuses[0], `stored result of ${commandId} is its first outcome`);
  }
}

test('read models equal the model; replaying every event again leaves them identical', async () => {
  const d = await deployment();
  const w = buildWorkload(d.ns, 3, { senders: 40, receivers: 30, refunders: 6, ops: 1500 });
  await produce(d.topics.commands.name, w.commands, w.poison);
  const roles: RoleProcess[] = [await startRoles('processor', d.env), await startRoles('projector', d.env)];
  try {
    await until('the processor', () => processorDrained(d));
    await until('the projector', () => projectorDrained(d));
    await verify(d, w);
    await roles[1]!.stop();
    const before = await dump(d.appId);
    for (const topic of [d.topics.events.name, d.topics.commandResults.name]) {
      await admin.resetOffsets({ groupId: `${d.appId}-projector`, topic, earliest: true });
    }
    assert.not.ok(await projectorDrained(d), 'offsets are back at 0');
    roles[1] = await startRoles('projector', d.env);
    await until('the replay', () => projectorDrained(d));
    assert.equal(await dump(d.appId), before, 'identical after a full replay');

    // The rebuild command refuses while a projector runs, then wipes and rebuilds the same models.
    assert.match(await rebuild(d, 1), /stop the projector role first/);
    await roles[1]!.stop();
    await redis.hset(keys(d.appId).stats, 'accounts:open', '999'); // damage it: the rebuild must not keep it
    assert.match(await rebuild(d, 0), /rebuilt \d+ records/);
    assert.equal(await dump(d.appId), before, 'identical after the rebuild');

    // Redis lost everything (the local stack keeps nothing on disk): a projector start projects
    // again from offset 0, and so does a running projector when it happens under it.
    const k = keys(d.appId);
    await redis.unlink(...(await keysOf(d.appId)));
    roles[1] = await startRoles('projector', d.env);
    await until('the projector', async () => (await projectorDrained(d)) && (await redis.exists(k.stats)) === 1);
    assert.equal(await dump(d.appId), before, 'identical after a restart on an empty Redis');
    await redis.unlink(...(await keysOf(d.appId)));
    await until('the running projector', async () => (await projectorDrained(d)) && (await redis.exists(k.stats)) === 1);
    assert.equal(await dump(d.appId), before, 'identical after Redis lost everything under a running projector');
    assert.match(roles[1]!.output(), /Redis holds less of this partition than was committed/);
  } finally {
    for (const role of roles) await role.stop();
  }
});

test('SIGKILL the projector mid-stream, restart: identical read models', async () => {
  const d = await deployment();
  const w = buildWorkload(d.ns, 4, { senders: 300, receivers: 200, refunders: 10, ops: 12000 });
  await produce(d.topics.commands.name, w.commands, w.poison);
  const processor = await startRoles('processor', d.env);
  try {
    await until('the processor', () => processorDrained(d));
    const first = await startRoles('projector', d.env);
    const k = keys(d.appId);
    await until('some projected accounts', async () => Number((await redis.hget(k.stats, 'accounts:open')) ?? 0) > 20, 90_000, 10);
    await first.kill();
    assert.not.ok(await projectorDrained(d), 'killed before the end of the stream');
    const second = await startRoles('projector', d.env);
    try {
      await until('the projector', () => projectorDrained(d));
      await verify(d, w);
    } finally {
      await second.stop();
    }
    // Identical, key by key and value by value (history entries, results' reasons and
    // versions, timestamps), to a projection that was never interrupted: the rebuild's.
    const afterKill = await dump(d.appId);
    assert.match(await rebuild(d, 0), /rebuilt \d+ records/);
    assert.equal(await dump(d.appId), afterKill, 'identical to an uninterrupted projection');
  } finally {
    await processor.stop();
  }
});

test('Redis loses everything mid-stream: the projector projects again from offset 0, and the models equal the model', async () => {
  const d = await deployment();
  const w = buildWorkload(d.ns, 6, { senders: 200, receivers: 150, refunders: 10, ops: 8000 });
  const roles = [await startRoles('processor', d.env), await startRoles('projector', d.env)];
  const k = keys(d.appId);
  try {
    // Produced in slices while both roles run, so the projector applies many batches per
    // partition, and Redis is emptied between two of them.
    const slices = 10;
    const size = Math.ceil(w.commands.length / slices);
    for (let i = 0; i < slices; i++) {
      await produce(d.topics.commands.name, w.commands.slice(i * size, (i + 1) * size), i === slices - 1 ? w.poison : []);
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (i === slices / 2 - 1) {
        await until('some projected accounts', async () => Number((await redis.hget(k.stats, 'accounts:open')) ?? 0) > 20);
        await redis.unlink(...(await keysOf(d.appId)));
      }
    }
    await until('the rewind', async () => roles[1]!.output().includes('Redis holds less of this partition than was committed'));
    await until('the processor', () => processorDrained(d));
    await until('the projector', () => projectorDrained(d));
    await verify(d, w);
  } finally {
    for (const role of roles) await role.stop();
  }
});

test('Redis refusing writes mid-stream (out of memory): the projector fetches again from what it applied, and the models equal the model', async () => {
  const d = await deployment();
  const w = buildWorkload(d.ns, 5, { senders: 200, receivers: 150, refunders: 10, ops: 8000 });
  await produce(d.topics.commands.name, w.commands, w.poison);
  const processor = await startRoles('processor', d.env);
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
  const [, maxmemory] = (await redis.config('GET', 'maxmemory')) as [string, string];
  try {
    await until('the processor', () => processorDrained(d));
    const projector = await startRoles('projector', { ...d.env, BATCH_BYTES_MAX: '16384' }); // small batches: many in the window
    const k = keys(d.appId);
    await until('some projected accounts', async () => Number((await redis.hget(k.stats, 'accounts:open')) ?? 0) > 20, 90_000, 10);
    // Every write is refused (OOM) until the limit is lifted; reads still work.
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', '1');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await redis.config('SET', 'maxmemory', maxmemory);
    try {
      assert.not.ok(await projectorDrained(d), 'the refusal came before the end of the stream');
      await until('the projector', () => projectorDrained(d));
      await verify(d, w);
      assert.match(projector.output(), /redis failed a batch/, 'it did fail batches meanwhile');
    } finally {
      await projector.stop();
    }
    assert.is(projector.child.exitCode, 0, projector.output().slice(-2000));
  } finally {
    await redis.config('SET', 'maxmemory', maxmemory); // as it was: the Redis may be shared (LEDGER_TEST_STACK, REDIS_URL)
    await redis.config('SET', 'maxmemory-policy', policy);
    await processor.stop();
  }
});

test.run();
