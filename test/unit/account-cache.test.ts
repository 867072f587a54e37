import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AccountCache } from '../../src/http/account-cache.js';

const view = (version: number) => ({ id: 'a', ownerId: 'o', currency: 'EUR', balance: version, status: 'open' as const, version, updatedAt: '2026-12-02T00:00:00Z' });

test('a view is served until a newer version is notified, and never below minVersion', () => {
  const cache = new AccountCache();
  cache.set(view(2), cache.expect('a'));
  assert.is(cache.get('a')?.version, 2);
  assert.is(cache.get('a', 3), undefined);
  cache.notify('a', 3);
  assert.is(cache.get('a'), undefined);
});

test('a read that began before a clear is not cached: it may predate a notice that was missed', () => {
  const cache = new AccountCache();
  const token = cache.expect('a');
  cache.clear(true); // the subscriber reconnected while the read was in flight
  cache.set(view(2), token);
  assert.is(cache.get('a'), undefined);
});

test('while the subscriber is away nothing is served or kept; after it is back, caching resumes', () => {
  const cache = new AccountCache();
  cache.set(view(2), cache.expect('a'));
  cache.clear(false);
  cache.set(view(2), cache.expect('a'));
  assert.is(cache.get('a'), undefined);
  cache.clear(true);
  cache.set(view(3), cache.expect('a'));
  assert.is(cache.get('a')?.version, 3);
});

test('bounded: the least recently used entry goes', () => {
  const cache = new AccountCache(2);
  for (const id of ['a', 'b', 'c']) cache.set({ ...view(1), id }, cache.expect(id));
  assert.equal(['a', 'b', 'c'].map((id) => cache.get(id)?.id), [undefined, 'b', 'c']);
});

test('reads of unknown ids do not push cached views out', () => {
  const cache = new AccountCache(2);
  cache.set(view(1), cache.expect('a'));
  for (let i = 0; i < 5; i++) {
    cache.abandon(`unknown-${i}`, cache.expect(`unknown-${i}`)); // 404
  }
  assert.is(cache.get('a')?.version, 1);
});

test('a read whose placeholder went meanwhile (a concurrent 404, or eviction) is not cached: a notice may have been lost', () => {
  const cache = new AccountCache();
  const second = cache.expect('a'); // two reads of a new account
  cache.abandon('a', cache.expect('a')); // the first found nothing
  cache.notify('a', 2); // no entry: not kept
  cache.set(view(1), second); // the second found version 1
  assert.is(cache.get('a'), undefined);
});

test('a read whose placeholder was replaced by a newer read\'s is not cached in it', () => {
  const cache = new AccountCache(1);
  const first = cache.expect('a'); // reads version 5 from Redis, slowly
  cache.expect('b'); // evicts a's placeholder
  cache.notify('a', 6); // no entry: not kept
  const second = cache.expect('a'); // a new placeholder
  cache.set(view(5), first);
  assert.is(cache.get('a'), undefined, 'v5 served after v6 was notified');
  cache.set(view(6), second);
  assert.is(cache.get('a')?.version, 6);
});

test('a failed read drops its placeholder, not a view another read cached', () => {
  const cache = new AccountCache();
  cache.set(view(1), cache.expect('a'));
  cache.abandon('a', cache.expect('a'));
  assert.is(cache.get('a')?.version, 1);
  const token = cache.expect('b');
  cache.abandon('b', token);
  cache.set({ ...view(1), id: 'b' }, token);
  assert.is(cache.get('b'), undefined);
});

test.run();
