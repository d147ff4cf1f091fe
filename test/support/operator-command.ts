// Operator commands (src/commands/*.ts) against a test database: in process through their main(argv, io), as the
// tests run them, or spawned through their script, as an operator would (one smoke test per command).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { CommandMain } from '../../src/lib/operator.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh DATA_DIR, removed with the run's scratch directory. */
export const tempDataDir = (): string => fs.mkdtempSync(path.join(inject('scratchDir'), 'cmd-'));

/** `env` adds to (or, with undefined, removes from) this process's environment; DATA_DIR defaults to a fresh temp dir. */
function commandEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    SEED_DEMO: undefined,
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDataDir(),
    ...env,
  };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged;
}

/** Runs a command's main() in this process, capturing what it writes. */
export async function runCommand(
  main: CommandMain,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: commandEnv(env),
  });
  return { code, stdout, stderr };
}

/** Runs `command args` from the project root in a child process (e.g. `npm run --silent token -- …`). */
export function spawnCommand(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CommandResult> {
  const childEnv = commandEnv({
    VITEST: undefined,
    VITEST_POOL_ID: undefined,
    VITEST_WORKER_ID: undefined,
    NODE_OPTIONS: undefined,
    ...env,
  });
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs scripts/<name>.ts in a child node process with tsx, as `npm run <name>` does but without npm's own start-up. */
export const spawnScript = (name: string, args: string[], env: Record<string, string | undefined>) =>
  spawnCommand(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', `${name}.ts`), ...args], env);

/** The non-empty lines of a command's output. */
export const lines = (out: string) => out.split('\n').filter(Boolean);
