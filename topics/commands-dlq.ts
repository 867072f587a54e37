import { retention, type TopicSpec } from './spec.js';

/** Commands that could not be decoded or handled, with the reason. Kept long enough to investigate. */
export const commandsDlqTopic = (partitions: number): TopicSpec => ({
  name: 'commands-dlq',
  partitions,
  configs: retention.days(30),
});
