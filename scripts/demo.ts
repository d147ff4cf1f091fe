// npm run demo   The server with loopback Anthropic and OpenAI stand-ins (the same ones the tests use) and demo
// keys, so Ivy streams in GraphiQL with no provider account: acme runs on Intervy Credits, initech on BYOK.
import { startFakeAnthropic } from '../dev/vendors/anthropic-server.ts';
import { startFakeOpenAI } from '../dev/vendors/openai-server.ts';

const anthropic = await startFakeAnthropic();
const openai = await startFakeOpenAI();
process.env.ANTHROPIC_BASE_URL = anthropic.url;
process.env.OPENAI_BASE_URL = openai.url;
process.env.INTERVY_ANTHROPIC_API_KEY ??= 'sk-ant-demo-house-key-0000';
process.env.INTERVY_OPENAI_API_KEY ??= 'sk-demo-house-key-0000';
process.stdout.write(
  `Demo provider stand-ins: Anthropic ${anthropic.url}, OpenAI ${openai.url} (nothing leaves this machine).\n`,
);

await import('../src/main.ts');
