// Loopback stand-in for the Anthropic Messages API, speaking its real wire format (JSON errors, SSE event stream).
import {
  judgeRequest,
  lastUserText,
  newId,
  parseDirectives,
  planReply,
  promptText,
  sendJson,
  startFakeServer,
  type Exchange,
  type FakeServerOptions,
  type FakeVendorServer,
} from './common.ts';

export const ANTHROPIC_MODELS = [
  { id: 'claude-opus-4-7', display_name: 'Claude Opus 4.7', created_at: '2026-04-16T00:00:00Z' },
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-17T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
];

const STOP_REASONS = {
  end: 'end_turn',
  'max-tokens': 'max_tokens',
  'stop-sequence': 'stop_sequence',
  refusal: 'refusal',
} as const;

const errorBody = (type: string, message: string) => ({
  type: 'error',
  error: { type, message },
  request_id: newId('req_'),
});

async function handle(ex: Exchange, options: FakeServerOptions): Promise<void> {
  const { res, req } = ex;
  const requestId = newId('req_');
  const headers = { 'request-id': requestId };
  const verdict = ex.revoked ? 'invalid' : judgeRequest(ex.auth.key, ex.body);
  if (verdict === 'missing')
    return sendJson(res, 401, errorBody('authentication_error', 'x-api-key header is required'), headers);
  if (verdict === 'invalid') return sendJson(res, 401, errorBody('authentication_error', 'invalid x-api-key'), headers);
  if (verdict === 'ratelimited') {
    return sendJson(
      res,
      429,
      errorBody(
        'rate_limit_error',
        'This request would exceed the rate limit for your organization of 50 requests per minute.',
      ),
      { ...headers, 'retry-after': options.retryAfter ?? '1' },
    );
  }

  if (req.method === 'GET' && ex.path === '/v1/models') {
    const data = ANTHROPIC_MODELS.map((m) => ({ type: 'model', ...m }));
    return sendJson(
      res,
      200,
      { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id },
      headers,
    );
  }
  if (req.method !== 'POST' || ex.path !== '/v1/messages') {
    return sendJson(res, 404, errorBody('not_found_error', `Not found: ${req.method} ${ex.path}`), headers);
  }

  const body = ex.body;
  if (!body || typeof body.model !== 'string' || typeof body.max_tokens !== 'number' || !Array.isArray(body.messages)) {
    return sendJson(
      res,
      400,
      errorBody('invalid_request_error', 'model, max_tokens and messages are required'),
      headers,
    );
  }
  const last = lastUserText(body.messages);
  const d = parseDirectives(last);
  if (d.silent) return ex.untilGone();
  if (d.fail500) return sendJson(res, 500, errorBody('api_error', 'Internal server error'), headers);

  const reply = planReply(promptText(body.system, body.messages), last, body.max_tokens, d);
  const id = newId('msg_01', 11);
  const stopReason = STOP_REASONS[reply.stop];
  const stopSequence = reply.stop === 'stop-sequence' ? '\n\nHuman:' : null;

  if (body.stream !== true) {
    return sendJson(
      res,
      200,
      {
        id,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: reply.deltas.join('') }],
        stop_reason: stopReason,
        stop_sequence: stopSequence,
        usage: {
          input_tokens: reply.inputTokens - reply.cachedInputTokens,
          cache_read_input_tokens: reply.cachedInputTokens,
          output_tokens: reply.outputTokens,
        },
      },
      headers,
    );
  }

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  const send = (event: string, data: unknown) => {
    if (!ex.gone) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send('message_start', {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Like the real API: input_tokens leaves out the tokens read from the prompt cache.
      usage: {
        input_tokens: reply.inputTokens - reply.cachedInputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: reply.cachedInputTokens,
        output_tokens: 1,
      },
    },
  });
  send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  send('ping', { type: 'ping' });

  const breakAt = Math.min(1, reply.deltas.length - 1);
  for (const [i, text] of reply.deltas.entries()) {
    if (ex.gone) return;
    if (i > 0 && d.slowMs) await ex.pause(d.slowMs);
    send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
    if (d.hang || i + 1 === d.hangAfter) return ex.untilGone();
    if (i === breakAt && d.drop) {
      await ex.pause(20);
      return ex.drop();
    }
    if (i === breakAt && d.overloaded) {
      send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      return void res.end();
    }
  }
  if (ex.gone) return;
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: stopSequence },
    // Current API versions repeat the cumulative input figures here.
    usage: {
      input_tokens: reply.inputTokens - reply.cachedInputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: reply.cachedInputTokens,
      output_tokens: reply.outputTokens,
    },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

export function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeVendorServer> {
  return startFakeServer((ex) => handle(ex, options), '');
}
