import type { AccountView } from '../redis/read-models.js';
import { apiMetrics as metrics } from '../metrics.js';

type Entry = { view?: AccountView; notifiedVersion: number };

/** What expect() hands a read: the entry its view may go into, if that entry is still there then. */
export type ReadToken = Entry | undefined;

/**
 * A bounded in-process cache of account views (least recently used evicted). The projector's
 * notifications ("account X reached version N") invalidate older entries, and a view read
 * before a notification it predates is not cached, so a hit is never older than the last
 * notification this process received, nor than a minVersion the caller asks for.
 */
export class AccountCache {
  private readonly entries = new Map<string, Entry>();
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
   * Call before reading Redis: notifications that arrive during the read are kept in the entry
   * it returns (a placeholder for a new id). Pass the token to set() or abandon().
   */
  expect(id: string): ReadToken {
    if (!this.serving) return undefined;
    let entry = this.entries.get(id);
    if (!entry) this.touch(id, (entry = { notifiedVersion: 0 }));
    return entry;
  }

  /**
   * Notifications may have been missed: forget everything (reads in flight then find their
   * entry gone). serving: whether notifications arrive again (the subscriber is connected) or
   * not (it disconnected: until the next clear, nothing is served).
   */
  clear(serving: boolean): void {
    this.entries.clear();
    this.serving = serving;
  }

  /** The read found nothing, or failed: its placeholder goes, so unknown ids do not push views out. */
  abandon(id: string, token: ReadToken): void {
    if (token && this.entries.get(id) === token && token.view === undefined) this.entries.delete(id);
  }

  /**
   * Keeps the view only in the entry its read began with: if that went meanwhile (evicted,
   * abandoned by a concurrent 404, cleared), a notice during the read may have been dropped.
   */
  set(view: AccountView, token: ReadToken): void {
    const entry = this.entries.get(view.id);
    if (!this.serving || !token || entry !== token) return;
    if (view.version < entry.notifiedVersion || (entry.view && view.version < entry.view.version)) return;
    entry.view = view;
    this.touch(view.id, entry);
  }

  /** The projector applied version `version` of account `id`. */
  notify(id: string, version: number): void {
    const entry = this.entries.get(id);
    if (entry) entry.notifiedVersion = Math.max(entry.notifiedVersion, version);
  }

  private touch(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.entriesMax) this.entries.delete(this.entries.keys().next().value!);
  }
}
