// Runs the production build (dist/) as an operator would: `node dist/src/main.js` in a child process, no TypeScript
// tooling. The build is made once per run: by .ci/run (IVY_BUILD_READY=1), or here with `npm run build`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function ensureBuild(): Promise<void> {
  if (process.env.IVY_BUILD_READY === '1') return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile('npm', ['run', '-s', 'build'], { cwd: ROOT, timeout: 240_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`npm run build failed:\n${stdout}${stderr}`)) : resolve(),
    );
  });
}

/** A clean environment for a child: none of this process's Ivy settings, only `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(DATABASE_URL|REDIS_URL|SEED_DEMO|AUTH_JWT_SECRET|KEY_ENCRYPTION_KEYS|DATA_DIR|LOG_LEVEL|PORT|METRICS.*|VITEST.*|NODE_OPTIONS|NODE_ENV)$/.test(
          k,
        ),
    ),
  );
  return { ...base, NODE_ENV: 'production', ...env };
}

export interface BuiltServer {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the port once the server prints that it is ready; rejects if it exits first. */
  ready: Promise<number>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function runBuilt(script: string, env: Record<string, string>, args: string[] = []): BuiltServer {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', script), ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: BuiltServer = { child, stdout: '', stderr: '', ready: null!, exited: null! };
  out.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  out.ready = new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out.stdout += chunk;
      const port = /GraphiQL at http:\/\/localhost:(\d+)\//.exec(out.stdout)?.[1];
      if (port) resolve(Number(port));
    });
    child.stderr!.on('data', (chunk) => (out.stderr += chunk));
    void out.exited.then((code) => reject(new Error(`exited with ${code} before it was ready:\n${out.stderr}`)));
  });
  out.ready.catch(() => {});
  return out;
}
