import { Type, type Static } from '@sinclair/typebox';
import { Codec, parseJson, type Decoded } from './codec.js';
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

/** A key of this kind is a restore marker (see PartitionWorker.restore), not an aggregate. */
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

/** The outcome of a recent command, kept in the snapshot for idempotency (see actors/account/host.ts). */
export interface RecentOutcome {
  commandId: string;
  status: 'accepted' | 'rejected';
  version: number;
  reason?: string;
  /** When the broker appended the command (LogAppendTime of `commands`). */
  receivedAtMs: number;
}

export interface AggregateSnapshot {
  version: number;
  state: AccountState;
  recent: RecentOutcome[];
}

/**
 * On the wire (changelog and RocksDB) a recent outcome is a tuple, [commandId, version,
 * receivedAtMs] or [commandId, version, receivedAtMs, rejectionReason]: the dedup list is most
 * of a snapshot's bytes, and snapshots are most of what the processor writes. Under
 * `recentRel` (written since 2026-12-02) the two numbers are relative: how many versions and
 * ms the entry lies before the next newer one, the newest before the snapshot's `version` and
 * `recentAtMs`. They are then a digit or a few instead of up to thirteen digits (bench:e2e
 * (b) prints the changelog bytes per command). Under `recent` (older snapshots, still read)
 * they are absolute, or relative when `recentAtMs` is there (2026-11-22 to 12-02).
 * The relative list has its own name so that code from before it, which requires `recent`
 * and reads it as absolute, rejects such a snapshot (a rollback fails loudly) instead of
 * reading every entry as expired and applying a retried command twice.
 */
const WireOutcome = Type.Union([
  Type.Tuple([Type.String(), Type.Integer(), Type.Number()]),
  Type.Tuple([Type.String(), Type.Integer(), Type.Number(), Type.String()]),
]);
const snapshotFields = { version: Type.Integer({ minimum: 0 }), state: AccountState };
export const SnapshotWire = Type.Union([
  Type.Object({ ...snapshotFields, recentRel: Type.Array(WireOutcome), recentAtMs: Type.Number() }),
  Type.Object({ ...snapshotFields, recent: Type.Array(WireOutcome), recentAtMs: Type.Optional(Type.Number()) }),
]);
const wireCodec = new Codec(SnapshotWire);

export function encodeSnapshot({ version, state, recent }: AggregateSnapshot): Buffer {
  const recentAtMs = recent.at(-1)?.receivedAtMs ?? 0;
  const wire: Static<typeof SnapshotWire> = {
    version,
    state,
    recentRel: recent.map((r, i) => {
      const newer = recent[i + 1];
      const versionsBefore = (newer?.version ?? version) - r.version;
      const msBefore = (newer?.receivedAtMs ?? recentAtMs) - r.receivedAtMs;
      return r.reason === undefined ? [r.commandId, versionsBefore, msBefore] : [r.commandId, versionsBefore, msBefore, r.reason];
    }),
    recentAtMs,
  };
  return Buffer.from(JSON.stringify(wire));
}

export function decodeSnapshot(bytes: Buffer): Decoded<AggregateSnapshot> {
  const json = parseJson(bytes);
  if (!json.ok) return json;
  const checked = wireCodec.validate(json.value);
  if (!checked.ok) return checked;
  const { version, state, recentAtMs } = checked.value;
  const wire = 'recentRel' in checked.value ? checked.value.recentRel : checked.value.recent;
  const relative = recentAtMs !== undefined;
  const recent: RecentOutcome[] = new Array(wire.length);
  let newerVersion = version;
  let newerMs = recentAtMs ?? 0;
  for (let i = wire.length - 1; i >= 0; i--) {
    const [commandId, v, ms, reason] = wire[i]!;
    const entryVersion = relative ? newerVersion - v : v;
    const receivedAtMs = relative ? newerMs - ms : ms;
    recent[i] = reason === undefined ? { commandId, status: 'accepted', version: entryVersion, receivedAtMs } : { commandId, status: 'rejected', version: entryVersion, receivedAtMs, reason };
    newerVersion = entryVersion;
    newerMs = receivedAtMs;
  }
  return { ok: true, value: { version, state, recent } };
}

export type AccountState = Static<typeof AccountState>;
