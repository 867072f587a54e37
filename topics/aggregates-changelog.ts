import type { TopicSpec } from './spec.js';

/**
 * The latest snapshot of every aggregate, compacted. Co-partitioned with `commands`: partition p
 * holds the snapshots of the aggregates whose commands arrive on commands/p, so a processor
 * that takes over commands/p restores exactly this partition.
 */
export const aggregatesChangelogTopic = (appId: string, partitions: number): TopicSpec => ({
  name: `${appId}-aggregates-changelog`,
  partitions,
  configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(60 * 60 * 1000) },
});
