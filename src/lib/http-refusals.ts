// HTTP-level refusals Yoga answers with an empty body get a GraphQL error with one of our codes instead.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Plugin } from 'graphql-yoga';

export const useCodedHttpRefusals: Plugin = {
  onRequestParse({ request, requestParser, endResponse, fetchAPI }) {
    // Built-in parsers registered before this plugin: none matched, so Yoga would answer a bare 415.
    if (requestParser || request.method !== 'POST') return;
    const body = {
      errors: [
        { message: 'Send the operation as JSON: content-type: application/json.', extensions: { code: 'BAD_REQUEST' } },
      ],
    };
    endResponse(
      new fetchAPI.Response(JSON.stringify(body), { status: 415, headers: { 'content-type': 'application/json' } }),
    );
  },
  onResponse({ response }) {
    // A body refused part-way is still arriving: close the connection rather than read the rest to reuse it.
    if (response.status === 413) response.headers.set('connection', 'close');
  },
};

/**
 * Requests Node's HTTP parser refuses before Yoga sees them (headers or URL over 16 KB, malformed HTTP) get a JSON
 * body with our code instead of a bare status line.
 */
export function answerMalformedHttp(server: http.Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      errors: [
        {
          message: tooLarge
            ? 'The request line or headers are too large: send the operation in a POST body.'
            : 'Malformed HTTP request.',
          extensions: { code: tooLarge ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST' },
        },
      ],
    });
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
