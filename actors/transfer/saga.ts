// The transfer saga, as a pure function of each command's outcome. Its follow-up commands
// commit in the same Kafka transaction as the outcome (a transactional outbox).
import type { Decision } from '../account/decider.js';
import type { Command } from '../../topics/commands.js';

/**
 * - TransferMoney accepted (source debited) -> CreditTransfer to the target.
 * - CreditTransfer rejected (target unknown, closed, other currency) -> RefundTransfer to the source.
 * Follow-up commandIds are derived from the source account and transferId, so a retried step
 * is deduplicated by the receiving aggregate instead of moving money twice.
 */
export function followUps(command: Command, decision: Decision): Command[] {
  if (command.type === 'TransferMoney' && decision.ok) {
    const debited = decision.events[0];
    if (debited?.type !== 'TransferDebited') return [];
    const { transferId, toAccountId, amount, currency } = debited.payload;
    return [
      {
        commandId: `credit:${command.aggregateId}:${transferId}`,
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
        commandId: `refund:${fromAccountId}:${transferId}`,
        type: 'RefundTransfer',
        aggregateId: fromAccountId,
        payload: { transferId, toAccountId: command.aggregateId, amount, reason: decision.reason },
        issuedAt: command.issuedAt,
      },
    ];
  }
  return [];
}
