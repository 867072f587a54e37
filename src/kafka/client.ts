import './kafkajs-patch.js'; // before kafkajs loads
import net from 'node:net';
import { Kafka, logLevel as KafkaLogLevel, type ISocketFactory, type LogEntry } from 'kafkajs';
import { logger, type Logger } from '../log.js';

// We always pass the partitioner we mean; the v2 migration notice is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const kafkaLog: Logger = logger('kafkajs');
// kafkajs logs every failed request at ERROR, retried or not; our code decides what is fatal.
const levels: Record<number, keyof Logger> = {
  [KafkaLogLevel.ERROR]: 'warn',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'debug', // kafkajs is chatty at INFO (every join, every fetch start)
  [KafkaLogLevel.DEBUG]: 'debug',
};

/**
 * kafkajs messages that are expected and handled, logged at debug: at warn they came several
 * times per second under load.
 */
const expected: Array<(message: string, fields: Record<string, unknown>) => boolean> = [
  // The broker still writes the previous transaction's markers; kafkajs-patch.ts asks again.
  (message, fields) => message.startsWith('Response AddPartitionsToTxn') && String(fields.error).includes('another concurrent operation on the same transaction'),
  // A coordinator still loading or moving (a fresh broker's first seconds): kafkajs asks again,
  // and a lasting failure comes back as the request's own error.
  (message, fields) =>
    /^Response (GroupCoordinator|FindCoordinator|InitProducerId)\b/.test(message) &&
    /coordinator (is not available|is loading)|not the correct coordinator/i.test(String(fields.error)),
  // Our transactional producers retry a bounded number of times on purpose: a send that still
  // fails aborts its batch's transaction, and the partition restarts from the committed state.
  (message) => message.startsWith('Limiting retries for the idempotent producer'),
];

/** The one place that wires the kafkajs client: brokers, client id, retries and logging. */
export function createKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    socketFactory,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: KafkaLogLevel.INFO,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...fields } = log;
        const quiet = level <= KafkaLogLevel.WARN && expected.some((is) => is(message, fields));
        kafkaLog[quiet ? 'debug' : (levels[level] ?? 'info')](message, fields);
      },
  });
}

/**
 * kafkajs's own factory leaves Nagle's algorithm on, so a small request can sit in the kernel
 * waiting for the ACK of the previous one (the Java client sets TCP_NODELAY). Plain TCP only.
 */
const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = net.connect({ host, port, noDelay: true }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
};
