// Every credit figure in one place: what a completion holds before it calls upstream, how tokens are estimated when
// a provider does not report them, and what a completion is charged however it ends.
import type { AiModel } from './models.ts';

type Price = Pick<AiModel, 'creditsPer1kInput' | 'creditsPer1kOutput'> &
  Partial<Pick<AiModel, 'creditsPer1MCachedInput'>>;

/** Framing tokens a vendor adds around each message and the system prompt (role markers, separators). */
const FRAMING_TOKENS_PER_MESSAGE = 8;

/**
 * Credits for a token count at a model's price, rounded up to whole credits. `cachedInputTokens` are part of
 * `inputTokens` and cost the model's cached price instead (integer arithmetic in millionths, so no float rounding).
 */
export function creditsFor(model: Price, inputTokens: number, outputTokens: number, cachedInputTokens = 0): number {
  const cached = Math.min(Math.max(0, cachedInputTokens), inputTokens);
  const cachedPrice = model.creditsPer1MCachedInput ?? model.creditsPer1kInput * 1000;
  const millionths =
    (inputTokens - cached) * model.creditsPer1kInput * 1000 +
    cached * cachedPrice +
    outputTokens * model.creditsPer1kOutput * 1000;
  return Math.ceil(millionths / 1_000_000);
}

/**
 * An upper bound on the input tokens of any prompt, whatever its script: the UTF-8 byte count plus framing. Both
 * vendors' tokenizers are byte-level BPE, whose tokens each cover at least one byte, so no text tokenizes to more
 * tokens than it has bytes. (No offline tokenizer exists for current Claude models, so a bound is used for both.)
 */
export function inputTokenBound(system: string | null | undefined, messages: readonly { content: string }[]): number {
  const bytes = Buffer.byteLength(system ?? '') + messages.reduce((n, m) => n + Buffer.byteLength(m.content), 0);
  return bytes + FRAMING_TOKENS_PER_MESSAGE * (messages.length + 1);
}

/** The hold: the worst case of a request, so that what the provider reports can never exceed it in practice. */
export function holdFor(
  model: Price,
  system: string | null | undefined,
  messages: readonly { content: string }[],
  maxTokens: number,
): number {
  return creditsFor(model, inputTokenBound(system, messages), maxTokens);
}

/**
 * Pieces the way the vendors' pre-tokenizers split text before BPE (GPT-2/cl100k style): contractions, a word with
 * its leading space, up to three digits, a run of punctuation, whitespace. BPE never merges across these boundaries.
 */
const PIECES = /'(?:s|t|re|ve|m|ll|d)| ?\p{L}+| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+/gu;
const NON_ASCII = /[^\u0000-\u007f]/gu; // eslint-disable-line no-control-regex -- the ASCII range, by definition

/**
 * A token estimate for text a provider did not report on (a stream cut before its usage arrived), close to and
 * usually under the real count: one token per pre-tokenizer piece, a long ASCII word one per 8 letters, and one per
 * character of a non-Latin script (CJK runs one or more tokens a character).
 */
export class TextTokenEstimate {
  private readonly parts: string[] = [];
  chars = 0;

  add(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
  }

  get tokens(): number {
    let tokens = 0;
    for (const [piece] of this.parts.join('').matchAll(PIECES)) {
      const nonAscii = piece.match(NON_ASCII)?.length ?? 0;
      if (nonAscii === 0) tokens += Math.max(1, Math.ceil(piece.trimStart().length / 8));
      // Mixed pieces: each non-ASCII character, plus one for the ASCII letters beside them (a lone space merges).
      else tokens += nonAscii + ([...piece].length - nonAscii > 1 ? 1 : 0);
    }
    return tokens;
  }

  static of(...texts: (string | null | undefined)[]): number {
    const e = new TextTokenEstimate();
    for (const t of texts) if (t) e.add(t);
    return e.tokens;
  }
}

export interface Usage {
  inputTokens: number | null;
  outputTokens: number | null;
  /** Part of inputTokens the provider served from its prompt cache. */
  cachedInputTokens?: number | null;
}

export interface Bill {
  charge: number;
  inputTokens: number;
  outputTokens: number;
  inputEstimated: boolean;
  outputEstimated: boolean;
  /** Reported cached input tokens (null when the provider said nothing, or the input was estimated). */
  cachedInputTokens: number | null;
  /** What the cached tokens saved against the full input price. */
  cacheSaving: number;
}

/**
 * What a completion is charged.
 * - Finished: exactly what the provider reported (a figure it left out is estimated).
 * - Cancelled or failed: at least the output that reached the client (the provider's figure, or the estimate from
 *   the delivered text when that is larger: both vendors report output only at the end), plus the input the
 *   provider accepted (its figure, or an estimate when it streamed anything without reporting one; nothing when it
 *   refused the request before streaming).
 */
export function billFor(
  model: Price,
  o: { finished: boolean; reported: Usage; delivered: TextTokenEstimate; promptTokens: () => number },
): Bill {
  const accepted =
    o.finished || o.delivered.chars > 0 || o.reported.inputTokens != null || o.reported.outputTokens != null;
  const inputEstimated = o.reported.inputTokens == null && accepted;
  const inputTokens = o.reported.inputTokens ?? (accepted ? o.promptTokens() : 0);
  let outputTokens: number;
  let outputEstimated: boolean;
  if (o.finished && o.reported.outputTokens != null) {
    outputTokens = o.reported.outputTokens;
    outputEstimated = false;
  } else {
    const estimate = o.delivered.tokens;
    outputEstimated = o.reported.outputTokens == null || estimate > o.reported.outputTokens;
    outputTokens = outputEstimated ? estimate : o.reported.outputTokens!;
  }
  // An estimated input has no cache figure to go with it: billed in full.
  const cachedInputTokens =
    inputEstimated || o.reported.cachedInputTokens == null ? null : Math.min(o.reported.cachedInputTokens, inputTokens);
  const charge = creditsFor(model, inputTokens, outputTokens, cachedInputTokens ?? 0);
  return {
    charge,
    inputTokens,
    outputTokens,
    inputEstimated,
    outputEstimated,
    cachedInputTokens,
    cacheSaving: creditsFor(model, inputTokens, outputTokens) - charge,
  };
}
