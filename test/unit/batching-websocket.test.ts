import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { BatchingWebSocket } from '../../src/lib/graphql-ws.ts';

const open: { close(): void }[] = [];
afterEach(() => open.splice(0).forEach((o) => o.close()));

/** A server whose sockets are BatchingWebSockets, and a client whose raw TCP reads are counted. */
async function pair() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, WebSocket: BatchingWebSocket });
  open.push(wss, server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  open.push(client);
  await new Promise((resolve) => client.once('open', resolve));
  const received: string[] = [];
  client.on('message', (m) => received.push(String(m)));
  const serverSide = await accepted;
  // The server's TCP socket's writes (each a write or writev syscall).
  const tcp = (serverSide as unknown as { _socket: Record<'_write' | '_writev', (...a: unknown[]) => void> })._socket;
  const writes = { count: 0 };
  for (const name of ['_write', '_writev'] as const) {
    const original = tcp[name];
    tcp[name] = function (this: unknown, ...a: unknown[]) {
      writes.count++;
      return original.apply(this, a);
    };
  }
  return { serverSide, client, writes, received };
}

describe('a server WebSocket that batches the frames sent in one go', () => {
  it('sends the frames sent in one go in one write, whole and in order', async () => {
    const { serverSide, writes, received } = await pair();
    expect(serverSide).toBeInstanceOf(BatchingWebSocket);
    for (let i = 1; i <= 20; i++) serverSide.send(JSON.stringify({ i }));
    await new Promise<void>((resolve) => {
      const check = () => (received.length === 20 ? resolve() : setImmediate(check));
      check();
    });
    expect(received).toEqual(Array.from({ length: 20 }, (_, k) => JSON.stringify({ i: k + 1 })));
    // Unbatched, each frame is a write of its own: 20.
    expect(writes.count).toBe(1);
  });

  it('still delivers every frame sent just before a close, then the close', async () => {
    const { serverSide, client, received } = await pair();
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    for (let i = 1; i <= 5; i++) serverSide.send(`frame ${i}`);
    serverSide.close(1000, 'done');
    expect(await closed).toBe(1000);
    expect(received).toEqual(['frame 1', 'frame 2', 'frame 3', 'frame 4', 'frame 5']);
  });
});
