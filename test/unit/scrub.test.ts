import { describe, expect, it } from 'vitest';
import { scrubSecrets } from '../../src/lib/scrub.ts';

const KEY = 'sk-ant-api03-Zq7Xw1Yv2Ut3Sr4Qp5On6Ml';

describe('the secret scrubber', () => {
  it('removes a known key, whole or as any 8-character piece, whatever its shape', () => {
    const custom = 'custom-key-0123456789abcdef';
    expect(scrubSecrets(`bad key ${custom}`, custom)).toBe('bad key [redacted]');
    const out = scrubSecrets(`starts "${KEY.slice(0, 12)}", ends "${KEY.slice(-10)}"`, KEY);
    expect(out).not.toContain(KEY.slice(-10, -2));
    expect(out).not.toContain('sk-ant-api03');
  });

  it('removes anything shaped like a vendor key, a masked key, a bearer token or a JWT', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const text = `a ${KEY} b sk-abc****wxyz c pk-12****9f d Bearer abc.def e ${jwt}`;
    const out = scrubSecrets(text);
    expect(out).toBe('a [redacted] b [redacted] c [redacted] d [redacted] e [redacted]');
  });

  it('leaves ordinary text alone', () => {
    expect(scrubSecrets('Anthropic rejected the API key (HTTP 401).')).toBe(
      'Anthropic rejected the API key (HTTP 401).',
    );
  });
});
