// The SDKs' transport (src/providers/transport.ts) must give them what Node's fetch gives: every case runs against
// both, on a loopback server of its own, and expects the same outcome.
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamFetch } from '../../src/providers/transport.ts';
import { closedPortURL } from '../support/provider-helpers.ts';

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const routes: Record<string, Route> = {
  '/echo': (req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-req': 'yes' });
    res.end(JSON.stringify({ method: req.method, auth: req.headers['x-api-key'] ?? null, body }));
  },
  '/empty': (_req, res) => {
    res.writeHead(204);
    res.end();
  },
  '/gzip': (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' });
    res.end(zlib.gzipSync('squeezed text'));
  },
  '/events': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    // The second event only once the first was read: the body arrives as it is sent, not buffered to the end.
    waitingForSecond = () => res.end('data: two\n\n');
  },
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n', () => res.socket?.destroy());
  },
  '/hang': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    const finished = hangClosed;
    res.on('close', () => finished?.(res.writableFinished));
  },
};
let waitingForSecond: (() => void) | undefined;
/** Resolves with whether the /hang response had finished when its connection closed. */
let hangClosed: ((finished: boolean) => void) | undefined;
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => routes[req.url ?? '']?.(req, res, body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

const readText = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
  const { value } = await reader.read();
  return new TextDecoder().decode(value);
};

describe.each([
  ['Node fetch', fetch],
  ['upstreamFetch', upstreamFetch],
])('%s', (_name, fetchFn) => {
  it('sends the method, headers and body, and hands back the status and every header', async () => {
    const res = await fetchFn(`${base}/echo`, {
      method: 'POST',
      headers: new Headers({ 'x-api-key': 'k-1', 'content-type': 'application/json' }),
      body: '{"q":1}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-req')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ method: 'POST', auth: 'k-1', body: '{"q":1}' });
  });

  it('gives a 204 a null body', async () => {
    const res = await fetchFn(`${base}/empty`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });

  it('decompresses a gzip body', async () => {
    expect(await (await fetchFn(`${base}/gzip`)).text()).toBe('squeezed text');
  });

  it('streams the body as it arrives', async () => {
    const reader = (await fetchFn(`${base}/events`)).body!.getReader();
    expect(await readText(reader)).toBe('data: one\n\n');
    waitingForSecond!();
    expect(await readText(reader)).toBe('data: two\n\n');
    expect((await reader.read()).done).toBe(true);
  });

  it("reports a body cut after the response began as TypeError('terminated')", async () => {
    const res = await fetchFn(`${base}/cut`);
    const body = res.text();
    await expect(body).rejects.toThrow(TypeError);
    await expect(body).rejects.toThrow(/^terminated$/);
  });

  it('errors the body with an AbortError when the signal aborts mid-body, and closes the connection', async () => {
    const ctrl = new AbortController();
    const closed = new Promise<boolean>((resolve) => (hangClosed = resolve));
    const res = await fetchFn(`${base}/hang`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    expect(await readText(reader)).toBe('data: one\n\n');
    ctrl.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    // The server sees its response closed before it finished.
    expect(await closed).toBe(false);
  });

  it('rejects with an AbortError for a signal aborted before the request', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    await expect(fetchFn(`${base}/echo`, { signal: ctrl.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects a refused connection with ECONNREFUSED on the error or its cause', async () => {
    const err = await fetchFn(`${await closedPortURL()}/echo`).then(
      () => null,
      (e: unknown) => e as { code?: string; cause?: { code?: string } },
    );
    expect(err?.code ?? err?.cause?.code).toBe('ECONNREFUSED');
  });
});
