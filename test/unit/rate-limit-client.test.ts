import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyPluginAsync } from 'fastify';
import { clientKey } from '../../src/http/rate-limit.js';
import { buildHttpServer } from '../../src/http/server.js';

test('IPv4 is counted per address, IPv6 per /64 however it is written', () => {
  assert.is(clientKey('203.0.113.7'), '203.0.113.7');
  assert.is(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
  const sameSlash64 = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::a%eth0'];
  for (const ip of sameSlash64) assert.is(clientKey(ip), '2001:db8:1:2::/64', ip);
  assert.is(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64');
  assert.is(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.is(clientKey('::1'), '0:0:0:0::/64');
  assert.is(clientKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
  assert.is(clientKey('1::4:5:6:1.2.3.4'), '1:0:0:4::/64', 'an embedded IPv4 address is two groups');
  assert.is(clientKey('::'), '0:0:0:0::/64');
  assert.is(clientKey('1::'), '1:0:0:0::/64');
});

test('anything but an address counts as itself, cut short; none at all does not throw', () => {
  assert.is(clientKey('1.2.3.4:5678'), 'other:1.2.3.4:5678');
  assert.is(clientKey('[2001:db8::1]'), 'other:[2001:db8::1]');
  assert.is(clientKey('x'.repeat(500)).length, 'other:'.length + 100);
  assert.is(clientKey(undefined), 'other:unknown');
});

test('X-Forwarded-For counts only from a trusted proxy', async () => {
  const plugin: FastifyPluginAsync = async (app) => void app.get('/ip', async (req) => ({ ip: req.ip }));
  const forwarded = { 'x-forwarded-for': '198.51.100.9' };
  for (const [trust, expected] of [[undefined, '127.0.0.1'], [['127.0.0.1'], '198.51.100.9'], [['10.0.0.0/8'], '127.0.0.1']] as const) {
    const app = buildHttpServer([plugin], trust as string[] | undefined);
    const reply = await app.inject({ method: 'GET', url: '/ip', headers: forwarded, remoteAddress: '127.0.0.1' });
    assert.is(JSON.parse(reply.body).ip, expected, String(trust));
    await app.close();
  }
});

test.run();
