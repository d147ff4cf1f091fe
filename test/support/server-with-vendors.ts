// A test server whose Anthropic and OpenAI calls go to the loopback stand-ins, for the API tests that run completions
// or test keys.
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts';
import { startFakeAnthropic } from '../../dev/vendors/anthropic-server.ts';
import type { FakeVendorServer } from '../../dev/vendors/common.ts';
import { startFakeOpenAI } from '../../dev/vendors/openai-server.ts';

export interface ServerWithVendors {
  server: TestServer;
  anthropic: FakeVendorServer;
  openai: FakeVendorServer;
  /** ANTHROPIC_BASE_URL and OPENAI_BASE_URL pointing at the stand-ins, for a second server on the same ones. */
  vendorEnv: { ANTHROPIC_BASE_URL: string; OPENAI_BASE_URL: string };
  /** Stops the server, then closes both stand-ins. */
  stop(): Promise<void>;
}

/** Starts both stand-ins, then a test server pointed at them; `opts.env` is applied on top of the stand-ins' URLs. */
export async function startServerWithVendors(opts: TestServerOptions = {}): Promise<ServerWithVendors> {
  const [anthropic, openai] = await Promise.all([startFakeAnthropic(), startFakeOpenAI()]);
  const closeVendors = () => Promise.all([anthropic.close(), openai.close()]).then(() => undefined);
  const vendorEnv = { ANTHROPIC_BASE_URL: anthropic.url, OPENAI_BASE_URL: openai.url };
  let server: TestServer;
  try {
    server = await startTestServer({ ...opts, env: { ...vendorEnv, ...opts.env } });
  } catch (err) {
    await closeVendors();
    throw err;
  }
  return {
    server,
    anthropic,
    openai,
    vendorEnv,
    stop: async () => {
      try {
        await server.stop();
      } finally {
        await closeVendors();
      }
    },
  };
}
