// Runs an operator command (scripts/*.ts) in a child process, as an operator would, against a test database.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = path.join(root, 'node_modules/.bin/tsx');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `env` adds to (or, with undefined, removes from) this process's environment; DATA_DIR defaults to a fresh temp dir. */
export function runCommand(script: string, args: string[], env: Record<string, string | undefined>): Promise<CommandResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, SEED_DEMO: undefined, LOG_LEVEL: 'warn', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-cmd-')), ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return new Promise((resolve) => {
    execFile(tsx, [path.join(root, script), ...args], { cwd: root, env: merged, timeout: 25_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The non-empty lines of a command's output. */
export const lines = (out: string) => out.split('\n').filter(Boolean);
