// Hosts the decider for one aggregate: versions, envelopes, idempotency, saga follow-ups and
// error capture. Pure, so the actor stays thin and all of this is unit-tested without I/O.
import type { AggregateSnapshot, RecentOutcome } from '../../topics/aggregates-changelog.js';
import type { CommandResult } from '../../topics/command-results.js';
import type { Command } from '../../topics/commands.js';
import type { EventEnvelope } from '../../topics/events.js';
import { followUps } from '../transfer/saga.js';
import { decide, evolve, initialState, type Decision } from './decider.js';

/** Idempotency window: a commandId is recognised for 24 h (by issuedAt) among the last 100 commands. */
export const dedupWindowMs = 24 * 60 * 60 * 1000;
export const dedupEntriesMax = 100;
export const internalErrorReason = 'internal error';

export const emptySnapshot: AggregateSnapshot = { version: 0, state: initialState, recent: [] };

export interface CommandOutcome {
  readonly result: CommandResult;
  readonly events: EventEnvelope[];
  readonly followUps: Command[];
  /** Set when the decider threw (a bug): the command goes to the DLQ and the state stays as it was. */
  readonly error?: string;
}

export function handleCommand(snapshot: AggregateSnapshot, command: Command): { snapshot: AggregateSnapshot; outcome: CommandOutcome } {
  const { commandId, aggregateId } = command;
  const seen = snapshot.recent.find((entry) => entry.commandId === commandId);
  if (seen) {
    const result: CommandResult = { commandId, aggregateId, status: 'duplicate', version: seen.version };
    if (seen.reason !== undefined) result.reason = seen.reason;
    return { snapshot, outcome: { result, events: [], followUps: [] } };
  }
  let decision: Decision;
  let state = snapshot.state;
  try {
    decision = decide(command, snapshot.state);
    if (decision.ok) for (const event of decision.events) state = evolve(state, event);
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    const result: CommandResult = { commandId, aggregateId, status: 'rejected', reason: internalErrorReason, version: snapshot.version };
    return { snapshot, outcome: { result, events: [], followUps: [], error } };
  }
  const events: EventEnvelope[] = decision.ok
    ? decision.events.map((event, i) => {
        const seq = snapshot.version + i + 1;
        return { eventId: `${aggregateId}:${seq}`, aggregateId, seq, commandId, occurredAt: command.issuedAt, ...event };
      })
    : [];
  const version = snapshot.version + events.length;
  const recent: RecentOutcome = decision.ok
    ? { commandId, status: 'accepted', version, issuedAtMs: Date.parse(command.issuedAt) }
    : { commandId, status: 'rejected', version, reason: decision.reason, issuedAtMs: Date.parse(command.issuedAt) };
  const result: CommandResult = decision.ok
    ? { commandId, aggregateId, status: 'accepted', version }
    : { commandId, aggregateId, status: 'rejected', reason: decision.reason, version };
  return {
    snapshot: { version, state, recent: remember(snapshot.recent, recent) },
    outcome: { result, events, followUps: followUps(command, decision) },
  };
}

/** Keeps the outcomes inside the window, newest last, at most dedupEntriesMax. */
function remember(recent: RecentOutcome[], latest: RecentOutcome): RecentOutcome[] {
  const oldestMs = latest.issuedAtMs - dedupWindowMs;
  const kept = recent.filter((entry) => entry.issuedAtMs >= oldestMs);
  kept.push(latest);
  return kept.length > dedupEntriesMax ? kept.slice(kept.length - dedupEntriesMax) : kept;
}
