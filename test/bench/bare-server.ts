// The baseline of bench:e2e (c): a bare fastify route with the same response shape, no Redis.
import Fastify from 'fastify';

const view = { id: 'acc-0', ownerId: 'owner', currency: 'EUR', balance: 500, status: 'open', version: 2, updatedAt: '2026-01-01T00:00:00Z' };
const app = Fastify({ logger: false });
app.get('/accounts/:id', async () => view);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
console.log(`"msg":"http listening","port":${typeof address === 'object' && address ? address.port : 0}`);
console.log('"msg":"started"');
