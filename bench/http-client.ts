// Load generator for the throughput row of bench/scale.ts, in a process of its own (forked) so that autocannon's own
// work (building requests, parsing responses) is not charged to the server it measures: asked for one run, it runs
// autocannon and sends back the requests per second and any non-2xx or errors.
import autocannon from 'autocannon';

export interface CannonRun {
  url: string;
  connections: number;
  seconds: number;
  body: string;
  token: string | null;
}
export interface CannonResult {
  perSecond: number;
  /** Requests answered in all (2xx or not). */
  total: number;
  non2xx: number;
  errors: number;
}

process.on('message', (run: CannonRun) => {
  void autocannon({
    url: run.url,
    connections: run.connections,
    duration: run.seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(run.token ? { authorization: `Bearer ${run.token}` } : {}) },
    body: run.body,
  }).then((r) => {
    const result: CannonResult = {
      perSecond: r.requests.average,
      total: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors,
    };
    process.send!(result);
  });
});
process.send!({ ready: true });
