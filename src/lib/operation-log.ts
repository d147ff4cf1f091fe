// One debug line per operation: its name and a hash of its document, never the document itself (it can carry prompt
// text or a key typed inline) nor its variables.
import { createHash } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from './logger.ts';

export const documentHash = (source: string) => createHash('sha256').update(source).digest('hex').slice(0, 16);

export function useOperationLog(log: Logger): Plugin {
  return {
    onParse({ params, context }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      const operationName = (context as { params?: { operationName?: unknown } }).params?.operationName;
      log.debug('graphql operation', { operationName: typeof operationName === 'string' ? operationName : null, documentHash: documentHash(source) });
    },
  };
}
