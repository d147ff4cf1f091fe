// GraphiQL's scripts and styles served from the installed @graphql-yoga/graphiql package rather than unpkg, so the
// explorer works on machines with no internet access (CI, air-gapped networks, the demo).
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { createRequire } from 'node:module';
import { renderGraphiQL, type GraphiQLOptions } from 'graphql-yoga';

const require = createRequire(import.meta.url);
const DIST = path.join(path.dirname(require.resolve('@graphql-yoga/graphiql/package.json')), 'dist');
export const GRAPHIQL_ASSETS_PATH = '/graphiql-assets/';

const FILES: Record<string, string> = {
  'graphiql.css': 'text/css; charset=utf-8',
  'yoga-graphiql.umd.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/editor.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/json.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/graphql.worker..bundle.js': 'text/javascript; charset=utf-8',
};

/**
 * Yoga's GraphiQL page with its CDN links pointed at this server. The packaged GraphiQL opens with `query` (Yoga's
 * option is `defaultQuery`), so both are passed.
 */
export function renderLocalGraphiQL(opts: GraphiQLOptions): string {
  const withQuery = { ...opts, query: opts.defaultQuery } as GraphiQLOptions;
  return renderGraphiQL(withQuery).replace(
    /https:\/\/unpkg\.com\/@graphql-yoga\/graphiql@[^/]+\/dist\//g,
    GRAPHIQL_ASSETS_PATH,
  );
}

/** Serves one of the known asset files; false when the URL is not one. */
export function serveGraphiqlAsset(url: string, res: http.ServerResponse): boolean {
  if (!url.startsWith(GRAPHIQL_ASSETS_PATH)) return false;
  const name = url.slice(GRAPHIQL_ASSETS_PATH.length).split('?')[0];
  const type = FILES[name];
  if (!type) {
    res.writeHead(404).end();
    return true;
  }
  res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  fs.createReadStream(path.join(DIST, name)).pipe(res);
  return true;
}
