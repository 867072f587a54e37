// The transfer saga, as a pure function of each command's outcome. Its follow-up commands
// commit in the same Kafka transaction as the outcome (a transactional outbox).
import type { Decision } from '../account/decider.js';
import type { Command } from '../../topics/commands.js';

/**
 * - TransferMoney accepted (source debited) -> CreditTransfer to the target.
 * - CreditTransfer rejected (target unknown, closed, other currency) -> RefundTransfer to the source.
 * Follow-up commandIds derive from the source's version after the debit (`credit:<from>:<seq>`),
 * which no other command of any account ever has, and which a replay computes again. Never from
 * client input (transferId, or a commandId reused after the idempotency window): a new transfer's
 * credit or refund that looked like a duplicate would make the money vanish.
 */
export function followUps(command: Command, decision: Decision, version: number): Command[] {
  if (command.type === 'TransferMoney' && decision.ok) {
    const debited = decision.events[0];
    if (debited?.type !== 'TransferDebited') return [];
    const { transferId, toAccountId, amount, currency } = debited.payload;
    return [
      {
        commandId: `credit:${command.aggregateId}:${version}`,
        type: 'CreditTransfer',
        aggregateId: toAccountId,
        payload: { transferId, fromAccountId: command.aggregateId, amount, currency },
        issuedAt: command.issuedAt,
      },
    ];
  }
  if (command.type === 'CreditTransfer' && !decision.ok) {
    const { transferId, fromAccountId, amount } = command.payload;
    return [
      {
        commandId: `refund:${command.commandId}`,
        type: 'RefundTransfer',
        aggregateId: fromAccountId,
        payload: { transferId, toAccountId: command.aggregateId, amount, reason: decision.reason },
        issuedAt: command.issuedAt,
      },
    ];
  }
  return [];
}
