import { isIP } from 'node:net';
/** Configuration from the environment (see the README's table). Invalid values fail fast. */
export interface Config {
  /** Unset means: start (or reuse) the local stack, if localStack. */
  readonly kafkaBrokers: string[] | undefined;
  readonly redisUrl: string | undefined;
  /** LOCAL_STACK: may a missing KAFKA_BROKERS / REDIS_URL be a local server started for this process? Not under NODE_ENV=production. */
  readonly localStack: boolean;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly dataDir: string;
  readonly appId: string;
  readonly partitions: number;
  /** Prepended to every topic name; empty by default. */
  readonly topicPrefix: string;
  /** For topics the service creates; unset: the broker's defaults. */
  readonly topicReplication: { readonly factor: number | undefined; readonly minInsyncReplicas: number | undefined };
  readonly logLevel: LogLevel;
  /** Longest wait of GET /accounts/:id?minVersion and POST /commands?wait=true. */
  readonly waitMaxMs: number;
  /** SHUTDOWN_TIMEOUT_MS: a stop that takes longer exits with code 1. Keep it below the orchestrator's grace period. */
  readonly shutdownTimeoutMs: number;
  readonly accountCacheEntriesMax: number;
  readonly rateLimit: { readonly requestsPerWindow: number; readonly windowMs: number };
  /** Proxies whose X-Forwarded-For is believed (fastify's trustProxy): addresses and CIDRs. */
  readonly trustProxy: string[] | undefined;
  readonly processor: {
    readonly liveActorsPerPartitionMax: number;
    readonly liveActorsMax: number;
    readonly actorIdleMs: number;
    readonly actorReplyTimeoutMs: number;
    readonly batchesInFlightPerPartitionMax: number;
    readonly bytesInFlightPerPartitionMax: number;
    readonly partitionsConcurrently: number;
    readonly batchBytesMax: number;
  };
  /** The projector's batches of one partition sent to Redis and not yet acknowledged. */
  readonly projectorBatchesInFlightPerPartitionMax: number;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const brokers = env.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean);
  const badBroker = brokers?.find((broker) => !/^[^\s:/]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(broker));
  if (badBroker !== undefined) throw new Error(`KAFKA_BROKERS must be a comma list of host:port, got "${badBroker}"`);
  if (env.REDIS_URL && !/^rediss?:\/\/./.test(env.REDIS_URL)) throw new Error(`REDIS_URL must be a redis:// or rediss:// URL, got "${env.REDIS_URL}"`);
  const topicPrefix = env.TOPIC_PREFIX ?? '';
  if (!/^[A-Za-z0-9._-]{0,100}$/.test(topicPrefix)) throw new Error(`TOPIC_PREFIX must be at most 100 of [A-Za-z0-9._-] (Kafka's topic characters), got "${topicPrefix}"`);
  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!logLevels.includes(logLevel)) throw new Error(`LOG_LEVEL must be one of ${logLevels.join(', ')}, got "${env.LOG_LEVEL}"`);
  const appId = env.APP_ID ?? 'ledger';
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(appId)) throw new Error(`APP_ID must be 1-100 of [A-Za-z0-9._-], got "${appId}"`);
  const topicReplication = {
    factor: optionalIntFromEnv(env, 'TOPIC_REPLICATION_FACTOR', 1, 32),
    minInsyncReplicas: optionalIntFromEnv(env, 'TOPIC_MIN_INSYNC_REPLICAS', 1, 32),
  };
  // More in-sync replicas required than there are: every acks=all write would fail, for good.
  if (topicReplication.factor !== undefined && (topicReplication.minInsyncReplicas ?? 0) > topicReplication.factor) {
    throw new Error(`TOPIC_MIN_INSYNC_REPLICAS (${topicReplication.minInsyncReplicas}) must not exceed TOPIC_REPLICATION_FACTOR (${topicReplication.factor})`);
  }
  const batchBytesMax = intFromEnv(env, 'BATCH_BYTES_MAX', 1024 * 1024, 1024, 64 * 1024 * 1024);
  const processor = {
    liveActorsPerPartitionMax: intFromEnv(env, 'LIVE_ACTORS_PER_PARTITION_MAX', 10_000, 1, 10_000_000),
    liveActorsMax: intFromEnv(env, 'LIVE_ACTORS_MAX', 120_000, 1, 100_000_000),
    actorIdleMs: intFromEnv(env, 'ACTOR_IDLE_MS', 60_000, 0, 86_400_000),
    actorReplyTimeoutMs: intFromEnv(env, 'ACTOR_REPLY_TIMEOUT_MS', 30_000, 100, 600_000),
    batchesInFlightPerPartitionMax: intFromEnv(env, 'BATCHES_IN_FLIGHT_PER_PARTITION_MAX', 16, 1, 1_000),
    bytesInFlightPerPartitionMax: intFromEnv(env, 'BYTES_IN_FLIGHT_PER_PARTITION_MAX', 2 * batchBytesMax, 1024, 1024 * 1024 * 1024),
    partitionsConcurrently: intFromEnv(env, 'PROCESSOR_PARTITIONS_CONCURRENTLY', 12, 1, 1_000),
    batchBytesMax,
  };
  // A fetch must fit: with less room than one fetch, the partition would pause with any batch queued.
  if (processor.bytesInFlightPerPartitionMax < processor.batchBytesMax) {
    throw new Error(`BYTES_IN_FLIGHT_PER_PARTITION_MAX (${processor.bytesInFlightPerPartitionMax}) must be at least BATCH_BYTES_MAX (${processor.batchBytesMax})`);
  }
  return {
    kafkaBrokers: brokers && brokers.length > 0 ? brokers : undefined,
    redisUrl: env.REDIS_URL || undefined,
    localStack: flagFromEnv(env, 'LOCAL_STACK', env.NODE_ENV !== 'production'),
    httpPort: intFromEnv(env, 'HTTP_PORT', 8080, 0, 65_535),
    httpHost: env.HTTP_HOST ?? '0.0.0.0',
    dataDir: env.DATA_DIR ?? './data',
    appId,
    partitions: intFromEnv(env, 'PARTITIONS', 12, 1, 1_000),
    topicPrefix,
    topicReplication,
    logLevel,
    waitMaxMs: intFromEnv(env, 'WAIT_MAX_MS', 5_000, 0, 15_000), // well below the 25 s shutdown, which waits for open requests
    // At least 20 s: the processor's drain (10 s) and the HTTP requests' waits (up to 16 s) run within it.
    shutdownTimeoutMs: intFromEnv(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 20_000, 600_000),
    accountCacheEntriesMax: intFromEnv(env, 'ACCOUNT_CACHE_ENTRIES_MAX', 10_000, 1, 10_000_000),
    rateLimit: {
      requestsPerWindow: intFromEnv(env, 'RATE_LIMIT_REQUESTS', 1_000, 1, 100_000_000),
      windowMs: intFromEnv(env, 'RATE_LIMIT_WINDOW_MS', 1_000, 100, 3_600_000),
    },
    trustProxy: trustProxyFromEnv(env.TRUST_PROXY),
    processor,
    projectorBatchesInFlightPerPartitionMax: intFromEnv(env, 'PROJECTOR_BATCHES_IN_FLIGHT_PER_PARTITION_MAX', 2, 1, 100),
  };
}

/** TRUST_PROXY: unset (the peer address is the client), or a comma list of addresses, CIDRs and proxy-addr's names. */
function trustProxyFromEnv(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw.split(',').map((entry) => entry.trim());
  const named = ['loopback', 'linklocal', 'uniquelocal'];
  const bad = entries.find((entry) => !named.includes(entry) && !isAddressOrCidr(entry));
  if (bad !== undefined) throw new Error(`TRUST_PROXY must be a comma list of addresses, CIDRs, ${named.join(', ')}; got "${bad}"`);
  return entries;
}

/** 10.0.0.1, fd00::1, 10.0.0.0/8, fd00::/8: a prefix within the address's bits (fastify would throw only when starting). */
function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

function flagFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== '0' && raw !== '1') throw new Error(`${name} must be 0 or 1, got "${raw}"`);
  return raw === '1';
}

function optionalIntFromEnv(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  return env[name] === undefined || env[name] === '' ? undefined : intFromEnv(env, name, min, min, max);
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
