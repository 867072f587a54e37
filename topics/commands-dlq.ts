import { retention, type TopicSpec } from './spec.js';

/**
 * Commands that could not be handled. A DLQ record keeps the original key, value and headers
 * byte for byte (the value may not even be JSON) and adds the headers below.
 */
export const commandsDlqTopic = (partitions: number, prefix = ''): TopicSpec => ({
  name: `${prefix}commands-dlq`,
  partitions,
  // Room for a maximal command (1 MiB by default) plus the headers the DLQ adds.
  configs: { ...retention.days(30), 'max.message.bytes': String(2 * 1024 * 1024) },
});

export const dlqHeaders = {
  /** Why the command was not handled: a schema violation naming the field, or the decider's error. */
  reason: 'dlq-reason',
  /** Where it came from: "<topic>/<partition>@<offset>". */
  source: 'dlq-source',
} as const;
