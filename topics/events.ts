import { retention, type TopicSpec } from './spec.js';

/** The source of truth: kept forever, so read models and aggregates can be rebuilt from offset 0. */
export const eventsTopic = (partitions: number): TopicSpec => ({
  name: 'events',
  partitions,
  configs: retention.forever,
});
