import type { Redis } from 'ioredis';
import { historyEntryOf, type AccountView, type HistoryEntry, type Keys, type Stats } from '../../actors/projections/read-models.js';

export type { AccountView, Stats } from '../../actors/projections/read-models.js';
import type { CommandResult } from '../../topics/command-results.js';

/** Reads the projector's read models (see actors/projections/read-models.ts for the layout). */
export class ReadModels {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async account(id: string): Promise<AccountView | undefined> {
    const h = await this.redis.hgetall(this.k.account(id));
    if (!h.version) return undefined;
    return {
      id,
      ownerId: h.ownerId ?? '',
      currency: h.currency ?? '',
      balance: Number(h.balance),
      status: h.status === 'closed' ? 'closed' : 'open',
      version: Number(h.version),
      updatedAt: h.updatedAt ?? '',
    };
  }

  async version(id: string): Promise<number> {
    return Number((await this.redis.hget(this.k.account(id), 'version')) ?? 0);
  }

  /** Newest first; cursor = the seq to continue below (exclusive). */
  async history(id: string, limit: number, cursor: number | undefined): Promise<{ items: HistoryEntry[]; nextCursor: number | null }> {
    const max = cursor === undefined ? '+inf' : `(${cursor}`;
    const members = await this.redis.zrevrangebyscore(this.k.history(id), max, '-inf', 'LIMIT', 0, limit + 1);
    const items = members.slice(0, limit).flatMap((m) => historyEntryOf(m) ?? []);
    return { items, nextCursor: members.length > limit ? items[items.length - 1]!.seq : null };
  }

  async stats(): Promise<Stats> {
    const h = await this.redis.hgetall(this.k.stats);
    const balances: Record<string, number> = {};
    for (const [field, value] of Object.entries(h)) if (field.startsWith('balance:')) balances[field.slice('balance:'.length)] = Number(value);
    return { accounts: { open: Number(h['accounts:open'] ?? 0), closed: Number(h['accounts:closed'] ?? 0) }, balances };
  }

  async result(commandId: string): Promise<CommandResult | undefined> {
    const raw = await this.redis.get(this.k.result(commandId));
    return raw ? (JSON.parse(raw) as CommandResult) : undefined;
  }
}
