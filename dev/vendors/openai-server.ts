// Loopback stand-in for the OpenAI Chat Completions API, speaking its real wire format (JSON errors, data-only SSE).
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

export const OPENAI_MODELS = [
  { id: 'gpt-5.5', created: 1776902400, owned_by: 'system' },
  { id: 'gpt-5.4-mini', created: 1773705600, owned_by: 'system' },
  { id: 'gpt-5.4-nano', created: 1773705600, owned_by: 'system' },
];

// OpenAI has no separate stop-sequence or refusal reason: a stop sequence is `stop`, a refusal `content_filter`.
const FINISH_REASONS = {
  end: 'stop',
  'max-tokens': 'length',
  'stop-sequence': 'stop',
  refusal: 'content_filter',
} as const;

const errorBody = (message: string, type: string, code: string | null, param: string | null = null) => ({
  error: { message, type, param, code },
});

// Like the real API: the key is echoed with its middle masked (which is why the adapters scrub "****" tokens too).
const maskKey = (key: string) => `${key.slice(0, 3)}${'*'.repeat(Math.max(4, key.length - 7))}${key.slice(-4)}`;

async function handle(ex: Exchange, options: FakeServerOptions): Promise<void> {
  const { res, req } = ex;
  const headers = { 'x-request-id': newId('req_', 16), 'openai-processing-ms': '12', 'openai-version': '2020-10-01' };
  const key = ex.auth.key;
  const verdict = ex.revoked ? 'invalid' : judgeRequest(key, ex.body);
  if (verdict === 'missing') {
    return sendJson(
      res,
      401,
      errorBody(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        'invalid_request_error',
        null,
      ),
      headers,
    );
  }
  if (verdict === 'invalid') {
    return sendJson(
      res,
      401,
      errorBody(
        `Incorrect API key provided: ${maskKey(key!)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error',
        'invalid_api_key',
      ),
      headers,
    );
  }
  if (verdict === 'ratelimited') {
    return sendJson(
      res,
      429,
      errorBody(
        'Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.',
        'requests',
        'rate_limit_exceeded',
      ),
      { ...headers, 'retry-after': options.retryAfter ?? '1' },
    );
  }

  if (req.method === 'GET' && ex.path === '/v1/models') {
    return sendJson(res, 200, { object: 'list', data: OPENAI_MODELS.map((m) => ({ ...m, object: 'model' })) }, headers);
  }
  if (req.method !== 'POST' || ex.path !== '/v1/chat/completions') {
    return sendJson(
      res,
      404,
      errorBody(`Invalid URL (${req.method} ${ex.path})`, 'invalid_request_error', null),
      headers,
    );
  }

  const body = ex.body;
  if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages)) {
    return sendJson(
      res,
      400,
      errorBody(
        "Missing required parameter: 'messages'.",
        'invalid_request_error',
        'missing_required_parameter',
        'messages',
      ),
      headers,
    );
  }
  const last = lastUserText(body.messages);
  const d = parseDirectives(last);
  if (d.silent) return ex.untilGone();
  if (d.fail500) {
    return sendJson(
      res,
      500,
      errorBody('The server had an error while processing your request. Sorry about that!', 'server_error', null),
      headers,
    );
  }

  const system = (body.messages as Array<{ role?: string; content?: unknown }>).filter(
    (m) => m.role === 'system' || m.role === 'developer',
  );
  const rest = (body.messages as Array<{ role?: string }>).filter((m) => m.role !== 'system' && m.role !== 'developer');
  const maxTokens =
    typeof body.max_completion_tokens === 'number'
      ? body.max_completion_tokens
      : typeof body.max_tokens === 'number'
        ? body.max_tokens
        : 4096;
  const reply = planReply(promptText(system.map((m) => m.content).join(''), rest), last, maxTokens, d);
  const id = newId('chatcmpl-', 14);
  const created = Math.floor(Date.now() / 1000);
  const finishReason = FINISH_REASONS[reply.stop];
  // prompt_tokens counts every input token; the cached part is in prompt_tokens_details.
  const usage = {
    prompt_tokens: reply.inputTokens,
    completion_tokens: reply.outputTokens,
    total_tokens: reply.inputTokens + reply.outputTokens,
    prompt_tokens_details: { cached_tokens: reply.cachedInputTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };

  if (body.stream !== true) {
    return sendJson(
      res,
      200,
      {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply.deltas.join(''), refusal: null },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
        system_fingerprint: 'fp_standin',
      },
      headers,
    );
  }

  const includeUsage =
    !options.ignoreIncludeUsage &&
    (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  const send = (data: unknown) => {
    if (!ex.gone) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: body.model,
    system_fingerprint: 'fp_standin',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  send(chunk({ role: 'assistant', content: '', refusal: null }, null));

  const breakAt = Math.min(1, reply.deltas.length - 1);
  for (const [i, text] of reply.deltas.entries()) {
    if (ex.gone) return;
    if (i > 0 && d.slowMs) await ex.pause(d.slowMs);
    send(chunk({ content: text }, null));
    if (d.hang || i + 1 === d.hangAfter) return ex.untilGone();
    if (i === breakAt && d.drop) {
      await ex.pause(20);
      return ex.drop();
    }
    if (i === breakAt && d.overloaded) {
      send({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } });
      return void res.end();
    }
  }
  if (ex.gone) return;
  send(chunk({}, finishReason));
  if (includeUsage) {
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      system_fingerprint: 'fp_standin',
      choices: [],
      usage,
    });
  }
  send('[DONE]');
  res.end();
}

export function startFakeOpenAI(options: FakeServerOptions = {}): Promise<FakeVendorServer> {
  return startFakeServer((ex) => handle(ex, options), '/v1');
}
