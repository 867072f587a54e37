// The baselines of bench:e2e (c) and (d): bare fastify routes with the same response shapes, no
// Redis, no Kafka.
import Fastify from 'fastify';

const view = { id: 'acc-0', ownerId: 'owner', currency: 'EUR', balance: 500, status: 'open', version: 2, updatedAt: '2026-01-01T00:00:00Z' };
const app = Fastify({ logger: false });
app.get('/accounts/:id', async () => view);
let offset = 0;
app.post('/commands', async (req, reply) => reply.code(202).send({ commandId: (req.body as { commandId?: string }).commandId ?? 'c', partition: 0, offset: String(offset++) }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
console.log(`"msg":"http listening","port":${typeof address === 'object' && address ? address.port : 0}`);
console.log('"msg":"started"');
