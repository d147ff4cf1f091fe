// The loopback Anthropic stand-in in a process of its own (forked by bench/scale.ts), so its timers and its streams
// do not share the server's event loop: what a row measures is the server's cost, not the stand-in's.
import { startFakeAnthropic } from '../dev/vendors/anthropic-server.ts';

const anthropic = await startFakeAnthropic();
process.send!({ t: 'ready', url: anthropic.url });
process.on('message', (m: { t: string }) => {
  if (m.t === 'stop') void anthropic.close().finally(() => process.exit(0));
  // Its own CPU so far (bench/machine-cpu.ts: what the stand-in costs the shared machine).
  if (m.t === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ t: 'cpu', ms: (user + system) / 1000 });
  }
});
