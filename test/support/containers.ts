// Opt-in (LEDGER_TEST_STACK=docker): the same stack from images through testcontainers,
// for machines with a Docker engine and no Java. Loaded lazily so the default path needs no Docker.
import { kafkaVersion } from '../../src/stack/kafka.js';
import { freePort } from '../../src/stack/ports.js';
import type { Stack } from '../../src/stack/index.js';

export async function startContainerStack(): Promise<Stack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  // Kafka must advertise the host port clients dial, so the port is chosen before the start.
  const kafkaPort = await freePort();
  const kafka = await new GenericContainer(`apache/kafka:${kafkaVersion}`)
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const redis = await new GenericContainer('redis:7')
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withExposedPorts(6379)
    .start();
  return {
    kafkaBrokers: `127.0.0.1:${kafkaPort}`,
    redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    stop: async () => void (await Promise.all([kafka.stop(), redis.stop()])),
  };
}
