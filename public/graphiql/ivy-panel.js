// The "Ivy stream" panel of our GraphiQL page (src/lib/graphiql-assets.ts serves it, with no build step): a GraphiQL 5
// plugin (title, icon, content) and the fetcher that feeds it. GraphiQL's result pane shows only the latest event of
// a subscription; this fetcher hands every event to the panel too, which shows them all, the answer's text assembled
// from the deltas, and the started/finished details (billing, model, credits charged, balance, finish reason or
// failure code). Plain browser JavaScript on the React that the Yoga GraphiQL bundle puts on globalThis, and on
// graphql-ws's browser build (window.graphqlWs), both served by this server.
(function () {
  'use strict';
  const React = globalThis.React;
  const h = React.createElement;

  // ---- the record of the last subscription run: every event, in order ----------------------------------------
  let runs = 0;
  let run = null; // { id, operationName, status: 'running' | 'complete' | 'stopped' | 'error', events: [], error }
  const listeners = new Set();
  const publish = (next) => {
    run = next;
    listeners.forEach((l) => l());
  };
  const subscribeRun = (l) => (listeners.add(l), () => listeners.delete(l));
  /** The last time the page filled $orgId in (see withOrgId), shown at the top of the panel. */
  let orgNote = null;
  const setOrgNote = (note) => {
    orgNote = note;
    listeners.forEach((l) => l());
  };

  // ---- the fetcher: queries and mutations over HTTP POST, subscriptions over graphql-ws ------------------------
  function operationOf(params, documentAST) {
    const ops = (documentAST?.definitions ?? []).filter((d) => d.kind === 'OperationDefinition');
    const op = params.operationName ? ops.find((d) => d.name?.value === params.operationName) : ops[0];
    if (op || documentAST) return op;
    // No parsed document: only whether it is a subscription matters.
    const source = String(params.query ?? '').replace(/#[^\n]*/g, '');
    const named = params.operationName
      ? new RegExp(`\\b(query|mutation|subscription)\\s+${params.operationName}\\b`).exec(source)
      : /^\s*(query|mutation|subscription)\b/.exec(source);
    return named ? { operation: named[1], variableDefinitions: [] } : undefined;
  }

  const authorizationOf = (headers) => {
    const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'authorization');
    return typeof entry?.[1] === 'string' ? entry[1] : undefined;
  };

  function createFetcher(endpoint) {
    const httpUrl = new URL(endpoint || location.pathname, location.href).toString();
    const wsUrl = httpUrl.replace(/^http/, 'ws');
    let ws = null;
    let wsAuthorization;
    const wsClient = (authorization) => {
      if (!ws || wsAuthorization !== authorization) {
        void ws?.dispose();
        wsAuthorization = authorization;
        // A browser cannot set headers on a WebSocket: the token travels in connectionParams.
        ws = globalThis.graphqlWs.createClient({
          url: wsUrl,
          connectionParams: authorization ? { authorization } : {},
          retryAttempts: 0,
        });
      }
      return ws;
    };

    const closeMessage = (err) =>
      err && typeof err === 'object' && 'code' in err && 'reason' in err
        ? `The socket closed (${err.code}${err.reason ? `: ${err.reason}` : ''}).`
        : String(err?.message ?? err);

    function subscription(params, headers) {
      const inner = wsClient(authorizationOf(headers)).iterate({
        query: params.query,
        variables: params.variables ?? undefined,
        operationName: params.operationName ?? undefined,
      });
      const id = ++runs;
      publish({ id, operationName: params.operationName ?? null, status: 'running', events: [], error: null });
      // Only the latest run is shown: a run GraphiQL has replaced no longer updates the panel.
      const update = (patch) => (run?.id === id ? publish({ ...run, ...patch }) : undefined);
      let events = [];
      // A hand-written iterator, not an async generator: Stop (return()) must reach graphql-ws at once, not after
      // the next event (an async generator queues return() behind its pending await).
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next() {
          try {
            const step = await inner.next();
            if (step.done) update({ status: run?.status === 'stopped' ? 'stopped' : 'complete' });
            else {
              events = [...events, { at: new Date().toISOString(), result: step.value }];
              update({ events, status: 'running' });
            }
            return step;
          } catch (err) {
            const message = closeMessage(err);
            update({ status: 'error', error: message });
            return { done: false, value: { errors: [{ message }] } };
          }
        },
        async return() {
          update({ status: 'stopped' });
          await inner.return?.();
          return { done: true, value: undefined };
        },
      };
    }

    async function post(params, headers) {
      const res = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify(params),
      });
      const text = await res.text();
      try {
        return JSON.parse(text);
      } catch {
        return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 200)}` }] };
      }
    }

    /**
     * An operation that declares $orgId while the Variables tab gives none (or "") gets the org of the token's first
     * membership, and the panel says which; any id in the Variables tab wins.
     */
    async function withOrgId(params, op, headers) {
      const declared = (op?.variableDefinitions ?? []).some((v) => v.variable.name.value === 'orgId');
      const variables = params.variables ?? {};
      if (!declared || (typeof variables.orgId === 'string' && variables.orgId)) return params;
      const me = await post(
        { query: 'query IvyGraphiQLFirstOrg { viewer { memberships { org { id slug } } } }' },
        headers,
      );
      const org = me?.data?.viewer?.memberships?.[0]?.org;
      if (!org) return params;
      setOrgNote(`$orgId was empty in the Variables tab: used ${org.slug} (${org.id}), your first org.`);
      return { ...params, variables: { ...variables, orgId: org.id } };
    }

    return async function fetcher(params, opts) {
      const headers = opts?.headers ?? {};
      const op = operationOf(params, opts?.documentAST);
      const filled = await withOrgId(params, op, headers);
      if (op?.operation === 'subscription') return subscription(filled, headers);
      return post(filled, headers);
    };
  }

  // ---- the panel -------------------------------------------------------------------------------------------------
  /** The subscription's one root field, as each event carries it (ivyCompletion: a union with __typename). */
  const payloadOf = (result) => {
    const data = result?.data;
    if (!data || typeof data !== 'object') return null;
    const values = Object.values(data);
    return values.length === 1 && values[0] && typeof values[0] === 'object' ? values[0] : null;
  };

  const STARTED = 'IvyCompletionStarted';
  const DELTA = 'IvyTextDelta';
  const ENDINGS = ['IvyCompletionFinished', 'IvyCompletionFailed'];

  const style = {
    panel: { display: 'flex', flexDirection: 'column', gap: 12, fontSize: 14, lineHeight: 1.45 },
    muted: { opacity: 0.7 },
    answer: {
      whiteSpace: 'pre-wrap',
      wordBreak: 'break-word',
      margin: 0,
      padding: 10,
      borderRadius: 6,
      background: 'hsla(var(--color-neutral), var(--alpha-background-light))',
      fontFamily: 'inherit',
    },
    table: { borderCollapse: 'collapse', width: '100%' },
    th: { textAlign: 'left', fontWeight: 500, padding: '2px 8px 2px 0', verticalAlign: 'top', whiteSpace: 'nowrap' },
    td: { padding: '2px 0', wordBreak: 'break-all' },
    events: { margin: 0, paddingLeft: 0, listStyle: 'none', fontFamily: 'var(--font-family-mono)', fontSize: 12 },
    event: { padding: '2px 0', borderBottom: '1px solid hsla(var(--color-neutral), var(--alpha-background-heavy))' },
    error: { color: 'hsl(var(--color-error))' },
  };

  const show = (v) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

  function Details({ title, payload, testId }) {
    const rows = Object.entries(payload).filter(([k]) => k !== '__typename');
    return h(
      'section',
      { 'data-testid': testId },
      h('h3', null, title),
      h(
        'table',
        { style: style.table },
        h(
          'tbody',
          null,
          rows.map(([k, v]) =>
            h(
              'tr',
              { key: k },
              h('th', { style: style.th }, k),
              h('td', { style: style.td, 'data-field': k }, show(v)),
            ),
          ),
        ),
      ),
    );
  }

  function IvyPanel() {
    const current = React.useSyncExternalStore(subscribeRun, () => run);
    const note = React.useSyncExternalStore(subscribeRun, () => orgNote);
    const noteLine = note ? h('p', { style: style.muted, 'data-testid': 'ivy-org-note' }, note) : null;
    if (!current)
      return h(
        'div',
        { style: style.panel, 'data-testid': 'ivy-panel' },
        h('div', { className: 'graphiql-doc-explorer-title' }, 'Ivy stream'),
        h(
          'p',
          { style: style.muted },
          'Run a subscription (the Ask example): every event lands here, with the answer assembled from its deltas ' +
            'and who paid for it. The result pane shows only the latest event.',
        ),
        noteLine,
      );
    const payloads = current.events.map((e) => ({ at: e.at, result: e.result, p: payloadOf(e.result) }));
    const started = payloads.find((e) => e.p?.__typename === STARTED)?.p;
    const ending = payloads.find((e) => ENDINGS.includes(e.p?.__typename))?.p;
    const text = payloads
      .filter((e) => e.p?.__typename === DELTA)
      .map((e) => e.p.text ?? '')
      .join('');
    const errors = payloads.flatMap((e) => e.result?.errors ?? []);
    const status =
      ending?.__typename === 'IvyCompletionFailed'
        ? `failed: ${ending.code ?? ''}`
        : ending
          ? `finished: ${ending.finishReason ?? ''}`
          : current.status;
    return h(
      'div',
      { style: style.panel, 'data-testid': 'ivy-panel' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Ivy stream'),
      h(
        'div',
        { 'data-testid': 'ivy-status' },
        h('strong', null, current.operationName ?? 'subscription'),
        ` · ${status} · ${current.events.length} event${current.events.length === 1 ? '' : 's'}`,
      ),
      noteLine,
      current.error ? h('div', { style: style.error, 'data-testid': 'ivy-error' }, current.error) : null,
      errors.length
        ? h(
            'div',
            { style: style.error, 'data-testid': 'ivy-errors' },
            errors.map((e, i) =>
              h('div', { key: i }, `${e.extensions?.code ? `${e.extensions.code}: ` : ''}${e.message}`),
            ),
          )
        : null,
      started ? h(Details, { title: 'Started', payload: started, testId: 'ivy-started' }) : null,
      h(
        'section',
        null,
        h('h3', null, 'Answer'),
        h('pre', { style: style.answer, 'data-testid': 'ivy-answer' }, text || (ending ? '(no text)' : '…')),
      ),
      ending
        ? h(Details, {
            title: ending.__typename === 'IvyCompletionFailed' ? 'Failed' : 'Finished',
            payload: ending,
            testId: 'ivy-ending',
          })
        : null,
      h(
        'section',
        null,
        h('h3', null, `Events (${current.events.length})`),
        h(
          'ol',
          { style: style.events, 'data-testid': 'ivy-events' },
          payloads.map((e, i) => {
            const { __typename, index, ...rest } = e.p ?? {};
            return h(
              'li',
              { key: i, style: style.event },
              `${index ?? i + 1}. ${__typename ?? 'result'} `,
              h('span', { style: style.muted }, JSON.stringify(e.p ? rest : e.result)),
            );
          }),
        ),
      ),
    );
  }

  function IvyIcon() {
    return h(
      'svg',
      { viewBox: '0 0 24 24', width: '1em', height: '1em', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5 },
      h('path', { d: 'M4 6h16M4 12h10M4 18h13', strokeLinecap: 'round' }),
    );
  }

  const plugin = { title: 'Ivy stream', icon: IvyIcon, content: IvyPanel };
  globalThis.IvyGraphiQL = { plugin, createFetcher };
})();
