import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKafka } from './kafka.js';
import { startRedis } from './redis.js';
import { isAlive, stopPid } from './process.js';

/** Where the servers are, and how to stop the ones we started. */
export interface Stack {
  readonly kafkaBrokers: string;
  readonly redisUrl: string;
  stop(): Promise<void>;
}

interface StackState {
  kafka: { pid: number; brokers: string };
  redis: { pid: number; url: string };
}

const stateFile = (dir: string) => join(dir, 'stack.json');

/**
 * Servers for this process: KAFKA_BROKERS / REDIS_URL when given, else a stack that
 * `npm run stack -- up` left running in dir, else new servers tied to this process; the last
 * two only when env.localStack is not false. need.redis false: no Redis is looked for or started (redisUrl is then '').
 */
export async function acquireStack(
  dir: string,
  env: { kafkaBrokers?: string[] | undefined; redisUrl?: string | undefined; localStack?: boolean },
  need: { redis: boolean } = { redis: true },
): Promise<Stack> {
  // LOCAL_STACK off: not the background stack either, which is just as local.
  const background = env.localStack === false ? undefined : runningStack(dir);
  const stops: Array<() => Promise<void>> = [];
  let kafkaBrokers = env.kafkaBrokers?.join(',') ?? background?.kafka.brokers;
  let redisUrl = need.redis ? (env.redisUrl ?? background?.redis.url) : '';
  // A deployment that forgot a variable must not run on a private, empty server of its own.
  const missing = [!kafkaBrokers && 'KAFKA_BROKERS', redisUrl === undefined && 'REDIS_URL'].filter(Boolean);
  if (missing.length > 0 && env.localStack === false) {
    throw new Error(`${missing.join(' and ')} not set, and LOCAL_STACK is off (it is under NODE_ENV=production unless LOCAL_STACK=1): no local Kafka or Redis is used`);
  }
  try {
    if (!kafkaBrokers) {
      const kafka = await startKafka(join(dir, 'kafka'));
      stops.push(() => stopPid(kafka.process.pid));
      kafkaBrokers = kafka.brokers;
    }
    if (redisUrl === undefined) {
      const redis = await startRedis(join(dir, 'redis'));
      stops.push(() => stopPid(redis.process.pid));
      redisUrl = redis.url;
    }
  } catch (err) {
    await Promise.all(stops.map((stop) => stop()));
    throw err;
  }
  return { kafkaBrokers, redisUrl, stop: async () => void (await Promise.all(stops.map((stop) => stop()))) };
}

/** `npm run stack -- up`: detached servers recorded in dir/stack.json. */
export async function stackUp(dir: string): Promise<StackState> {
  const running = runningStack(dir);
  if (running) return running;
  const kafka = await startKafka(join(dir, 'kafka'), true);
  const redis = await startRedis(join(dir, 'redis'), true).catch(async (err) => {
    await stopPid(kafka.process.pid);
    throw err;
  });
  const state: StackState = {
    kafka: { pid: kafka.process.pid, brokers: kafka.brokers },
    redis: { pid: redis.process.pid, url: redis.url },
  };
  writeFileSync(stateFile(dir), JSON.stringify(state, null, 2));
  return state;
}

export async function stackDown(dir: string): Promise<boolean> {
  const state = readState(dir);
  if (!state) return false;
  // A pid from the file may have been reused by another process since: signal only ours.
  await Promise.all([
    isServer(state.kafka.pid, 'kafka.Kafka') ? stopPid(state.kafka.pid) : undefined,
    isServer(state.redis.pid, 'redis-server') ? stopPid(state.redis.pid) : undefined,
  ]);
  rmSync(stateFile(dir));
  return true;
}

/** The background stack in dir, if both its servers are still alive. */
export function runningStack(dir: string): StackState | undefined {
  const state = readState(dir);
  return state && isServer(state.kafka.pid, 'kafka.Kafka') && isServer(state.redis.pid, 'redis-server') ? state : undefined;
}

function readState(dir: string): StackState | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as StackState;
  } catch {
    return undefined; // unreadable: treat as no stack
  }
}

/** The pid runs and its command line names the server (Linux /proc). */
function isServer(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true; // no /proc: trust the pid
  }
}
