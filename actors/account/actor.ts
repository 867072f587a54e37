// The thin actor: one per live aggregate, so its commands are handled one at a time, in order.
import { spawn, type Ref } from 'nact';
import type { AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import type { Command } from '../../topics/commands.js';
import { handleCommand, type CommandOutcome } from './host.js';

/** One message per aggregate per batch: its commands in order, each with the broker's append time. */
export interface HandleCommands {
  readonly commands: Array<{ readonly command: Command; readonly receivedAtMs: number }>;
  /**
   * The answer goes back through a callback, not nact's query(): a query costs a timer and a
   * temporary actor per aggregate per batch; the worker keeps one timeout for the whole batch.
   */
  readonly reply: (handled: HandledCommands) => void;
}
export interface HandledCommands {
  readonly outcomes: CommandOutcome[];
  /** The snapshot after the commands; undefined when nothing changed (only duplicates or errors). */
  readonly snapshot: AggregateSnapshot | undefined;
}

export function spawnAccountActor(parent: Ref<unknown>, name: string, snapshot: AggregateSnapshot): Ref<HandleCommands> {
  return spawn(
    parent as never,
    (state: AggregateSnapshot = snapshot, msg: HandleCommands) => {
      let current = state;
      const outcomes = msg.commands.map(({ command, receivedAtMs }) => {
        const handled = handleCommand(current, command, receivedAtMs);
        current = handled.snapshot;
        return handled.outcome;
      });
      msg.reply({ outcomes, snapshot: current === state ? undefined : current });
      return current;
    },
    name,
    { initialState: snapshot },
  ) as Ref<HandleCommands>;
}
