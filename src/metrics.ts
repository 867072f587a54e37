import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process, served at GET /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const secondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const processorMetrics = {
  commands: new Counter({
    name: 'ledger_processor_commands_total',
    help: 'Commands handled, by type and outcome (accepted, rejected, duplicate, dead-lettered)',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  }),
  batchSize: new Histogram({
    name: 'ledger_processor_batch_size',
    help: 'Commands per partition batch',
    buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
    registers: [registry],
  }),
  batchSeconds: new Histogram({
    name: 'ledger_processor_batch_duration_seconds',
    help: 'Whole batch: decode, actors, transaction, RocksDB',
    buckets: secondsBuckets,
    registers: [registry],
  }),
  commitSeconds: new Histogram({
    name: 'ledger_processor_commit_duration_seconds',
    help: 'The Kafka transaction of a batch: produce, sendOffsets, commit',
    buckets: secondsBuckets,
    registers: [registry],
  }),
  commandLagSeconds: new Histogram({
    name: 'ledger_processor_command_lag_seconds',
    help: "From the record timestamp of a batch's first command (its append to commands: the topic has LogAppendTime) to the batch's commit",
    buckets: secondsBuckets,
    registers: [registry],
  }),
  liveActors: new Gauge({ name: 'ledger_processor_live_actors', help: 'Aggregate actors in memory', registers: [registry] }),
  restoreSeconds: new Histogram({
    name: 'ledger_processor_restore_duration_seconds',
    help: "Restoring a partition's store from its changelog: on assignment (up to the last stable offset), and at the partition's first batch (the rest, up to the new owner's marker)",
    labelNames: ['at'] as const,
    buckets: secondsBuckets,
    registers: [registry],
  }),
  dlqRecords: new Counter({
    name: 'ledger_processor_dlq_records_total',
    help: 'Records sent to the dead-letter topic, by kind (invalid, decider-error, refund-rejected)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  outputRecords: new Counter({
    name: 'ledger_processor_output_records_total',
    help: 'Records committed, by output (events, command-results, commands, commands-dlq, changelog)',
    labelNames: ['output'] as const,
    registers: [registry],
  }),
  outputBytes: new Counter({
    name: 'ledger_processor_output_bytes_total',
    help: 'Bytes of keys, values and headers committed, by output (events, command-results, commands, commands-dlq, changelog)',
    labelNames: ['output'] as const,
    registers: [registry],
  }),
  aborts: new Counter({ name: 'ledger_processor_aborted_batches_total', help: 'Batches whose transaction failed', registers: [registry] }),
};

export const projectorMetrics = {
  records: new Counter({ name: 'ledger_projector_records_total', help: 'Records projected into Redis, by topic', labelNames: ['topic'] as const, registers: [registry] }),
  invalid: new Counter({ name: 'ledger_projector_invalid_records_total', help: 'Records skipped because they do not decode', labelNames: ['topic'] as const, registers: [registry] }),
  batchSeconds: new Histogram({ name: 'ledger_projector_batch_duration_seconds', help: 'Decode, project, and Redis acknowledging the batch (the offset commits after, in order)', buckets: secondsBuckets, registers: [registry] }),
  recordLagSeconds: new Histogram({ name: 'ledger_projector_record_lag_seconds', help: "From the record timestamp of a batch's first record (written in the processor's transaction) to Redis acknowledging the batch", buckets: secondsBuckets, registers: [registry] }),
};

export const apiMetrics = {
  cacheHits: new Counter({ name: 'ledger_api_account_cache_hits_total', help: 'GET /accounts/:id served from the in-process cache', registers: [registry] }),
  cacheMisses: new Counter({ name: 'ledger_api_account_cache_misses_total', help: 'GET /accounts/:id read from Redis', registers: [registry] }),
  rateLimited: new Counter({ name: 'ledger_api_rate_limited_total', help: 'POST /commands answered 429', registers: [registry] }),
};

export const httpMetrics = {
  /** By route pattern (/accounts/:id, not the id: bounded label values), method and status code. */
  requestSeconds: new Histogram({
    name: 'ledger_http_request_duration_seconds',
    help: 'HTTP requests answered, by route pattern, method and status code, and how long they took',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: secondsBuckets,
    registers: [registry],
  }),
};
