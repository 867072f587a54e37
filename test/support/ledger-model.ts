// A seeded workload of commands and, computed independently of the decider, what must come
// out of it. Built so the outcome does not depend on timing across accounts: senders never
// receive money, receivers never lose any, and refund senders act once and then stay still.

export interface RawCommand {
  commandId: string;
  type: string;
  aggregateId: string;
  payload: Record<string, unknown>;
  issuedAt: string;
}

export interface Workload {
  readonly commands: RawCommand[];
  /** Records that must be dead-lettered: [key, raw value, expected reason pattern, commandId if readable]. */
  readonly poison: Array<{ key: string; value: string; reason: RegExp; commandId?: string }>;
  /** Every result per commandId, in order (a duplicate adds 'duplicate' after the original outcome). */
  readonly results: Map<string, string[]>;
  readonly balances: Map<string, number>;
  readonly versions: Map<string, number>;
  readonly deposited: number;
  readonly withdrawn: number;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildWorkload(ns: string, seed: number, sizes = { senders: 60, receivers: 40, refunders: 10, ops: 2500 }): Workload {
  const random = rng(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (max: number) => 1 + Math.floor(random() * max);
  const issuedAt = '2026-01-01T00:00:00Z';
  const names = (kind: string, n: number) => Array.from({ length: n }, (_, i) => `${ns}-${kind}-${i}`);
  const senders = names('s', sizes.senders);
  const receivers = names('r', sizes.receivers);
  const refunders = names('x', sizes.refunders);
  const foreign = `${ns}-usd`;

  const commands: RawCommand[] = [];
  const results = new Map<string, string[]>();
  const balances = new Map<string, number>();
  const versions = new Map<string, number>();
  let deposited = 0;
  let withdrawn = 0;
  let n = 0;
  const outcome = (commandId: string, status: string) => results.set(commandId, [...(results.get(commandId) ?? []), status]);
  const bump = (id: string, delta: number) => {
    balances.set(id, (balances.get(id) ?? 0) + delta);
    versions.set(id, (versions.get(id) ?? 0) + 1);
  };
  const send = (aggregateId: string, type: string, payload: Record<string, unknown>): RawCommand => {
    const command = { commandId: `${ns}-c${n++}`, type, aggregateId, payload, issuedAt };
    commands.push(command);
    return command;
  };

  for (const id of [...senders, ...receivers, ...refunders, foreign]) {
    outcome(send(id, 'OpenAccount', { ownerId: `owner-${id}`, currency: id === foreign ? 'USD' : 'EUR' }).commandId, 'accepted');
    bump(id, 0);
  }
  const deposit = (id: string, amount: number) => {
    const accepted = Number.isSafeInteger(amount) && amount > 0;
    outcome(send(id, 'Deposit', { amount }).commandId, accepted ? 'accepted' : 'rejected');
    if (accepted) {
      bump(id, amount);
      deposited += amount;
    }
  };
  for (const id of [...senders, ...refunders]) deposit(id, 1_000 + int(1_000));

  for (let i = 0; i < sizes.ops; i++) {
    const roll = random();
    if (roll < 0.15) deposit(pick(receivers), int(500));
    else if (roll < 0.4) deposit(pick(senders), int(800));
    else if (roll < 0.43) deposit(pick(senders), pick([0, -5, 1.5])); // rejected: not a positive safe integer
    else if (roll < 0.45) outcome(send(`${ns}-nobody-${i}`, 'Deposit', { amount: 10 }).commandId, 'rejected');
    else if (roll < 0.7) {
      const id = pick(senders);
      const amount = int(1_500);
      const ok = amount <= balances.get(id)!;
      outcome(send(id, 'Withdraw', { amount }).commandId, ok ? 'accepted' : 'rejected');
      if (ok) {
        bump(id, -amount);
        withdrawn += amount;
      }
    } else {
      const [from, to, amount] = [pick(senders), pick(receivers), int(1_500)];
      const transferId = `t${i}`;
      const ok = amount <= balances.get(from)!;
      const transfer = send(from, 'TransferMoney', { transferId, toAccountId: to, amount });
      outcome(transfer.commandId, ok ? 'accepted' : 'rejected');
      if (ok) {
        bump(from, -amount);
        outcome(`credit:${from}:${versions.get(from)}`, 'accepted');
        bump(to, amount);
      }
    }
  }
  // Transfers that must come back: to an account in another currency, or to none at all.
  refunders.forEach((id, i) => {
    const transferId = `rt${i}`;
    const to = i % 2 === 0 ? foreign : `${ns}-missing-${i}`;
    const transfer = send(id, 'TransferMoney', { transferId, toAccountId: to, amount: 100 });
    outcome(transfer.commandId, 'accepted');
    bump(id, -100);
    outcome(`credit:${id}:${versions.get(id)}`, 'rejected');
    outcome(`refund:credit:${id}:${versions.get(id)}`, 'accepted');
    bump(id, 100);
  });
  // The same commands again: each answers 'duplicate' and changes nothing.
  for (const original of commands.slice(0, commands.length).filter((_, i) => i % 97 === 5)) {
    commands.push({ ...original });
    outcome(original.commandId, 'duplicate');
  }
  const poison = [
    { key: senders[0]!, value: '{"not json', reason: /not JSON/ },
    { key: senders[1]!, value: JSON.stringify({ commandId: `${ns}-p1`, type: 'Teleport', aggregateId: senders[1], payload: {}, issuedAt }), reason: /unknown command type/, commandId: `${ns}-p1` },
    { key: senders[2]!, value: JSON.stringify({ commandId: `${ns}-p2`, type: 'Deposit', aggregateId: senders[2], payload: { amount: 'lots' }, issuedAt }), reason: /payload\.amount/, commandId: `${ns}-p2` },
  ];
  for (const p of poison) if (p.commandId) outcome(p.commandId, 'rejected');
  return { commands, poison, results, balances, versions, deposited, withdrawn };
}
