// Hosts the decider for one aggregate: versions, envelopes, idempotency, saga follow-ups and
// error capture. Pure, so the actor stays thin and all of this is unit-tested without I/O.
import type { AggregateSnapshot, RecentOutcome } from '../../topics/aggregates-changelog.js';
import type { CommandResult } from '../../topics/command-results.js';
import type { Command } from '../../topics/commands.js';
import type { EventEnvelope } from '../../topics/events.js';
import { followUps } from '../transfer/saga.js';
import { decide, evolve, initialState, rejections, type Decision } from './decider.js';

/**
 * Idempotency window: a commandId is recognised for 24 h among the aggregate's last 100 commands.
 * Time is the broker's append time of the command, so a client's clock cannot empty the window.
 */
export const dedupWindowMs = 24 * 60 * 60 * 1000;
export const dedupEntriesMax = 100;
export const internalErrorReason = 'internal error';

export const emptySnapshot: AggregateSnapshot = { version: 0, state: initialState, recent: [] };

export interface CommandOutcome {
  readonly result: CommandResult;
  readonly events: EventEnvelope[];
  readonly followUps: Command[];
  /** Set when the command also goes to the DLQ, with this reason, for a person to look at. */
  readonly deadLetter?: DeadLetter;
}

/**
 * decider-error: the decider threw (a bug); the state stays as it was.
 * refund-rejected: a saga refund the account refused (its balance would pass 2^53): the amount is
 * held by no account until someone applies it, so it must not pass as an ordinary rejection.
 */
export interface DeadLetter {
  readonly kind: 'decider-error' | 'refund-rejected';
  readonly reason: string;
}

export function handleCommand(snapshot: AggregateSnapshot, command: Command, receivedAtMs: number): { snapshot: AggregateSnapshot; outcome: CommandOutcome } {
  // Everything inside: a throw anywhere (the decider, or a corrupt snapshot met by the host)
  // would otherwise stop the actor, and its partition would retry the batch without end.
  try {
    return handled(snapshot, command, receivedAtMs);
  } catch (err) {
    const { commandId, aggregateId } = command;
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    const result: CommandResult = { commandId, aggregateId, status: 'rejected', reason: internalErrorReason, version: snapshot.version };
    // A credit that cannot be decided is a credit not made: the saga refunds the source, or the
    // money it already debited would be lost.
    const refund = command.type === 'CreditTransfer' ? followUps(command, { ok: false, reason: rejections.unknownAccount }, snapshot.version) : [];
    return { snapshot, outcome: { result, events: [], followUps: refund, deadLetter: { kind: 'decider-error', reason: `decider threw: ${error}` } } };
  }
}

function handled(snapshot: AggregateSnapshot, command: Command, receivedAtMs: number): { snapshot: AggregateSnapshot; outcome: CommandOutcome } {
  const { commandId, aggregateId } = command;
  const oldestMs = receivedAtMs - dedupWindowMs;
  const seen = snapshot.recent.find((entry) => entry.commandId === commandId && entry.receivedAtMs >= oldestMs);
  if (seen) {
    const result: CommandResult = { commandId, aggregateId, status: 'duplicate', version: seen.version };
    if (seen.reason !== undefined) result.reason = seen.reason;
    return { snapshot, outcome: { result, events: [], followUps: [] } };
  }
  const decision: Decision = decide(command, snapshot.state);
  let state = snapshot.state;
  if (decision.ok) for (const event of decision.events) state = evolve(state, event);
  const events: EventEnvelope[] = decision.ok
    ? decision.events.map((event, i) => {
        const seq = snapshot.version + i + 1;
        return { eventId: `${aggregateId}:${seq}`, aggregateId, seq, commandId, occurredAt: command.issuedAt, ...event };
      })
    : [];
  const version = snapshot.version + events.length;
  const recent: RecentOutcome = decision.ok
    ? { commandId, status: 'accepted', version, receivedAtMs }
    : { commandId, status: 'rejected', version, reason: decision.reason, receivedAtMs };
  const result: CommandResult = decision.ok
    ? { commandId, aggregateId, status: 'accepted', version }
    : { commandId, aggregateId, status: 'rejected', reason: decision.reason, version };
  const deadLetter = !decision.ok && command.type === 'RefundTransfer' ? refundRejected(command, decision.reason) : undefined;
  const outcome: CommandOutcome = { result, events, followUps: followUps(command, decision, version), ...(deadLetter && { deadLetter }) };
  return { snapshot: { version, state, recent: remember(snapshot.recent, recent) }, outcome };
}

function refundRejected(command: Extract<Command, { type: 'RefundTransfer' }>, reason: string): DeadLetter {
  const { amount, transferId } = command.payload;
  return { kind: 'refund-rejected', reason: `refund of ${amount} for transfer ${transferId} rejected (${reason}): the amount is held by no account until it is applied by hand` };
}

/** Keeps the outcomes inside the window, newest last, at most dedupEntriesMax. */
function remember(recent: RecentOutcome[], latest: RecentOutcome): RecentOutcome[] {
  const oldestMs = latest.receivedAtMs - dedupWindowMs;
  const kept = recent.filter((entry) => entry.receivedAtMs >= oldestMs);
  kept.push(latest);
  return kept.length > dedupEntriesMax ? kept.slice(kept.length - dedupEntriesMax) : kept;
}
