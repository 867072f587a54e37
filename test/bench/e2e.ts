// npm run bench:e2e [-- --events 500000 --seconds 5 --parts abcd --rounds 3 --partitions 4]
// (a) projector events/s into Redis vs raw ioredis pipelined writes: one key per event, and the
//     same writes the projector makes per event; --rounds times, each on an empty Redis, and the
//     median of the rounds' ratios (ceiling 1 alone moved by up to 1.8x between runs);
// (b) command produced -> read model updated (the projector's notice, published by the Lua call
//     that writes the view: from then an uncached GET /accounts/:id returns it), p50/p99/max at
//     offered loads of 1k, 5k, 10k commands/s;
// (c) GET /accounts/:id requests/s and p99 under autocannon, cached and uncached, vs a bare
//     fastify route; each warmed up for a second, then --rounds rounds of the three in turn,
//     and the median of the rounds' ratios (a single bare run moved by 1.4x between runs);
// (d) POST /commands (answered 202 once Kafka acknowledged) requests/s and p99 under autocannon,
//     over as many accounts as (b) uses, vs a bare fastify route that answers 202 at once.
// Each figure with its baseline measured in this run.
// --partitions: of every topic (default 4, as in the tests); each is a transactional producer
//     in the processor, so fewer partitions on one instance mean fewer, larger transactions.
import '../../src/kafka/kafkajs-patch.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { Partitioners, type Message } from 'kafkajs';
import { eventsPerCallMax, keys, parseUpdates } from '../../actors/projections/read-models.js';
import { loadConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { setLogLevel } from '../../src/log.js';
import { acquireStack } from '../../src/stack/index.js';
import { deployment, partitions, type Deployment } from '../support/deployment.js';
import { startRoles, type RoleProcess } from '../support/processes.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '500000' }, seconds: { type: 'string', default: '5' }, parts: { type: 'string', default: 'abcd' }, rounds: { type: 'string', default: '3' }, partitions: { type: 'string', default: String(partitions) } } });
const parts = args.parts;
const eventsTotal = Number(args.events);
const loadSeconds = Number(args.seconds);
const rounds = Number(args.rounds);
const offeredLoads = [1_000, 5_000, 10_000];
/** Not counted: a fresh broker's JIT and the roles' first batches would otherwise land in the first load's figures. */
const warmUp = { rate: 5_000, seconds: 10 };
const latencyAccounts = 2_000;
const tickMs = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
/** The lower median (of an even count, the lower of the middle two). */
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)]!;
const listed = (ratios: number[]) => ratios.map((r) => r.toFixed(3)).join(', ');

