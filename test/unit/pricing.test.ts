import { describe, expect, it } from 'vitest';
import { billFor, creditsFor, holdFor, inputTokenBound, TextTokenEstimate } from '../../src/domain/pricing.ts';

const HAIKU = { creditsPer1kInput: 1, creditsPer1kOutput: 5 };
const estimate = (...texts: string[]) => {
  const e = new TextTokenEstimate();
  texts.forEach((t) => e.add(t));
  return e;
};

describe('the hold', () => {
  it('bounds input tokens by UTF-8 bytes plus framing, whatever the script', () => {
    expect(inputTokenBound(null, [{ content: 'abcd' }])).toBe(4 + 16);
    expect(inputTokenBound('sys', [{ content: '面' }, { content: '😀' }])).toBe(3 + 3 + 4 + 24);
  });

  it('holds the input bound plus maxTokens at the model price', () => {
    expect(holdFor(HAIKU, null, [{ content: 'x'.repeat(984) }], 1000)).toBe(creditsFor(HAIKU, 1000, 1000));
  });
});

describe('the text estimate', () => {
  it('counts one token per pre-tokenizer piece: a word with its leading space, up to three digits, punctuation', () => {
    expect(estimate('Hello world, this is Ivy.').tokens).toBe(7);
    expect(estimate('t1 t2 t3').tokens).toBe(6);
    expect(estimate('t1234').tokens).toBe(3);
  });

  it('counts a long word one token per 8 letters and each character of a non-Latin script once, surrogate pairs once', () => {
    expect(estimate('internationalization').tokens).toBe(3);
    expect(estimate('面試官').tokens).toBe(3);
    expect(estimate('😀😀').tokens).toBe(2);
    expect(estimate('😀').chars).toBe(2);
  });

  it('estimates the delivered text as a whole, so a word split across deltas counts once', () => {
    expect(estimate('Hel', 'lo', ' wor', 'ld').tokens).toBe(estimate('Hello world').tokens);
  });
});

describe('the bill', () => {
  const prompt = () => 100;

  it('charges a finished answer exactly what the provider reported', () => {
    const bill = billFor(HAIKU, {
      finished: true,
      reported: { inputTokens: 1000, outputTokens: 10 },
      delivered: estimate('x'.repeat(4000)),
      promptTokens: prompt,
    });
    expect(bill).toEqual({
      charge: creditsFor(HAIKU, 1000, 10),
      inputTokens: 1000,
      outputTokens: 10,
      inputEstimated: false,
      outputEstimated: false,
      cachedInputTokens: null,
      cacheSaving: 0,
    });
  });

  it('bills reported cached input tokens at the cached price and records what they saved', () => {
    const HAIKU_CACHED = { ...HAIKU, creditsPer1MCachedInput: 100 };
    const bill = billFor(HAIKU_CACHED, {
      finished: true,
      reported: { inputTokens: 10_000, outputTokens: 200, cachedInputTokens: 8000 },
      delivered: estimate('x'),
      promptTokens: prompt,
    });
    // 2,000 uncached at 1/1k = 2, 8,000 cached at 100/1M = 0.8, 200 output at 5/1k = 1: 3.8, rounded up.
    expect(bill).toMatchObject({ charge: 4, cachedInputTokens: 8000, cacheSaving: creditsFor(HAIKU, 10_000, 200) - 4 });
    expect(bill.cacheSaving).toBe(7);
  });

  it('bills every input token at the full price when the input was estimated, whatever cache figure came', () => {
    const bill = billFor(
      { ...HAIKU, creditsPer1MCachedInput: 100 },
      {
        finished: false,
        reported: { inputTokens: null, outputTokens: null, cachedInputTokens: 50 },
        delivered: estimate('Hello world'),
        promptTokens: () => 1000,
      },
    );
    expect(bill).toMatchObject({ inputEstimated: true, cachedInputTokens: null, cacheSaving: 0 });
  });

  it('prices in whole millionths, so a round figure is not pushed up a credit by float error', () => {
    expect(creditsFor({ ...HAIKU, creditsPer1MCachedInput: 100 }, 10_000, 0, 10_000)).toBe(1);
    expect(
      creditsFor({ creditsPer1kInput: 3, creditsPer1kOutput: 15, creditsPer1MCachedInput: 300 }, 1000, 0, 1000),
    ).toBe(1);
  });

  it('charges a cut stream at least the delivered text when the provider reported less, marking the figure estimated', () => {
    const bill = billFor(HAIKU, {
      finished: false,
      reported: { inputTokens: 1000, outputTokens: 1 },
      delivered: estimate('x'.repeat(4000)),
      promptTokens: prompt,
    });
    const delivered = estimate('x'.repeat(4000)).tokens;
    expect(delivered).toBe(500);
    expect(bill).toMatchObject({
      inputTokens: 1000,
      outputTokens: delivered,
      inputEstimated: false,
      outputEstimated: true,
      charge: creditsFor(HAIKU, 1000, delivered),
    });
  });

  it('keeps the provider’s output figure on a cut stream when it exceeds the estimate', () => {
    const bill = billFor(HAIKU, {
      finished: false,
      reported: { inputTokens: 10, outputTokens: 900 },
      delivered: estimate('tiny'),
      promptTokens: prompt,
    });
    expect(bill).toMatchObject({ outputTokens: 900, outputEstimated: false });
  });

  it('estimates the input of a stream the provider accepted without reporting it, and charges nothing for one it refused', () => {
    const accepted = billFor(HAIKU, {
      finished: false,
      reported: { inputTokens: null, outputTokens: null },
      delivered: estimate('abcd'),
      promptTokens: prompt,
    });
    expect(accepted).toMatchObject({ inputTokens: 100, inputEstimated: true, outputTokens: 1 });
    const refused = billFor(HAIKU, {
      finished: false,
      reported: { inputTokens: null, outputTokens: null },
      delivered: estimate(),
      promptTokens: prompt,
    });
    expect(refused).toMatchObject({ charge: 0, inputTokens: 0, inputEstimated: false });
  });
});
