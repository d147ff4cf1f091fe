// Our GraphiQL page: Yoga's GraphiQL (the installed @graphql-yoga/graphiql package, GraphiQL 5) with every script,
// style and icon served by this server, so it works with no internet access (CI, air-gapped networks, the demo), and
// with the "Ivy stream" panel (public/graphiql/ivy-panel.js): a GraphiQL plugin that shows every event of a running
// subscription, the answer assembled, and who paid. The page is ours rather than Yoga's template, whose title
// placeholder stays in the loading text ("Loading __TITLE__...") and whose favicon and scripts come from the internet.
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { GraphiQLOptions } from 'graphql-yoga';
import { GRAPHIQL_VARIABLES } from '../graphiql.ts';

const require = createRequire(import.meta.url);
const YOGA_DIST = path.join(path.dirname(require.resolve('@graphql-yoga/graphiql/package.json')), 'dist');
const GRAPHQL_WS_UMD = path.join(path.dirname(require.resolve('graphql-ws/package.json')), 'umd');

/** public/graphiql from src/lib (sources) or dist/src/lib (the build, which runs next to the sources' public/). */
function publicDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'public', 'graphiql');
    if (fs.existsSync(path.join(candidate, 'ivy-panel.js'))) return candidate;
  }
  throw new Error('public/graphiql/ivy-panel.js not found next to the server');
}

export const GRAPHIQL_ASSETS_PATH = '/graphiql-assets/';

const JS = 'text/javascript; charset=utf-8';
const FILES: Record<string, { type: string; file: () => string }> = {
  'graphiql.css': { type: 'text/css; charset=utf-8', file: () => path.join(YOGA_DIST, 'graphiql.css') },
  'yoga-graphiql.umd.js': { type: JS, file: () => path.join(YOGA_DIST, 'yoga-graphiql.umd.js') },
  'monacoeditorwork/editor.worker.bundle.js': {
    type: JS,
    file: () => path.join(YOGA_DIST, 'monacoeditorwork/editor.worker.bundle.js'),
  },
  'monacoeditorwork/json.worker.bundle.js': {
    type: JS,
    file: () => path.join(YOGA_DIST, 'monacoeditorwork/json.worker.bundle.js'),
  },
  'monacoeditorwork/graphql.worker..bundle.js': {
    type: JS,
    file: () => path.join(YOGA_DIST, 'monacoeditorwork/graphql.worker..bundle.js'),
  },
  'graphql-ws.min.js': { type: JS, file: () => path.join(GRAPHQL_WS_UMD, 'graphql-ws.min.js') },
  'ivy-panel.js': { type: JS, file: () => path.join(publicDir(), 'ivy-panel.js') },
};

/** An ivy leaf, inline: the page asks nothing of the network for its icon. */
const FAVICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f6f43"/>' +
      '<path d="M16 6c5 3 8 7 8 11a8 8 0 0 1-16 0c0-4 3-8 8-11z" fill="#8fd19e"/>' +
      '<path d="M16 9v17" stroke="#1f6f43" stroke-width="1.6"/></svg>',
  );

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON inside a <script>: no "</script>" or "<!--" can end it early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * The GraphiQL page. The packaged GraphiQL opens with `query` (Yoga's option is `defaultQuery`), so both are passed.
 * The fetcher is the panel's (HTTP for queries and mutations, graphql-ws for subscriptions), so it sees every event.
 */
export function renderLocalGraphiQL(opts: GraphiQLOptions): string {
  const title = opts.title ?? 'GraphiQL';
  const options = { ...opts, query: opts.defaultQuery, variables: GRAPHIQL_VARIABLES };
  const a = GRAPHIQL_ASSETS_PATH;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · GraphiQL</title>
<link rel="icon" href="${FAVICON}">
<link rel="stylesheet" href="${a}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script>
const workers = {};
const workerUrls = {
  editorWorkerService: '${a}monacoeditorwork/editor.worker.bundle.js',
  json: '${a}monacoeditorwork/json.worker.bundle.js',
  graphql: '${a}monacoeditorwork/graphql.worker..bundle.js',
};
function prepareWorkers() {
  return Promise.all(Object.entries(workerUrls).map(async ([name, url]) => {
    const source = await (await fetch(url)).text();
    workers[name] = URL.createObjectURL(new Blob([source], { type: 'application/javascript' }));
  }));
}
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => workers[label] };
</script>
<script src="${a}yoga-graphiql.umd.js"></script>
<script src="${a}graphql-ws.min.js"></script>
<script src="${a}ivy-panel.js"></script>
<script>
prepareWorkers().finally(() => {
  const options = ${scriptJson(options)};
  const { plugin, createFetcher } = IvyGraphiQL;
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), {
    ...options,
    fetcher: createFetcher(options.endpoint),
    plugins: [plugin],
    visiblePlugin: plugin,
  });
});
</script>
</body>
</html>
`;
}

/** Serves one of the known asset files; false when the URL is not one. */
export function serveGraphiqlAsset(url: string, res: http.ServerResponse): boolean {
  if (!url.startsWith(GRAPHIQL_ASSETS_PATH)) return false;
  const name = url.slice(GRAPHIQL_ASSETS_PATH.length).split('?')[0];
  const asset = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!asset) {
    res.writeHead(404).end();
    return true;
  }
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' });
  fs.createReadStream(asset.file()).pipe(res);
  return true;
}
