import { Type, type Static } from '@sinclair/typebox';
import { Codec } from './codec.js';
import type { TopicSpec } from './spec.js';

/**
 * The latest snapshot of every aggregate, compacted. Co-partitioned with `commands`: partition p
 * holds the snapshots of the aggregates whose commands arrive on commands/p, so a processor
 * that takes over commands/p restores exactly this partition.
 */
export const aggregatesChangelogTopic = (appId: string, partitions: number, prefix = ''): TopicSpec => ({
  name: `${prefix}${appId}-aggregates-changelog`,
  partitions,
  configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(60 * 60 * 1000) },
});

/** A key of this kind is a restore marker (see src/processor/restore.ts), not an aggregate. */
export const restoreMarkerKey = '\u0000restore-marker';

export const AccountState = Type.Union([
  Type.Object({ status: Type.Literal('none') }),
  Type.Object({
    status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
    ownerId: Type.String(),
    currency: Type.String(),
    balance: Type.Integer(),
  }),
]);

/** The outcome of a recent command, kept for idempotency. */
const RecentOutcome = Type.Object({
  commandId: Type.String(),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
  version: Type.Integer(),
  reason: Type.Optional(Type.String()),
  /** When the broker appended the command (LogAppendTime of `commands`). */
  receivedAtMs: Type.Number(),
});

export const AggregateSnapshot = Type.Object({
  version: Type.Integer({ minimum: 0 }),
  state: AccountState,
  recent: Type.Array(RecentOutcome),
});
export type AggregateSnapshot = Static<typeof AggregateSnapshot>;
export type RecentOutcome = Static<typeof RecentOutcome>;
export const snapshotCodec = new Codec(AggregateSnapshot);
export type AccountState = Static<typeof AccountState>;
