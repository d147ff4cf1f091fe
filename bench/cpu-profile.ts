// Profiles one bench row in process (node:inspector, the same profiler as node --cpu-prof) and sums self time by
// where it was spent: PostgreSQL's driver, Prisma, graphql-js, Yoga/envelop, Pothos, ws, our code, Node itself, idle.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const CATEGORIES: [string, RegExp][] = [
  ['idle', /^\(idle\)/],
  ['garbage collection', /^\(garbage collector\)/],
  ['prisma', /@prisma|generated\/prisma/],
  ['pg driver', /node_modules\/pg(-[a-z]+)?\//],
  ['graphql-js', /node_modules\/graphql\//],
  ['yoga/envelop/whatwg', /graphql-yoga|@envelop|@graphql-tools|@whatwg-node|@escape\.tech/],
  ['pothos', /@pothos/],
  ['ws/graphql-ws', /node_modules\/(ws|graphql-ws)\//],
  ['jose (JWT)', /node_modules\/jose\//],
  ['autocannon (load generator)', /autocannon/],
  ['our code', /\/(src|dev|bench|test)\//],
];

export function summarize(profile: Profile): { totalMs: number; share: Record<string, number>; top: string[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const d = profile.timeDeltas[i] ?? 0;
    total += d;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '')}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + d);
  });
  const share: Record<string, number> = {};
  for (const [key, us] of self) {
    const cat = CATEGORIES.find(([, re]) => re.test(key))?.[0] ?? 'node and native';
    share[cat] = (share[cat] ?? 0) + us;
  }
  for (const k of Object.keys(share)) share[k] = +((100 * share[k]) / total).toFixed(1);
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1)}% ${k}`);
  return { totalMs: Math.round(total / 1000), share, top };
}

/** Runs `fn` under the CPU profiler; with `saveAs`, keeps the .cpuprofile (open it in Chrome DevTools). */
export async function profiled<T>(saveAs: string | null, fn: () => Promise<T>) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const result = await fn();
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();
  if (saveAs) fs.writeFileSync(saveAs, JSON.stringify(profile));
  return { result, cpu: summarize(profile) };
}

interface SamplingHeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingHeapNode[];
}

/**
 * Runs `fn` under V8's sampling heap profiler and returns what the allocations still live at the end (after the
 * caller's forced GC inside `fn`) weigh, by the innermost frame of ours or of a library that allocated them.
 */
export async function heapSampled<T>(saveAs: string | null, fn: () => Promise<T>) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
  const result = await fn();
  const { profile } = (await session.post('HeapProfiler.getSamplingProfile')) as unknown as {
    profile: { head: SamplingHeapNode };
  };
  await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  if (saveAs) fs.writeFileSync(saveAs, JSON.stringify(profile));
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingHeapNode, site: string) => {
    const f = node.callFrame;
    const here =
      f.url && !f.url.startsWith('node:')
        ? `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench|dev)\//, '$1/')}:${f.lineNumber}`
        : site;
    if (node.selfSize) {
      bySite.set(here, (bySite.get(here) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, '(native)');
  const top = [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)
    .map(([k, bytes]) => `${(bytes / 1024).toFixed(0)} KB ${k}`);
  return { result, liveBytes: total, top };
}
