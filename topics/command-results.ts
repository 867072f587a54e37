import { retention, type TopicSpec } from './spec.js';

/** The outcome of every command (accepted, rejected, duplicate), keyed by aggregateId. */
export const commandResultsTopic = (partitions: number): TopicSpec => ({
  name: 'command-results',
  partitions,
  configs: retention.days(7),
});
