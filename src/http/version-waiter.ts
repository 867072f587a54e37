import { parseUpdates } from '../../actors/projections/read-models.js';
import type { Redis } from 'ioredis';
import { Unavailable } from './problem.js';
import { logger } from '../log.js';

const log = logger('api');

/**
 * Read-your-writes: resolves when an account's read model reaches a version. The projector
 * publishes the accounts and versions it applied (parseUpdates); one subscriber connection per
 * process wakes the waiters of that account. Waiters are bounded (waitersMax).
 */
export class VersionWaiter {
  private readonly waiters = new Map<string, Set<(version: number) => void>>();
  private count = 0;

  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
    /** Called for every update, e.g. to invalidate a cache. */
    private readonly onUpdate: (id: string, version: number) => void = () => undefined,
    readonly waitersMax = 10_000,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (_channel: string, message: string) => {
      let updates: ReturnType<typeof parseUpdates>;
      try {
        updates = parseUpdates(message);
      } catch (err) {
        // Thrown here, it would end the process (ioredis rethrows it); a waiter still reads again at its timeout.
        log.warn('ignoring an update notice that is not JSON', { error: String(err), message: message.slice(0, 200) });
        return;
      }
      for (const { id, version } of updates) {
        this.onUpdate(id, version);
        const listeners = this.waiters.get(id);
        if (listeners) for (const listener of listeners) listener(version);
      }
    });
    await this.subscriber.subscribe(this.channel);
  }

  /**
   * Resolves with the version read once it is >= minVersion, or with the last version seen
   * after timeoutMs. Throws when waitersMax waits are already pending.
   */
  async waitFor(id: string, minVersion: number, timeoutMs: number, readVersion: () => Promise<number>): Promise<number> {
    if (this.count >= this.waitersMax) throw new Unavailable(`${this.waitersMax} reads are waiting for a version already; retry later`);
    let listener: ((version: number) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let latest = 0;
    // Listen first, then read: an update between the two cannot be missed.
    const reached = new Promise<void>((resolve) => {
      listener = (version) => {
        latest = Math.max(latest, version);
        if (version >= minVersion) resolve();
      };
      timer = setTimeout(resolve, timeoutMs);
    });
    this.add(id, listener!);
    try {
      latest = Math.max(latest, await readVersion());
      if (latest < minVersion) {
        await reached;
        // A notice published while the subscriber reconnected is lost: read once more before answering below it.
        if (latest < minVersion) latest = Math.max(latest, await readVersion());
      }
      return latest;
    } finally {
      clearTimeout(timer);
      this.remove(id, listener!);
    }
  }

  private add(id: string, listener: (version: number) => void): void {
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(listener);
    this.count++;
  }

  private remove(id: string, listener: (version: number) => void): void {
    const set = this.waiters.get(id);
    set?.delete(listener);
    if (set?.size === 0) this.waiters.delete(id);
    this.count--;
  }
}
