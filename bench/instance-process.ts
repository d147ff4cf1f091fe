// A second server instance in a process of its own (forked by bench/scale.ts for the fan-out row), as a second
// machine would be: with both instances in the bench's process they shared one event loop, so a second instance
// added nothing to a fan-out. It shares the database and Redis with the first and answers the bench's questions
// (how many subscribers are live, how many SQL statements it made) over IPC.
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { installSqlCounter, sqlSnapshot } from './sql-probe.ts';

type Ask =
  | { t: 'start'; env: Record<string, string | undefined> }
  | { t: 'whenSubscribed'; orgId: string; count: number }
  | { t: 'subscribers'; orgId: string }
  | { t: 'sql' }
  | { t: 'cpu' }
  | { t: 'stop' };

installSqlCounter();
// The bench gone (finished, or failed before it said stop): nothing is left running.
process.on('disconnect', () => process.exit(0));
let app: Awaited<ReturnType<typeof buildApp>> | undefined;

process.on('message', async (m: Ask) => {
  if (m.t === 'start') {
    app = await buildApp({ ...loadConfig(m.env), migrateOnStart: false }, { backgroundJobs: false });
    process.send!({ t: 'started', url: `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}` });
  }
  if (m.t === 'whenSubscribed') {
    await app!.services.pubsub.whenSubscribed(m.orgId, m.count);
    process.send!({ t: 'subscribed', orgId: m.orgId });
  }
  if (m.t === 'subscribers') process.send!({ t: 'subscribers', count: app!.services.pubsub.subscribers(m.orgId) });
  if (m.t === 'sql') process.send!({ t: 'sql', counts: sqlSnapshot() });
  if (m.t === 'cpu') process.send!({ t: 'cpu', usage: process.cpuUsage() });
  if (m.t === 'stop') {
    await app?.stop();
    process.exit(0);
  }
});
