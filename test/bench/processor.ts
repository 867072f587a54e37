// npm run bench:processor [-- --commands 1000000 --accounts 100000 --partitions 12 --naive-seconds 20]
// Preloads commands, then on the same data and broker measures: the processor (as its own
// process), (a) the pipe ceiling: consume + transactional produce of as many records with no
// processing, (b) a naive processor: eachMessage, decide, await produce, commit per message.
import '../../src/kafka/kafkajs-patch.js'; // the pipe and the naive processor get the same kafkajs
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Partitioners, type Admin, type Kafka, type Message } from 'kafkajs';
import { handleCommand, emptySnapshot } from '../../actors/account/host.js';
import { loadConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { retriable } from '../../src/kafka/retry.js';
import { ensureTopics, waitForLeaders } from '../../src/kafka/topics-admin.js';
import { setLogLevel } from '../../src/log.js';
import { acquireStack } from '../../src/stack/index.js';
import type { AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import { decodeCommand } from '../../topics/commands.js';
import { topology, type Topology } from '../../topics/index.js';
import { roleNodeFlags } from '../support/processes.js';

const { values: args } = parseArgs({
  options: {
    commands: { type: 'string', default: '1000000' },
    accounts: { type: 'string', default: '100000' },
    partitions: { type: 'string', default: '12' },
    'naive-seconds': { type: 'string', default: '20' },
  },
});
const commandsTotal = Number(args.commands);
const accountsTotal = Number(args.accounts);
const partitions = Number(args.partitions);
const naiveSeconds = Number(args['naive-seconds']);
const drainTimeoutMs = 30 * 60_000;
const mainPath = new URL('../../src/main.ts', import.meta.url).pathname;

function* workload(ns: string): Generator<Message> {
  const issuedAt = '2026-01-01T00:00:00Z';
  const account = (i: number) => `${ns}-acc-${i}`;
  let n = 0;
  const make = (aggregateId: string, type: string, payload: object): Message => ({
    key: aggregateId,
    value: JSON.stringify({ commandId: `c${n++}`, type, aggregateId, payload, issuedAt }),
  });
  for (let i = 0; i < accountsTotal && n < commandsTotal; i++) yield make(account(i), 'OpenAccount', { ownerId: `o${i}`, currency: 'EUR' });
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  while (n < commandsTotal) {
    const from = account(Math.floor(random() * accountsTotal));
    const roll = random();
    if (roll < 0.5) yield make(from, 'Deposit', { amount: 1 + Math.floor(random() * 1000) });
    else if (roll < 0.75) yield make(from, 'Withdraw', { amount: 1 + Math.floor(random() * 500) });
    else yield make(from, 'TransferMoney', { transferId: `t${n}`, toAccountId: account(Math.floor(random() * accountsTotal)), amount: 1 + Math.floor(random() * 300) });
  }
}

async function preload(kafka: Kafka, topic: string, ns: string): Promise<number> {
  // Idempotent, so a retried request cannot add commands twice (kafkajs retries whole requests).
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const startedMs = Date.now();
  let chunk: Message[] = [];
  const inFlight: Promise<unknown>[] = [];
  for (const message of workload(ns)) {
    chunk.push(message);
    if (chunk.length === 10_000) {
      inFlight.push(producer.send({ topic, messages: chunk }));
      chunk = [];
      if (inFlight.length >= 4) await inFlight.shift();
    }
  }
  inFlight.push(producer.send({ topic, messages: chunk }));
  await Promise.all(inFlight);
  await producer.disconnect();
  return Date.now() - startedMs;
}

const sumEnd = async (admin: Admin, topic: string) => (await retriable(() => admin.fetchTopicOffsets(topic))).reduce((n, p) => n + Number(p.high), 0);
const sumCommitted = async (admin: Admin, groupId: string, topic: string) =>
  ((await retriable(() => admin.fetchOffsets({ groupId, topics: [topic] })))[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);

/** Waits until the group committed everything in topic, stable over two looks; returns the time of the first commit. onProgress: every 100 ms, told whether commits began. */
async function drain(admin: Admin, groupId: string, topic: string, onProgress?: (committing: boolean) => void): Promise<{ firstCommitMs: number; doneMs: number; consumed: number }> {
  const deadline = Date.now() + drainTimeoutMs;
  let firstCommitMs = 0;
  let stable = 0;
  for (;;) {
    const [committed, end] = [await sumCommitted(admin, groupId, topic), await sumEnd(admin, topic)];
    if (committed > 0 && firstCommitMs === 0) firstCommitMs = Date.now();
    stable = committed >= end && end > 0 ? stable + 1 : 0;
    if (stable >= 2) return { firstCommitMs, doneMs: Date.now(), consumed: committed };
    if (Date.now() > deadline) throw new Error(`${groupId} did not drain ${topic}: ${committed}/${end}`);
    onProgress?.(firstCommitMs > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface ProcessorRun { commandsPerS: number; consumed: number; outputRecords: number; events: number; peakRssMb: number; seconds: number; cpuUsPerCommand: number }

async function runProcessor(admin: Admin, brokers: string, topics: Topology, ns: string, appId: string): Promise<ProcessorRun> {
  const outputTopics = [topics.events.name, topics.commandResults.name, topics.changelog.name, topics.commandsDlq.name];
  const before = await Promise.all(outputTopics.map((t) => sumEnd(admin, t)));
  const commandsBefore = await sumEnd(admin, topics.commands.name);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-processor-'));
  const child = spawn(process.execPath, [...cpuProfileArgs(), ...roleNodeFlags, '--import', 'tsx', mainPath, '--roles', 'processor'], {
    env: { ...process.env, KAFKA_BROKERS: brokers, REDIS_URL: 'redis://unused', APP_ID: appId, TOPIC_PREFIX: `${ns}.`, PARTITIONS: String(partitions), DATA_DIR: dataDir, HTTP_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the processor exited early (code ${code})`))));
  exited.catch(() => undefined);
  process.once('exit', () => child.kill('SIGKILL')); // never leave it behind, whatever happens here
  let peakRssKb = 0;
  const sampleRss = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    peakRssKb = Math.max(peakRssKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
  };
  let cpuAtFirstCommitMs: number | undefined;
  const drained = drain(admin, `${appId}-processor`, topics.commands.name, (committing) => {
    try {
      sampleRss();
      if (committing) cpuAtFirstCommitMs ??= childCpuMs(child.pid!);
    } catch {
      /* not started yet */
    }
  });
  const { firstCommitMs, doneMs, consumed } = await Promise.race([drained, exited]);
  sampleRss();
  const cpuMs = childCpuMs(child.pid!) - (cpuAtFirstCommitMs ?? 0);
  child.removeAllListeners('exit');
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
  const after = await Promise.all(outputTopics.map((t) => sumEnd(admin, t)));
  const followUps = (await sumEnd(admin, topics.commands.name)) - commandsBefore;
  const outputRecords = after.reduce((n, v, i) => n + v - before[i]!, 0) + followUps;
  const seconds = (doneMs - firstCommitMs) / 1000;
  return { commandsPerS: consumed / seconds, consumed, outputRecords, events: after[0]! - before[0]!, peakRssMb: peakRssKb / 1024, seconds, cpuUsPerCommand: (cpuMs * 1000) / consumed };
}

/** User and system CPU time of a process so far (Linux: /proc/pid/stat, in clock ticks of 10 ms). */
function childCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime and stime, fields 14 and 15 of stat
}

/** BENCH_CPU_PROF=dir: the processor child writes a CPU profile there (node --cpu-prof). */
function cpuProfileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** (a) The pipe: consume, produce outputPerInput records per input in one transaction per batch, no processing. */
async function runPipe(kafka: Kafka, admin: Admin, topics: Topology, ns: string, outputPerInput: number): Promise<{ commandsPerS: number; seconds: number; cpuUsPerCommand: number }> {
  const out = `${ns}.pipe-out`;
  await admin.createTopics({ waitForLeaders: false, topics: [{ topic: out, numPartitions: partitions }] });
  await waitForLeaders(admin, [out]);
  const groupId = `${ns}-pipe`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 1024 * 1024 });
  const producers = new Map<number, Awaited<ReturnType<typeof connectTx>>>();
  const connectTx = async (p: number) => {
    const producer = kafka.producer({ transactionalId: `${ns}-pipe-p${p}`, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    return producer;
  };
  let owed = 0;
  await consumer.connect();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize > 0) return; // a batch of only transaction markers, which no eachBatch saw: commit past it
    void consumer.commitOffsets([{ topic: payload.topic, partition: payload.partition, offset: String(BigInt(payload.lastOffset) + 1n) }]);
  });
  await consumer.subscribe({ topic: topics.commands.name, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: loadConfig().processor.partitionsConcurrently, // as the processor's
    eachBatch: async ({ batch, resolveOffset }) => {
      let producer = producers.get(batch.partition);
      if (!producer) producers.set(batch.partition, (producer = await connectTx(batch.partition)));
      const messages: Message[] = [];
      for (const m of batch.messages) {
        owed += outputPerInput;
        for (; owed >= 1; owed--) messages.push({ key: m.key, value: m.value, partition: batch.partition });
      }
      const tx = await producer.transaction();
      for (let i = 0; i < messages.length; i += 2_500) await tx.sendBatch({ topicMessages: [{ topic: out, messages: messages.slice(i, i + 2_500) }] });
      await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }] }] });
      await tx.commit();
      resolveOffset(batch.lastOffset());
    },
  });
  let cpuAtFirstCommit: NodeJS.CpuUsage | undefined;
  const { firstCommitMs, doneMs, consumed } = await drain(admin, groupId, topics.commands.name, (committing) => {
    if (committing) cpuAtFirstCommit ??= process.cpuUsage();
  });
  const cpu = process.cpuUsage(cpuAtFirstCommit);
  await consumer.disconnect();
  await Promise.all([...producers.values()].map((p) => p.disconnect()));
  const seconds = (doneMs - firstCommitMs) / 1000;
  return { commandsPerS: consumed / seconds, seconds, cpuUsPerCommand: (cpu.user + cpu.system) / consumed };
}

/** (b) Naive: one command at a time, await its produce, commit its offset; bounded by naiveSeconds. */
async function runNaive(kafka: Kafka, topics: Topology, ns: string): Promise<{ commandsPerS: number; handled: number }> {
  const groupId = `${ns}-naive`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  const states = new Map<string, AggregateSnapshot>();
  let handled = 0;
  let startedMs = 0;
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: topics.commands.name, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      startedMs ||= Date.now();
      const decoded = decodeCommand(message.key, message.value);
      if (decoded.ok) {
        const id = decoded.value.aggregateId;
        const { snapshot, outcome } = handleCommand(states.get(id) ?? emptySnapshot, decoded.value, Number(message.timestamp));
        states.set(id, snapshot);
        const records = [...outcome.events.map((e) => ({ key: id, value: JSON.stringify(e) })), { key: id, value: JSON.stringify(outcome.result) }];
        await producer.send({ topic: `${ns}.naive-out`, messages: records });
      }
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      handled++;
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // join and first fetch
  const windowStart = handled;
  const windowStartMs = Date.now();
  await new Promise((resolve) => setTimeout(resolve, naiveSeconds * 1000));
  const counted = handled - windowStart;
  const seconds = (Date.now() - windowStartMs) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return { commandsPerS: counted / seconds, handled: counted };
}

async function main(): Promise<void> {
  setLogLevel('error');
  const dir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
  const stack = await acquireStack(dir, loadConfig());
  try {
    const kafka = createKafka(stack.kafkaBrokers.split(','), 'bench');
    const admin = kafka.admin();
    await admin.connect();
    const ns = `bench${Date.now()}`;
    const appId = `${ns}-app`;
    const topics = topology(appId, partitions, `${ns}.`);
    await ensureTopics(admin, topics);
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic: `${ns}.naive-out`, numPartitions: partitions }] });
    await waitForLeaders(admin, [`${ns}.naive-out`]);
    console.log(`preloading ${commandsTotal} commands over ${accountsTotal} accounts, ${partitions} partitions...`);
    const preloadMs = await preload(kafka, topics.commands.name, ns);
    console.log(`preloaded in ${(preloadMs / 1000).toFixed(1)} s`);

    const processor = await runProcessor(admin, stack.kafkaBrokers, topics, ns, appId);
    const outputPerInput = processor.outputRecords / processor.consumed;
    console.log(`processor: ${processor.consumed} commands (incl. saga follow-ups) in ${processor.seconds.toFixed(1)} s, ${processor.outputRecords} records written (${outputPerInput.toFixed(2)} per command)`);
    const pipe = await runPipe(kafka, admin, topics, ns, outputPerInput);
    console.log(`pipe ceiling: same ${processor.consumed} records in ${pipe.seconds.toFixed(1)} s`);
    const naive = await runNaive(kafka, topics, ns);
    await admin.disconnect();

    const row = (name: string, perS: number) => `${name.padEnd(34)} ${Math.round(perS).toString().padStart(9)} commands/s   ${(perS / pipe.commandsPerS).toFixed(3).padStart(6)} x pipe`;
    console.log('\nresults (same broker, same data, this run):');
    console.log(row('pipe ceiling (a)', pipe.commandsPerS));
    console.log(row('processor', processor.commandsPerS));
    console.log(row(`naive eachMessage (b, ${naiveSeconds} s)`, naive.commandsPerS));
    console.log(`processor / pipe:   ${(processor.commandsPerS / pipe.commandsPerS).toFixed(3)}   (target >= 0.6)`);
    console.log(`processor / naive:  ${(processor.commandsPerS / naive.commandsPerS).toFixed(1)}`);
    // CPU time per command is steadier than throughput on a shared machine: it does not count the waits for a busy core.
    console.log(`CPU per command:    processor ${processor.cpuUsPerCommand.toFixed(1)} µs, pipe ${pipe.cpuUsPerCommand.toFixed(1)} µs (the processor costs ${(processor.cpuUsPerCommand / pipe.cpuUsPerCommand).toFixed(2)} x the pipe; the bench process polls offsets during both)`);
    // What the target asks of this machine at the processor's measured cost per command: the broker needs CPU of its own besides.
    const targetPerS = 0.6 * pipe.commandsPerS;
    console.log(`at 0.6 x pipe:      ${Math.round(targetPerS)} commands/s x ${processor.cpuUsPerCommand.toFixed(1)} µs = ${((targetPerS * processor.cpuUsPerCommand) / 1e6).toFixed(2)} cores for the processor alone; this machine has ${availableParallelism()}, shared with the broker`);
    console.log(`processor events/s: ${Math.round(processor.events / processor.seconds)}   (all output records/s: ${Math.round(processor.outputRecords / processor.seconds)})`);
    console.log(`processor peak RSS: ${processor.peakRssMb.toFixed(0)} MiB;  bench process peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
