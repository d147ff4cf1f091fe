// HTTP-level refusals Yoga answers with an empty body get a GraphQL error with one of our codes instead.
import type { Plugin } from 'graphql-yoga';

export const useCodedHttpRefusals: Plugin = {
  onRequestParse({ request, requestParser, endResponse, fetchAPI }) {
    // Built-in parsers registered before this plugin: none matched, so Yoga would answer a bare 415.
    if (requestParser || request.method !== 'POST') return;
    const body = { errors: [{ message: 'Send the operation as JSON: content-type: application/json.', extensions: { code: 'BAD_REQUEST' } }] };
    endResponse(new fetchAPI.Response(JSON.stringify(body), { status: 415, headers: { 'content-type': 'application/json' } }));
  },
  onResponse({ response }) {
    // A body refused part-way is still arriving: close the connection rather than read the rest to reuse it.
    if (response.status === 413) response.headers.set('connection', 'close');
  },
};
