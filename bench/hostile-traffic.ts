// npm run bench:hostile   A member's simple query, alone and while the attacks of issue 8 run: four parallel
// unauthenticated 3 MB documents, four 5,000-alias documents, four 1 MB documents just under the body cap.
// Prints medians; needs DATABASE_URL (a scratch database: it is migrated and seeded).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { Keyring } from '../src/lib/crypto.ts';
import { applyMigrations } from '../src/lib/migrate.ts';
import { signUserToken } from '../src/lib/tokens.ts';
import { Seeder } from '../dev/seed.ts';

const config = loadConfig({
  DATABASE_URL: process.env.DATABASE_URL,
  AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: Keyring.generateEntry('b'),
  LOG_LEVEL: 'silent',
});
await applyMigrations(config.databaseUrl!);
const app = await buildApp(config, { backgroundJobs: false });
const url = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}/graphql`;
const seed = new Seeder(app.services, (id) => signUserToken(app.jwtSecret, id));
const [victimOrg, attackerOrg] = [await seed.org(), await seed.org()];
const post = (body: string, token?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  }).then((r) => r.text());
const simple = JSON.stringify({
  query: `query($o: ID!) { creditBalance(orgId: $o) { balance } }`,
  variables: { o: victimOrg.org.id },
});

async function latency(n = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await post(simple, victimOrg.staffing.token);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}

/** Four attacker processes (so their own CPU is not this process's) posting `body` in a loop. */
async function during(name: string, body: string, token?: string) {
  const file = path.join(os.tmpdir(), `hostile-${process.pid}.json`);
  fs.writeFileSync(file, body);
  const loop = `const b=require('fs').readFileSync(${JSON.stringify(file)});(async()=>{for(;;){await fetch(${JSON.stringify(url)},{method:'POST',headers:{'content-type':'application/json'${token ? `,authorization:'Bearer ${token}'` : ''}},body:b}).then(r=>r.text()).catch(()=>{})}})()`;
  const attackers = Array.from({ length: 4 }, () => spawn(process.execPath, ['-e', loop], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 1500));
  const ms = await latency();
  attackers.forEach((a) => a.kill());
  console.log(`${name}: median ${ms.toFixed(1)} ms`);
}

const threeMb = JSON.stringify({ query: `{ ${'__typename '.repeat(280_000)} }` });
const underCap = JSON.stringify({ query: `{ ${'__typename '.repeat(95_000)} }` });
const aliases = JSON.stringify({
  query: `query($o: ID!) { ${Array.from({ length: 5000 }, (_, i) => `a${i}: creditBalance(orgId: $o) { balance }`).join(' ')} }`,
  variables: { o: attackerOrg.org.id },
});
await latency(5);
console.log(`alone: median ${(await latency()).toFixed(1)} ms`);
await during('4 x unauthenticated 3 MB documents', threeMb);
await during('4 x 1 MB documents (under the body cap)', underCap);
await during('4 x 5,000 aliases of creditBalance (INTERVIEWER)', aliases, attackerOrg.interviewer.token);
await app.stop();
process.exit(0);
