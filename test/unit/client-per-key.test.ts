import { describe, expect, it } from 'vitest';
import { clientPerKey } from '../../src/providers/shared.ts';

describe('clientPerKey', () => {
  it('builds one client per key, keeps the most recently used, and drops the least recently used past its size', () => {
    const built: string[] = [];
    const clientFor = clientPerKey((apiKey) => (built.push(apiKey), { apiKey }), 2);
    const a = clientFor('key-a');
    expect(clientFor('key-a')).toBe(a);
    expect(clientFor('key-b').apiKey).toBe('key-b');
    clientFor('key-a'); // used again: key-b is now the least recently used
    clientFor('key-c'); // past the size: key-b goes
    expect(clientFor('key-a')).toBe(a);
    clientFor('key-b');
    expect(built).toEqual(['key-a', 'key-b', 'key-c', 'key-b']);
  });
});
