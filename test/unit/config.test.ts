import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.js';

test('defaults: local stack, port 8080, ./data, app "ledger", 12 partitions', () => {
  const config = loadConfig({});
  assert.is(config.kafkaBrokers, undefined);
  assert.is(config.redisUrl, undefined);
  assert.is(config.httpPort, 8080);
  assert.is(config.dataDir, './data');
  assert.is(config.appId, 'ledger');
  assert.is(config.partitions, 12);
});

test('KAFKA_BROKERS is a comma list of host:port; REDIS_URL a redis URL; TOPIC_PREFIX of Kafka\'s characters', () => {
  assert.equal(loadConfig({ KAFKA_BROKERS: 'a:9092, b:9092,' }).kafkaBrokers, ['a:9092', 'b:9092']);
  assert.equal(loadConfig({ KAFKA_BROKERS: '[::1]:9092,10.0.0.1:9093' }).kafkaBrokers, ['[::1]:9092', '10.0.0.1:9093']);
  assert.throws(() => loadConfig({ KAFKA_BROKERS: 'a:9092,kafka' }), /KAFKA_BROKERS must be a comma list of host:port, got "kafka"/);
  assert.throws(() => loadConfig({ KAFKA_BROKERS: 'PLAINTEXT://a:9092' }), /KAFKA_BROKERS/);
  assert.is(loadConfig({ REDIS_URL: 'rediss://cache:6380/1' }).redisUrl, 'rediss://cache:6380/1');
  assert.throws(() => loadConfig({ REDIS_URL: 'localhost:6379' }), /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL, got "localhost:6379"/);
  assert.throws(() => loadConfig({ TOPIC_PREFIX: 'team a.' }), /TOPIC_PREFIX/);
  assert.is(loadConfig({ TOPIC_PREFIX: 'team-a.' }).topicPrefix, 'team-a.');
  assert.is(loadConfig({}).shutdownTimeoutMs, 25_000);
  assert.equal(loadConfig({ TOPIC_REPLICATION_FACTOR: '3' }).topicReplication, { factor: 3, minInsyncReplicas: undefined });
  assert.throws(() => loadConfig({ TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' }), /TOPIC_MIN_INSYNC_REPLICAS \(3\) must not exceed TOPIC_REPLICATION_FACTOR \(2\)/);
  assert.throws(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: '5000' }), /SHUTDOWN_TIMEOUT_MS must be an integer from 20000/);
});

test('invalid numbers fail naming the variable and the range', () => {
  assert.throws(() => loadConfig({ PARTITIONS: '0' }), /PARTITIONS must be an integer from 1 to 1000, got "0"/);
  assert.throws(() => loadConfig({ HTTP_PORT: 'eighty' }), /HTTP_PORT/);
  assert.throws(() => loadConfig({ APP_ID: 'a b' }), /APP_ID/);
});

test('batches in flight: the processor bounds them by count and bytes, the projector by a count of its own', () => {
  const limits = (c: ReturnType<typeof loadConfig>) => [c.processor.batchesInFlightPerPartitionMax, c.processor.bytesInFlightPerPartitionMax, c.projectorBatchesInFlightPerPartitionMax];
  assert.equal(limits(loadConfig({})), [16, 2 * 1024 * 1024, 2]);
  assert.equal(limits(loadConfig({ BATCHES_IN_FLIGHT_PER_PARTITION_MAX: '4', BYTES_IN_FLIGHT_PER_PARTITION_MAX: '3145728' })), [4, 3 * 1024 * 1024, 2]);
  assert.equal(limits(loadConfig({ PROJECTOR_BATCHES_IN_FLIGHT_PER_PARTITION_MAX: '8' })), [16, 2 * 1024 * 1024, 8]);
  assert.throws(() => loadConfig({ BYTES_IN_FLIGHT_PER_PARTITION_MAX: '100' }), /BYTES_IN_FLIGHT_PER_PARTITION_MAX must be an integer from 1024/);
  // Room for at least one fetch; by default two.
  assert.is(loadConfig({ BATCH_BYTES_MAX: '8192' }).processor.bytesInFlightPerPartitionMax, 16_384);
  assert.throws(() => loadConfig({ BATCH_BYTES_MAX: '8192', BYTES_IN_FLIGHT_PER_PARTITION_MAX: '4096' }), /BYTES_IN_FLIGHT_PER_PARTITION_MAX \(4096\) must be at least BATCH_BYTES_MAX \(8192\)/);
});

test('TRUST_PROXY: unset trusts no proxy; a list of addresses and CIDRs; anything else fails naming it', () => {
  assert.is(loadConfig({}).trustProxy, undefined);
  assert.equal(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,loopback,fd00::/8' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', 'loopback', 'fd00::/8']);
  assert.throws(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8,proxy.local' }), /TRUST_PROXY .*got "proxy.local"/);
  assert.throws(() => loadConfig({ TRUST_PROXY: '2' }), /TRUST_PROXY/);
  assert.throws(() => loadConfig({ TRUST_PROXY: '10.0.0.0/99' }), /TRUST_PROXY .*got "10.0.0.0\/99"/);
  assert.throws(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8/8' }), /TRUST_PROXY/);
  assert.equal(loadConfig({ TRUST_PROXY: 'fd00::/128' }).trustProxy, ['fd00::/128']);
});

test('LOCAL_STACK: on by default, off under NODE_ENV=production, 0 or 1 when set', () => {
  assert.is(loadConfig({}).localStack, true);
  assert.is(loadConfig({ NODE_ENV: 'production' }).localStack, false);
  assert.is(loadConfig({ NODE_ENV: 'production', LOCAL_STACK: '1' }).localStack, true);
  assert.is(loadConfig({ LOCAL_STACK: '0' }).localStack, false);
  assert.throws(() => loadConfig({ LOCAL_STACK: 'yes' }), /LOCAL_STACK must be 0 or 1, got "yes"/);
});

test.run();
