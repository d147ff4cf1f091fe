// The one secret scrubber: whatever leaves the server as text (a log line, a provider's failure message passed on to a
// client) goes through it, so a key, token or masked key never reaches a log, an error or a response.

const REDACTED = '[redacted]';
/** A known key's fragments this long are key material too (vendors quote parts of a rejected key). */
const FRAGMENT = 8;

// Shapes of secrets, whoever's they are.
const SECRET_SHAPES = [
  /\bsk-[\w*-]+/g, // Anthropic (sk-ant-...) and OpenAI (sk-..., sk-proj-...) keys, also as vendors echo them masked
  /sk-[A-Za-z0-9_-]{6,}/g, // ... and glued to a word ("apikeysk-ant-...")
  /[\w-]*\*{4,}[\w-]*/g, // any other masked key
  /Bearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, // JWTs
];

/**
 * Replaces anything shaped like a key or token with [redacted]; given the key a call used, also that key and every
 * 8-character piece of it, whatever its shape.
 */
export function scrubSecrets(text: string, knownKey?: string): string {
  let out = text;
  const key = knownKey?.trim();
  if (key) {
    out = out.split(key).join(REDACTED);
    for (let i = 0; key.length >= FRAGMENT && i + FRAGMENT <= key.length; i++) {
      const fragment = key.slice(i, i + FRAGMENT);
      if (out.includes(fragment)) out = out.split(fragment).join(REDACTED);
    }
  }
  for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
  return out;
}
