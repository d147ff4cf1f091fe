// npm run test:browser   The README's "Using GraphiQL" walkthrough, followed literally in a real, headless Chromium
// (Debian's /usr/bin/chromium, installed with apt when missing; driven by playwright-core). It starts `npm run demo`
// as a child (a fresh DATA_DIR and embedded PostgreSQL), gets tokens with `npm run --silent token`, and then, as a
// newcomer would: Headers tab -> Me -> the org id into the Variables tab -> Settings -> save and test a key ->
// Ask, reading the whole answer in the Ivy stream panel -> a refusal (an interviewer trying an admin-only mutation)
// -> an empty Variables tab, filled in by the page. It fails on any request to a non-loopback host, any console
// error or uncaught page error, a placeholder in the page, or any step whose result is not what the README says.
// Screenshots go to test/browser/screenshots/ (gitignored). Not part of `npm test` (it spawns a server and a
// browser); .ci/run runs it after the test passes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = path.join(ROOT, 'test/browser/screenshots');
const CHROMIUM = '/usr/bin/chromium';
/** A guard for the whole run, not a wait: every step below waits for what it expects to see. */
const RUN_LIMIT_MS = 150_000;
const STEP_LIMIT_MS = 30_000;

const problems: string[] = [];
let failurePage: Page | undefined;
const log = (line: string) => process.stdout.write(`${line}\n`);

function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  log(`${CHROMIUM} is missing: apt-get install -y chromium`);
  try {
    execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit' });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit' });
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
};

/** `npm run demo` in a child, on its own DATA_DIR and ports; resolves with GraphiQL's URL once it says it is ready. */
async function startDemo(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/demo.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      const m = /GraphiQL at (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`npm run demo exited (${code}):\n${output.join('\n')}`)));
  });
  return { child, url };
}