async function projectorThroughput(kafka: ReturnType<typeof createKafka>, redis: Redis): Promise<{ eventsPerS: number; hashPerEventPerS: number; sameWritesPerS: number }> {
  const d = await deployment({}, Number(args.partitions));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const accounts = Math.max(1, Math.floor(eventsTotal / 10));
  let chunk: Message[] = [];
  for (let i = 0; i < eventsTotal; i++) {
    const id = `acc-${i % accounts}`;
    const seq = Math.floor(i / accounts) + 1;
    const common = { eventId: `${id}:${seq}`, aggregateId: id, seq, commandId: `c${i}`, occurredAt: '2026-01-01T00:00:00Z' };
    const event = seq === 1 ? { ...common, type: 'AccountOpened', payload: { ownerId: 'o', currency: 'EUR' } } : { ...common, type: 'MoneyDeposited', payload: { amount: 1, balance: seq - 1 } };
    chunk.push({ key: id, value: JSON.stringify(event) });
    if (chunk.length === 5_000) {
      await producer.send({ topic: d.topics.events.name, messages: chunk });
      chunk = [];
    }
  }
  if (chunk.length > 0) await producer.send({ topic: d.topics.events.name, messages: chunk });
  await producer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  // Counted from the first commit, as the ceilings count no connecting: what was committed by then is left out.
  const projector = await startRoles('projector', d.env);
  const committed = async () => ((await admin.fetchOffsets({ groupId: `${d.appId}-projector`, topics: [d.topics.events.name] }))[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  let first: { ms: number; events: number } | undefined;
  for (let events = await committed(); events < eventsTotal; events = await committed()) {
    if (events > 0) first ??= { ms: Date.now(), events };
    await sleep(20);
  }
  if (!first) throw new Error('the projector committed everything before the first look: use more --events');
  const eventsPerS = (eventsTotal - first.events) / ((Date.now() - first.ms) / 1000);
  await projector.stop();
  await admin.disconnect();

  // Ceilings, each as plain pipelined ioredis calls of the same pipeline size, no Kafka, no Lua:
  // (1) one hash write with the view's fields per event (into as many keys as the events' accounts);
  // (2) the writes the projector makes: per event the view hash and a history entry, per run of
  //     eventsPerCallMax events one stats counter and one notice.
  const ceiling = async (writes: (pipeline: ReturnType<Redis['pipeline']>, j: number) => void) => {
    const ceilingStartMs = Date.now();
    for (let i = 0; i < eventsTotal; i += 2_000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(eventsTotal, i + 2_000); j++) writes(pipeline, j);
      await pipeline.exec();
    }
    return eventsTotal / ((Date.now() - ceilingStartMs) / 1000);
  };
  const hashPerEventPerS = await ceiling((pipeline, j) => {
    pipeline.hset(`ceiling:{acc-${j % accounts}}`, 'id', `acc-${j}`, 'ownerId', 'o', 'currency', 'EUR', 'balance', j, 'status', 'open', 'version', j, 'updatedAt', '2026-01-01T00:00:00Z');
  });
  const sameWritesPerS = await ceiling((pipeline, j) => {
    const id = `acc-${j % accounts}`;
    pipeline.hset(`ceiling:{${id}}`, 'balance', j, 'version', j, 'updatedAt', '2026-01-01T00:00:00Z');
    pipeline.zadd(`ceiling:{${id}}:history`, j, JSON.stringify({ seq: j, type: 'MoneyDeposited', amount: 1, balance: j, commandId: `c${j}`, occurredAt: '2026-01-01T00:00:00Z' }));
    if (j % eventsPerCallMax === 0) {
      pipeline.hincrby('ceiling:stats', 'balance:EUR', 1);
      pipeline.publish('ceiling:updates', `["${id}",${j}]`);
    }
  });
  return { eventsPerS, hashPerEventPerS, sameWritesPerS };
}

async function latencies(kafka: ReturnType<typeof createKafka>, redis: Redis, d: Deployment, loads: number[]): Promise<Array<{ rate: number; p50: number; p99: number; max: number; seen: number; sent: number; sentPerS: number }>> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // Per account, the versions sent and not yet seen, oldest first. A notice gives an account's
  // newest version, so it settles every version up to it.
  const pending = new Map<string, Array<{ version: number; sentMs: number }>>();
  let pendingCount = 0;
  const observed: number[] = [];
  const subscriber = redis.duplicate();
  subscriber.on('message', (_channel: string, message: string) => {
    const nowMs = performance.now();
    for (const { id, version } of parseUpdates(message)) {
      const sent = pending.get(id);
      while (sent && sent.length > 0 && sent[0]!.version <= version) {
        observed.push(nowMs - sent.shift()!.sentMs);
        pendingCount--;
      }
    }
  });
  await subscriber.subscribe(keys(d.appId).updates);
  const versions = new Map<string, number>();
  const command = (id: string, type: string, payload: object, n: number): Message => ({ key: id, value: JSON.stringify({ commandId: `l${n}`, type, aggregateId: id, payload, issuedAt: new Date().toISOString() }) });
  let n = 0;
  const opens: Message[] = [];
  for (let i = 0; i < latencyAccounts; i++) {
    opens.push(command(`acc-${i}`, 'OpenAccount', { ownerId: 'o', currency: 'EUR' }, n++));
    versions.set(`acc-${i}`, 1);
  }
  await producer.send({ topic: d.topics.commands.name, messages: opens });
  await sleep(3_000);
  const results = [];
  for (const [rate, seconds] of [[warmUp.rate, loads.length > 0 ? warmUp.seconds : 0] as const, ...loads.map((rate) => [rate, loadSeconds] as const)]) {
    observed.length = 0;
    pending.clear();
    pendingCount = 0;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const startMs = Date.now();
    const endMs = startMs + seconds * 1000;
    let sent = 0;
    for (let tick = 0; Date.now() < endMs; tick++) {
      const tickStart = Date.now();
      const messages: Message[] = [];
      const sentAt = performance.now();
      for (let j = 0; j < perTick; j++) {
        const id = `acc-${(sent + j) % latencyAccounts}`;
        const version = versions.get(id)! + 1;
        versions.set(id, version);
        let sentOf = pending.get(id);
        if (!sentOf) pending.set(id, (sentOf = []));
        sentOf.push({ version, sentMs: sentAt });
        pendingCount++;
        messages.push(command(id, 'Deposit', { amount: 1 }, n++));
      }
      await producer.send({ topic: d.topics.commands.name, messages });
      sent += perTick;
      await sleep(Math.max(0, tickMs - (Date.now() - tickStart)));
    }
    const sentPerS = sent / ((Date.now() - startMs) / 1000);
    const settleDeadline = Date.now() + 10_000;
    while (pendingCount > 0 && Date.now() < settleDeadline) await sleep(50);
    const sorted = [...observed].sort((a, b) => a - b);
    results.push({ rate, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN, seen: sorted.length, sent, sentPerS });
  }
  results.shift(); // the warm-up
  subscriber.disconnect();
  await producer.disconnect();
  return results;
}

