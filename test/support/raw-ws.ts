// A bare graphql-transport-ws socket for abuse tests: close codes, upgrade refusals, pings and oversized frames that
// the graphql-ws client hides or refuses to send.
import type { Message } from 'graphql-ws';
import WebSocket from 'ws';

export interface RawSocket {
  ws: WebSocket;
  /** Resolves with the close code and reason (or the HTTP status of a refused upgrade as `status`). */
  closed: Promise<{ code: number; reason: string; status?: number; body?: string }>;
  /** Resolves on connection_ack. */
  acked: Promise<void>;
  /** Resolves on the first protocol-level ping from the server. */
  pinged: Promise<void>;
  send(message: unknown): void;
  /** The next message with this id (or type, for id-less ones). */
  message(idOrType: string): Promise<Message>;
}

export function openRawSocket(
  baseUrl: string,
  opts: { origin?: string; connectionParams?: Record<string, unknown>; init?: boolean } = {},
): RawSocket {
  const ws = new WebSocket(
    `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    'graphql-transport-ws',
    opts.origin ? { origin: opts.origin } : {},
  );
  const inbox: Message[] = [];
  const waiters: (() => void)[] = [];
  let ack!: () => void;
  let ping!: () => void;
  const acked = new Promise<void>((r) => (ack = r));
  const pinged = new Promise<void>((r) => (ping = r));
  const closed = new Promise<{ code: number; reason: string; status?: number; body?: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ code: 0, reason: '', status: res.statusCode, body }));
    });
    ws.on('error', () => {});
  });
  // A close wakes every waiter (each then rejects): one listener for the socket, not one per awaited message.
  ws.on('close', () => waiters.splice(0).forEach((w) => w()));
  ws.on('ping', () => ping());
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as Message;
    if (msg.type === 'connection_ack') ack();
    inbox.push(msg);
    waiters.splice(0).forEach((w) => w());
  });
  if (opts.init !== false)
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: opts.connectionParams ?? {} })));
  return {
    ws,
    closed,
    acked,
    pinged,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    message(idOrType) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const at = inbox.findIndex((m) => ('id' in m ? m.id === idOrType : m.type === idOrType));
          if (at >= 0) return resolve(inbox.splice(at, 1)[0]);
          if (ws.readyState === WebSocket.CLOSED)
            return reject(new Error(`socket closed before a message for ${idOrType}`));
          waiters.push(check);
        };
        check();
      });
    },
  };
}
