// The fan-out row's load generator, in a process of its own (bench/scale.ts forks it), so the 10,000 client
// subscriptions do not share the server's event loop: opens SUBSCRIBERS orgAiSettingsChanged subscriptions over
// graphql-ws (SUBS_PER_SOCKET per socket, sockets spread over the instances and members), says "ready", then
// reports when each subscriber got its first event and whether it was that subscriber's own view.
import { performance } from 'node:perf_hooks';
import { GraphQLClient } from '../dev/client.ts';

interface Plan {
  urls: string[];
  orgId: string;
  query: string;
  subscribers: number;
  perSocket: number;
  members: { token: string; canManage: boolean; keys: number }[];
}
interface Msg {
  t: 'start' | 'ready' | 'done' | 'stop' | 'refused';
}

/** A socket's CloseEvent has only getters (JSON.stringify printed `{}`): its code and reason are what say why. */
const describe = (err: unknown) => {
  const e = err as { code?: number; reason?: string; message?: string };
  if (typeof e?.code === 'number') return `socket closed ${e.code} ${e.reason ?? ''}`.trim();
  return (e?.message ?? JSON.stringify(err)).slice(0, 500);
};
const now = () => performance.timeOrigin + performance.now();
const send = (m: Msg & Record<string, unknown>) => process.send!(m);

process.on('message', (raw: Msg & { plan?: Plan }) => {
  if (raw.t === 'start') void run(raw.plan!);
  if (raw.t === 'stop') process.exit(0);
});

async function run(plan: Plan) {
  const sockets = Math.ceil(plan.subscribers / plan.perSocket);
  const subs: { member: Plan['members'][number]; count: number; at: number; view: unknown }[] = [];
  const perInstance = plan.urls.map(() => 0);
  let refused = 0;
  for (let s = 0; s < sockets; s++) {
    const member = plan.members[s % plan.members.length];
    const instance = s % plan.urls.length;
    const ws = new GraphQLClient(plan.urls[instance], member.token).ws();
    for (let i = 0; i < plan.perSocket && subs.length < plan.subscribers; i++) {
      const sub = { member, count: 0, at: 0, view: null as unknown };
      subs.push(sub);
      perInstance[instance]++;
      ws.subscribe(
        { query: plan.query, variables: { orgId: plan.orgId } },
        {
          next: (r) => {
            sub.count++;
            sub.at = now();
            sub.view = (r.data as { orgAiSettingsChanged?: unknown } | null)?.orgAiSettingsChanged ?? null;
            if (sub.count === 1 && ++reached === subs.length) report();
          },
          // A refused subscription would otherwise leave the bench waiting for it forever: say why, once.
          error: (err) => {
            if (!refused++) send({ t: 'refused', error: describe(err) });
          },
          complete: () => {},
        },
      );
    }
  }
  let reached = 0;
  const report = () => {
    const wrong = subs.filter((s) => {
      const v = s.view as { viewerCanManage: boolean; viewerKeys: unknown[] } | null;
      return !v || s.count !== 1 || v.viewerCanManage !== s.member.canManage || v.viewerKeys.length !== s.member.keys;
    }).length;
    send({ t: 'done', reached, wrong, lastAt: Math.max(...subs.map((s) => s.at)) });
  };
  send({ t: 'ready', perInstance });
}
