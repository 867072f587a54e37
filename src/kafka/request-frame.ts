// kafkajs 2.2.4's protocol/request.js, the same bytes: a request's size, header (api key and
// version, correlation id, client id) and payload, written into one buffer of the exact size.
// kafkajs copies the payload twice, through two Encoders that grow by zero-filled doubling;
// produce payloads are up to megabytes (test/unit/request-frame.test.ts compares the bytes).

interface Args {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<{ buffer: Buffer }> | { buffer: Buffer } };
}

export async function encodeRequestFrame({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: Args): Promise<{ buf: Buffer; buffer: Buffer }> {
  const payload = (await encode()).buffer;
  const clientIdBytes = clientId == null ? -1 : Buffer.byteLength(clientId, 'utf8');
  const size = 2 + 2 + 4 + 2 + Math.max(clientIdBytes, 0) + payload.length;
  const buf = Buffer.allocUnsafe(4 + size);
  let at = buf.writeInt32BE(size, 0);
  at = buf.writeInt16BE(apiKey, at);
  at = buf.writeInt16BE(apiVersion, at);
  at = buf.writeInt32BE(correlationId, at);
  at = buf.writeInt16BE(clientIdBytes, at);
  if (clientId != null) at += buf.write(clientId, at, 'utf8');
  payload.copy(buf, at);
  return { buf, buffer: buf };
}