function stopDemo(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/** The README's token step: `npm run --silent token -- <email>` prints the token and nothing else. */
const tokenFor = (email: string, env: NodeJS.ProcessEnv) =>
  execFileSync('npm', ['run', '--silent', 'token', '--', email], { cwd: ROOT, env, encoding: 'utf8' }).trim();

// ---- GraphiQL, as a person uses it ---------------------------------------------------------------------------------

/** Replaces the text of the Headers or Variables editor (Monaco) by pasting, as a person copying from a terminal. */
async function fillTab(page: Page, tab: 'Headers' | 'Variables', text: string) {
  await page.getByRole('button', { name: tab, exact: true }).click();
  const editor = page.locator('.graphiql-editor-tool .monaco-editor:visible').first();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.keyboard.press('ControlOrMeta+V');
  // Page functions as source text: tsx would wrap named functions in a helper the page does not have.
  await page.waitForFunction(
    `[...document.querySelectorAll('.graphiql-editor-tool .monaco-editor .view-lines')].some((el) =>
      (el.textContent ?? '').replace(/\\s+/g, '') === ${JSON.stringify(text.replace(/\s+/g, ''))})`,
    undefined,
    { timeout: STEP_LIMIT_MS },
  );
}

/** The play button, then the operation's name in the list it opens. */
async function run(page: Page, operation: string) {
  await page.locator('.graphiql-execute-button').click();
  await page.getByRole('menuitem', { name: operation, exact: true }).click();
}

/**
 * The result pane's text, all whitespace removed, once it matches `expected` (written without whitespace too). Monaco
 * draws only the lines in view, and wraps long ones (an id may be cut in two), hence no whitespace at all.
 */
async function resultWith(page: Page, expected: RegExp): Promise<string> {
  const text = `[...document.querySelectorAll('.graphiql-response .view-lines')].map((el) => el.textContent ?? '').join('').replace(/\\s+/g, '')`;
  await page.waitForFunction(`${expected}.test(${text})`, undefined, { timeout: STEP_LIMIT_MS });
  return (await page.evaluate(text)) as string;
}

async function main() {
  ensureChromium();
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivy-browser-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'SEED_DEMO', 'VITEST', 'NODE_OPTIONS']) delete env[k];

  const started = Date.now();
  const demo = await startDemo(env);
  log(`npm run demo: ${demo.url} (${Date.now() - started} ms)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const adminToken = tokenFor('admin@acme.test', env);
    const interviewerToken = tokenFor('interviewer@acme.test', env);

    const context = await browser.newContext({ viewport: { width: 1440, height: 960 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      problems.push(`outbound request: ${url}`);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    failurePage = page;
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('websocket', (ws) => {
      if (!isLoopback(ws.url().replace(/^ws/, 'http'))) problems.push(`outbound WebSocket: ${ws.url()}`);
    });
    page.on('requestfailed', (r) => {
      if (isLoopback(r.url())) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
    });

    // 1. Open GraphiQL: a real title, no placeholder, nothing from the internet.
    const first = await page.goto(demo.url);
    const html = (await first?.text()) ?? '';
    for (const placeholder of ['__TITLE__', 'Loading', 'unpkg.com', 'https://']) {
      if (html.includes(placeholder)) problems.push(`the page's HTML contains "${placeholder}"`);
    }
    await page.locator('.graphiql-execute-button').waitFor({ timeout: STEP_LIMIT_MS });
    await page.getByTestId('ivy-panel').waitFor({ timeout: STEP_LIMIT_MS });
    const title = await page.title();
    if (title !== 'Ivy platform API · GraphiQL') problems.push(`page title is "${title}"`);
    await page.screenshot({ path: path.join(SHOTS, '1-opened.png') });

    // 2. The token in the Headers tab; 3. Me.
    await fillTab(page, 'Headers', JSON.stringify({ Authorization: `Bearer ${adminToken}` }, null, 2));
    await run(page, 'Me');
    const me = await resultWith(page, /"email":"admin@acme\.test"/);
    // Org.id is a global id (base64url); every orgId argument takes it.
    const orgId = /"org":\{"id":"([A-Za-z0-9_-]+)","slug":"acme"/.exec(me)?.[1];
    if (!orgId) throw new Error(`Me shows no acme org id:\n${me}`);
    await page.screenshot({ path: path.join(SHOTS, '2-me.png') });

    // 4. The org id into the Variables tab; 5. Settings: acme on Intervy Credits.
    await fillTab(page, 'Variables', JSON.stringify({ orgId }, null, 2));
    await run(page, 'Settings');
    // (Monaco draws only the lines in view: the top of the result.)
    await resultWith(page, /"provider":"INTERVY_CREDITS","effectiveProvider":"INTERVY_CREDITS"/);
    await page.screenshot({ path: path.join(SHOTS, '3-settings.png') });

    // 6. npm run demo: save a key, then test it against the loopback stand-in.
    await run(page, 'SaveMyKey_changesDemoOrg');
    await resultWith(page, /"setPersonalKey":\{"provider":"ANTHROPIC","hint":"[^"]+","status":"UNTESTED"/);
    await run(page, 'TestMyKey');
    await resultWith(page, /"testPersonalKey":\{"ok":true,"status":"VALID"/);

    // 7. Ask: the Ivy stream panel shows every event, the whole answer and who paid.
    await run(page, 'Ask');
    const ending = page.getByTestId('ivy-ending');
    await ending.waitFor({ timeout: STEP_LIMIT_MS });
    const answer = await page.getByTestId('ivy-answer').textContent();
    if (answer !== 'Ivy here. You asked: Who is waiting on feedback?')
      problems.push(`the panel's answer is "${answer}"`);
    const field = async (section: string, name: string) =>
      page.getByTestId(section).locator(`[data-field="${name}"]`).textContent();
    const checks: Array<[string, string, string]> = [
      ['ivy-started', 'billing', 'CREDITS'],
      ['ivy-started', 'provider', 'INTERVY_CREDITS'],
      ['ivy-ending', 'finishReason', 'END_TURN'],
    ];
    for (const [section, name, want] of checks) {
      const got = await field(section, name);
      if (got !== want) problems.push(`${section} ${name} is "${got}", not "${want}"`);
    }
    const charged = Number(await field('ivy-ending', 'creditsCharged'));
    const balance = Number(await field('ivy-ending', 'creditBalance'));
    if (!(charged > 0) || balance !== 10_000 - charged)
      problems.push(`charged ${charged} credits, balance ${balance}: the balance does not drop by the charge`);
    const events = await page.getByTestId('ivy-events').locator('li').count();
    const deltas = (answer ?? '').split(/(?<= )/).length;
    if (events !== deltas + 2) problems.push(`the panel lists ${events} events, not started + ${deltas} deltas + end`);
    await page.screenshot({ path: path.join(SHOTS, '4-whole-answer.png') });

    // 8. A refusal: an interviewer may not change the org's provider.
    await fillTab(page, 'Headers', JSON.stringify({ Authorization: `Bearer ${interviewerToken}` }, null, 2));
    await run(page, 'SwitchToAnthropic_changesDemoOrg');
    await resultWith(page, /"code":"FORBIDDEN"/);
    await page.screenshot({ path: path.join(SHOTS, '5-refusal.png') });

    // 9. An empty orgId in the Variables tab: the page uses the token's first org and says so.
    await fillTab(page, 'Variables', JSON.stringify({ orgId: '' }, null, 2));
    await run(page, 'Settings');
    await resultWith(page, /"orgAiSettings":\{"provider":"INTERVY_CREDITS"/);
    const note = await page.getByTestId('ivy-org-note').textContent();
    if (!note?.includes(`acme (${orgId})`)) problems.push(`no note that the page used acme's id: "${note}"`);
    await page.screenshot({ path: path.join(SHOTS, '6-org-filled-in.png') });
  } catch (err) {
    await failurePage?.screenshot({ path: path.join(SHOTS, 'failure.png') }).catch(() => {});
    throw err;
  } finally {
    await browser.close();
    await stopDemo(demo.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  log(`walkthrough took ${Date.now() - started} ms; screenshots in ${path.relative(ROOT, SHOTS)}/`);
}

const guard = setTimeout(() => {
  process.stderr.write(`test:browser: not done after ${RUN_LIMIT_MS / 1000} s\n`);
  process.exit(1);
}, RUN_LIMIT_MS);
try {
  await main();
} catch (err) {
  problems.push(`step failed: ${(err as Error).stack ?? String(err)}`);
}
clearTimeout(guard);
if (problems.length) {
  process.stderr.write(`test:browser FAILED:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exit(1);
}
log('test:browser passed: the README walkthrough works in Chromium, with no outbound request and no console error');
process.exit(0);
