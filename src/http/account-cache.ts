import type { AccountView } from '../redis/read-models.js';
import { apiMetrics as metrics } from '../metrics.js';

/**
 * A bounded in-process cache of account views (least recently used evicted). The projector's
 * notifications ("account X reached version N") invalidate older entries, and a view read
 * before a notification it predates is not cached, so a hit is never older than the last
 * notification this process received, nor than a minVersion the caller asks for.
 */
export class AccountCache {
  private readonly entries = new Map<string, { view?: AccountView; notifiedVersion: number }>();
  /** Bumped by clear(): a read that began before it is not cached (it may predate a missed notification). */
  private generation = 0;
  /** False while notifications cannot arrive (the subscriber is disconnected): nothing is served or kept. */
  private serving = true;

  constructor(readonly entriesMax = 10_000) {}

  get(id: string, minVersion = 0): AccountView | undefined {
    const entry = this.entries.get(id);
    const view = entry?.view;
    if (!this.serving || !view || view.version < minVersion || view.version < entry.notifiedVersion) {
      metrics.cacheMisses.inc();
      return undefined;
    }
    this.touch(id, entry);
    metrics.cacheHits.inc();
    return view;
  }

  /**
   * Call before reading Redis: a notification that arrives during the read is then kept. Pass
   * what it returns to set().
   */
  expect(id: string): number {
    if (this.serving && !this.entries.has(id)) this.touch(id, { notifiedVersion: 0 });
    return this.generation;
  }

  /**
   * Notifications may have been missed: forget everything. serving: whether they arrive again
   * (the subscriber is connected) or not (it disconnected: until the next clear, nothing is served).
   */
  clear(serving: boolean): void {
    this.entries.clear();
    this.generation++;
    this.serving = serving;
  }

  /** The read found nothing: the placeholder expect() made goes, so unknown ids do not push views out. */
  abandon(id: string): void {
    if (this.entries.get(id)?.view === undefined) this.entries.delete(id);
  }

  /** readGeneration: what expect() returned before the read. */
  set(view: AccountView, readGeneration: number): void {
    const entry = this.entries.get(view.id);
    // No placeholder (evicted, or dropped by a concurrent 404): a notice during the read may be lost.
    if (!this.serving || readGeneration !== this.generation || !entry) return;
    if (view.version < entry.notifiedVersion || (entry.view && view.version < entry.view.version)) return;
    this.touch(view.id, { view, notifiedVersion: entry.notifiedVersion });
  }

  /** The projector applied version `version` of account `id`. */
  notify(id: string, version: number): void {
    const entry = this.entries.get(id);
    if (entry) entry.notifiedVersion = Math.max(entry.notifiedVersion, version);
  }

  private touch(id: string, entry: { view?: AccountView; notifiedVersion: number }): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.entriesMax) this.entries.delete(this.entries.keys().next().value!);
  }
}
