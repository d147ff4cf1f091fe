// Where the machine's CPU goes during a bench row, for the rows whose ceiling is the machine itself (issue 10: the
// server instances, PostgreSQL, Redis, the stand-in and the load generator share two cores). Figures come from the
// kernel's own accounting (/proc) and from each process's report of itself; a part that cannot be read (not Linux,
// PostgreSQL on another host) is left out, never guessed.
import fs from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import type { Redis } from 'ioredis';

/** Clock ticks per second of /proc's CPU times (USER_HZ): 100 on every Linux architecture Node runs on. */
const USER_HZ = 100;

/** CPU time the whole machine spent busy (every core, every process, the kernel; not idle, not waiting on I/O), ms. */
function machineBusyMs(): number | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user + nice + system + irq + softirq + steal) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** utime + stime of one process, ms; null once it is gone or unreadable. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

export interface CpuSources {
  /** The database's client backends are read from /proc when PostgreSQL runs on this machine. */
  pool: pg.Pool;
  redis?: Redis;
  /** The stand-in's own process.cpuUsage(), in ms. */
  standInCpuMs: () => Promise<number>;
}

interface Snapshot {
  machine: number | null;
  backends: Map<number, number>;
  redis: number | null;
  standIn: number;
}

async function snapshot(s: CpuSources): Promise<Snapshot> {
  const { rows } = await s.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`,
  );
  const backends = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = processCpuMs(pid);
    if (ms != null) backends.set(pid, ms);
  }
  let redis: number | null = null;
  if (s.redis) {
    const info = await s.redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
    redis = (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
  }
  return { machine: machineBusyMs(), backends, redis, standIn: await s.standInCpuMs() };
}

export interface MachineCpu {
  /** CPU ms per operation, by who spent it. `postgres`: the database's client backends alive at both ends. */
  perOp: {
    server: number;
    postgres: number | null;
    redis: number | null;
    standIn: number;
    loadGenerator: number;
    /** The whole machine (everything above, the kernel, and anything else running). */
    machine: number | null;
  };
  /** Operations per second the machine's cores could give at that cost, were every core busy with nothing else. */
  ceilingPerSecond: number | null;
}

/**
 * Starts measuring; call the result with the row's operation count and the CPU the server and the load generator
 * reported (ms) once the row is done.
 */
export async function measureMachineCpu(
  s: CpuSources,
): Promise<(ops: number, serverMs: number, loadGeneratorMs: number) => Promise<MachineCpu>> {
  const before = await snapshot(s);
  return async (ops, serverMs, loadGeneratorMs) => {
    const after = await snapshot(s);
    let pgMs = 0;
    let pgSeen = false;
    for (const [pid, ms] of after.backends) {
      const was = before.backends.get(pid);
      if (was == null) continue;
      pgMs += ms - was;
      pgSeen = true;
    }
    const per = (ms: number | null) => (ms == null ? null : +(ms / ops).toFixed(2));
    const machine = before.machine != null && after.machine != null ? after.machine - before.machine : null;
    const machinePerOp = per(machine);
    return {
      perOp: {
        server: per(serverMs)!,
        postgres: pgSeen ? per(pgMs) : null,
        redis: before.redis != null && after.redis != null ? per(after.redis - before.redis) : null,
        standIn: per(after.standIn - before.standIn)!,
        loadGenerator: per(loadGeneratorMs)!,
        machine: machinePerOp,
      },
      ceilingPerSecond: machinePerOp ? Math.round((os.cpus().length * 1000) / machinePerOp) : null,
    };
  };
}