async function reads(port: number, paths: string[], seconds = loadSeconds): Promise<{ perS: number; p99: number }> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 50, duration: seconds, requests: paths.map((path) => ({ method: 'GET', path })) });
  return { perS: result.requests.average, p99: result.latency.p99 };
}

/** Deposits over latencyAccounts accounts, each request a new command (the API picks the commandId). */
async function posts(port: number): Promise<{ perS: number; p99: number; non2xx: number }> {
  const bodies = Array.from({ length: latencyAccounts }, (_, i) => JSON.stringify({ type: 'Deposit', aggregateId: `acc-${i}`, payload: { amount: 1 } }));
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 50,
    duration: loadSeconds,
    requests: bodies.map((body) => ({ method: 'POST', path: '/commands', headers: { 'content-type': 'application/json' }, body })),
  });
  return { perS: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
}

async function main(): Promise<void> {
  setLogLevel('error');
  const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  process.env.TEST_TMP_DIR = dir;
  const stack = await acquireStack(join(dir, 'stack'), loadConfig());
  process.env.KAFKA_BROKERS = stack.kafkaBrokers;
  process.env.REDIS_URL = stack.redisUrl;
  const roles: RoleProcess[] = [];
  try {
    const kafka = createKafka(stack.kafkaBrokers.split(','), 'bench-e2e');
    const redis = new Redis(stack.redisUrl);

    if (parts.includes('a')) {
      const ratios: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        await redis.flushall();
        const a = await projectorThroughput(kafka, redis);
        ratios.push(a.eventsPerS / a.hashPerEventPerS);
        console.log(`(a) round ${round}/${rounds}, projector: ${Math.round(a.eventsPerS)} events/s (from Kafka, decoded, applied by Lua, offsets committed)`);
        console.log(`(a)   ceiling 1, one pipelined HSET per event:      ${Math.round(a.hashPerEventPerS)} events/s; projector ${(a.eventsPerS / a.hashPerEventPerS).toFixed(3)} x`);
        console.log(`(a)   ceiling 2, the projector's writes, pipelined: ${Math.round(a.sameWritesPerS)} events/s; projector ${(a.eventsPerS / a.sameWritesPerS).toFixed(3)} x`);
      }
      console.log(`(a) projector / ceiling 1, median of ${rounds} rounds: ${median(ratios).toFixed(3)} x (target >= 0.7; rounds: ${listed(ratios)})`);
    }

    // (c) reads the accounts that (b) opens; with (c) alone, (b) only opens them.
    const d = await deployment({}, Number(args.partitions));
    if (parts.includes('b') || parts.includes('c')) {
      roles.push(await startRoles('processor', d.env), await startRoles('projector', d.env));
      if (parts.includes('b')) console.log(`(b) ${args.partitions} partitions; warming up: ${warmUp.seconds} s at ${warmUp.rate} commands/s, not counted`);
      for (const r of await latencies(kafka, redis, d, parts.includes('b') ? offeredLoads : [])) {
        console.log(`(b) ${String(r.rate).padStart(5)} commands/s offered: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (${r.seen}/${r.sent} seen; sent at ${Math.round(r.sentPerS)} commands/s)${r.rate === 5_000 ? '  (target p99 <= 100 ms)' : ''}`);
      }
      // Where the latency goes: the roles' own metrics over the three runs, read once per role.
      const [processorMetrics, projectorMetrics] = await Promise.all(roles.slice(0, 2).map(async (role) => (await fetch(`http://127.0.0.1:${role.port}/metrics`)).text()));
      const series = (text: string, name: string, labels = '') => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? ([0-9.e+-]+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      const mean = (text: string, name: string) => `${((series(text, `${name}_sum`) / series(text, `${name}_count`)) * 1000).toFixed(1)} ms over ${series(text, `${name}_count`)}`;
      console.log(`(b) processor batch ${mean(processorMetrics!, 'ledger_processor_batch_duration_seconds')}, of which commit ${mean(processorMetrics!, 'ledger_processor_commit_duration_seconds')}; projector batch ${mean(projectorMetrics!, 'ledger_projector_batch_duration_seconds')}`);
      console.log(`(b) lag of a batch's first record: command produced -> its batch committed ${mean(processorMetrics!, 'ledger_processor_command_lag_seconds')}; event written -> applied in Redis ${mean(projectorMetrics!, 'ledger_projector_record_lag_seconds')}`);
      const handled = series(processorMetrics!, 'ledger_processor_commands_total');
      const bytes = (labels = '') => series(processorMetrics!, 'ledger_processor_output_bytes_total', labels);
      const snapshots = series(processorMetrics!, 'ledger_processor_output_records_total', 'output="changelog"');
      console.log(
        `(b) processor output: ${(bytes() / handled).toFixed(0)} bytes per command, of which snapshots ${(bytes('output="changelog"') / handled).toFixed(0)}` +
          ` (${(snapshots / handled).toFixed(2)} snapshots per command, ${(bytes('output="changelog"') / snapshots).toFixed(0)} bytes each; ${handled} commands)`,
      );
    }
    if (parts.includes('c')) {
      const cachedApi = await startRoles('api', d.env);
      const uncachedApi = await startRoles('api', { ...d.env, ACCOUNT_CACHE_ENTRIES_MAX: '1' });
      const bare = await startBare();
      roles.push(cachedApi, uncachedApi, bare);
      const runs = {
        bare: (seconds?: number) => reads(bare.port, ['/accounts/acc-0'], seconds),
        cached: (seconds?: number) => reads(cachedApi.port, ['/accounts/acc-0'], seconds),
        uncached: (seconds?: number) => reads(uncachedApi.port, ['/accounts/acc-0', '/accounts/acc-1'], seconds), // a cache of 1 entry: every read misses
      };
      for (const run of Object.values(runs)) await run(1); // JIT and connections warmed, not counted
      const ratios: { cached: number[]; uncached: number[] } = { cached: [], uncached: [] };
      for (let round = 1; round <= rounds; round++) {
        const [bareRun, cached, uncached] = [await runs.bare(), await runs.cached(), await runs.uncached()];
        ratios.cached.push(cached.perS / bareRun.perS);
        ratios.uncached.push(uncached.perS / bareRun.perS);
        console.log(
          `(c) round ${round}/${rounds}: bare fastify ${Math.round(bareRun.perS)} req/s, p99 ${bareRun.p99} ms; cached ${Math.round(cached.perS)} req/s, p99 ${cached.p99} ms, ${ratios.cached.at(-1)!.toFixed(3)} x bare;` +
            ` uncached ${Math.round(uncached.perS)} req/s, p99 ${uncached.p99} ms, ${ratios.uncached.at(-1)!.toFixed(3)} x bare`,
        );
      }
      console.log(`(c) cached / bare, median of ${rounds} rounds: ${median(ratios.cached).toFixed(3)} x (target >= 0.7; rounds: ${listed(ratios.cached)})`);
      console.log(`(c) uncached / bare, median of ${rounds} rounds: ${median(ratios.uncached).toFixed(3)} x (rounds: ${listed(ratios.uncached)})`);
    }
    if (parts.includes('d')) {
      const api = await startRoles('api', { ...d.env, RATE_LIMIT_REQUESTS: '100000000' });
      const bare = await startBare();
      roles.push(api, bare);
      const bareRun = await posts(bare.port);
      const apiRun = await posts(api.port);
      console.log(`(d) bare fastify POST: ${Math.round(bareRun.perS)} req/s, p99 ${bareRun.p99} ms`);
      console.log(`(d) POST /commands:    ${Math.round(apiRun.perS)} req/s, p99 ${apiRun.p99} ms, ${apiRun.non2xx} not 2xx; ${(apiRun.perS / bareRun.perS).toFixed(3)} x bare`);
    }
    console.log(`bench process peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    redis.disconnect();
  } finally {
    for (const role of roles) await role.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

async function startBare(): Promise<RoleProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./bare-server.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  return { child, port: Number(/"port":(\d+)/.exec(line)?.[1]), output: () => line, stop, kill: stop };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
