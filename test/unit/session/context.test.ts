import { describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { DEFAULT_CONTEXT_TOKENS, LONG_RUN_TOKENS, SegmentContext, approxTokenCount, defaultGlossary } from '../../../src/session/context.js';
import { Prng } from '../../../src/util/prng.js';

/** `n` distinct one-token words: w0 w1 ... (each at most 4 bytes while n <= 1000). */
const oneTokenWords = (n: number, prefix = 'w'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const wordCount = (text: string): number => text.split(/\s+/).filter(Boolean).length;

describe('approxTokenCount (the default counter)', () => {
  it('counts ceil(UTF-8 bytes / 4) per whitespace word, at least one per word', () => {
    expect(approxTokenCount('')).toBe(0);
    expect(approxTokenCount('   \n\t ')).toBe(0);
    expect(approxTokenCount('a')).toBe(1);
    expect(approxTokenCount('the')).toBe(1);
    expect(approxTokenCount('four')).toBe(1);
    expect(approxTokenCount('hello')).toBe(2);
    expect(approxTokenCount('transcription')).toBe(4);
    expect(approxTokenCount('the cat sat')).toBe(3);
    expect(approxTokenCount('  the \t cat\nsat  ')).toBe(3);
    expect(approxTokenCount('a\u00a0b\u3000c')).toBe(3); // no-break and ideographic spaces separate words
  });

  it('counts multi-byte characters by their UTF-8 size', () => {
    expect(approxTokenCount('está')).toBe(2); // 5 bytes
    expect(approxTokenCount('São Paulo')).toBe(3); // 4 + 5 bytes
    expect(approxTokenCount('привет')).toBe(3); // 12 bytes
    expect(approxTokenCount('你好')).toBe(2); // 6 bytes
    expect(approxTokenCount('🙂')).toBe(1); // 4 bytes (a surrogate pair)
    expect(approxTokenCount('🙂🙂')).toBe(2);
    // A lone surrogate is U+FFFD in UTF-8 (3 bytes), and never swallows the space after it.
    expect(approxTokenCount('\ud83d')).toBe(1);
    expect(approxTokenCount('\ud83d abcd')).toBe(2);
    expect(approxTokenCount('ab\udc00')).toBe(2);
  });

  it('is additive over words, so a suffix never counts more than the whole', () => {
    const rng = new Prng(5);
    const pool = ['a', 'call', 'está', '你好', '🙂', 'transcription', 'ok,', 'x\ud83d', '\udc00y'];
    for (let k = 0; k < 200; k++) {
      const ws = Array.from({ length: 1 + rng.int(30) }, () => pool[rng.int(pool.length)]!);
      expect(approxTokenCount(ws.join(' '))).toBe(ws.reduce((s, w) => s + approxTokenCount(w), 0));
    }
  });
});

describe('segment context: the budget', () => {
  it('defaults to 224 tokens; keeps exactly 224 and drops the oldest word at 225', () => {
    const ctx = new SegmentContext();
    expect(ctx.maxTokens).toBe(DEFAULT_CONTEXT_TOKENS);
    expect(DEFAULT_CONTEXT_TOKENS).toBe(224);
    const ws = oneTokenWords(225);
    ctx.addFinal(ws.slice(0, 224).join(' '));
    expect(ctx.prompt()).toBe(ws.slice(0, 224).join(' '));
    expect(approxTokenCount(ctx.prompt())).toBe(224);
    ctx.addFinal(ws[224]!);
    expect(ctx.prompt()).toBe(ws.slice(1).join(' '));
    expect(approxTokenCount(ctx.prompt())).toBe(224);
  });

  it('drops the oldest context first, across finals, joined by single spaces', () => {
    const ctx = new SegmentContext({ maxTokens: 5 });
    ctx.addFinal('one two');
    ctx.addFinal('  six\tfour  ');
    expect(ctx.prompt()).toBe('one two six four');
    ctx.addFinal('five ten');
    expect(ctx.prompt()).toBe('two six four five ten');
    ctx.addFinal('a b c');
    expect(ctx.prompt()).toBe('five ten a b c');
  });

  it('fills to the budget, never past it, when words cost more than one token', () => {
    const ctx = new SegmentContext({ maxTokens: 10 });
    ctx.addFinal('transcription is hard'); // 4 + 1 + 1
    ctx.addFinal('recognition works'); // 3 + 2
    // 11 in all: "transcription" goes, leaving 7 (a 4-token word cannot be kept in part).
    expect(ctx.prompt()).toBe('is hard recognition works');
    expect(approxTokenCount(ctx.prompt())).toBe(7);
  });

  it('truncates a very long single final from the front at a word border', () => {
    const rng = new Prng(9);
    const pool = ['we', 'should', 'call', 'the', 'customer', 'tomorrow', 'about', 'their', 'account', 'balance,'];
    const ws = Array.from({ length: 3000 }, () => pool[rng.int(pool.length)]!);
    const ctx = new SegmentContext();
    ctx.addFinal(ws.join(' '));
    const p = ctx.prompt();
    const kept = p.split(' ');
    expect(ws.slice(ws.length - kept.length)).toEqual(kept); // whole words, the newest ones
    expect(approxTokenCount(p)).toBeLessThanOrEqual(224);
    // One more word from the front would not have fitted.
    expect(approxTokenCount([ws[ws.length - kept.length - 1]!, ...kept].join(' '))).toBeGreaterThan(224);
  });

  it('matches a plain linear reference on random finals (seeded)', () => {
    const rng = new Prng(77);
    const pool = ['a', 'hello', 'transcription', 'está', 'ok', 'billing', 'x', 'telephony'];
    for (const budget of [1, 3, 17, 50, 224]) {
      const ctx = new SegmentContext({ maxTokens: budget });
      const all: string[] = [];
      for (let f = 0; f < 60; f++) {
        const final = Array.from({ length: rng.int(12) }, () => pool[rng.int(pool.length)]!);
        ctx.addFinal(final.join(' '));
        all.push(...final);
        let i = 0;
        while (i < all.length && approxTokenCount(all.slice(i).join(' ')) > budget) i++;
        expect(ctx.prompt()).toBe(all.slice(i).join(' '));
      }
    }
  });

  it('gives the same prompts with the default counter (summed per word) as with the same counter used generally', () => {
    const rng = new Prng(91);
    const pool = ['a', 'hello', 'está', '你好', '🙂', 'x\ud83d', '東京都渋谷区神南一丁目の交差点で待ち合わせをしましょう', 'transcription', 'ok,'];
    for (const budget of [0, 1, 2, 5, 17, 40, 224]) {
      const fast = new SegmentContext({ maxTokens: budget });
      const general = new SegmentContext({ maxTokens: budget, tokenCounter: (t) => approxTokenCount(t) });
      for (let f = 0; f < 40; f++) {
        if (f % 13 === 5) {
          const hot = Array.from({ length: rng.int(6) }, () => pool[rng.int(pool.length)]!);
          fast.setHotWords(hot);
          general.setHotWords(hot);
        }
        const final = Array.from({ length: rng.int(10) }, () => pool[rng.int(pool.length)]!).join(' ');
        fast.addFinal(final);
        general.addFinal(final);
        expect(fast.prompt(), `budget ${budget}, final ${f}`).toBe(general.prompt());
      }
    }
  });

  it('maxTokens 0 gives no prompt at all, glossary included', () => {
    const ctx = new SegmentContext({ maxTokens: 0 });
    ctx.setHotWords(['Theo']);
    ctx.addFinal('hello there');
    expect(ctx.prompt()).toBe('');
  });

  it('rejects a negative or fractional budget', () => {
    for (const maxTokens of [-1, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        new SegmentContext({ maxTokens });
      } catch (err) {
        caught = err;
      }
      expect(isTheoErrorCode(caught, 'invalid_argument')).toBe(true);
    }
  });
});

describe('segment context: hot words', () => {
  it('leads the prompt with a glossary that counts toward the budget; the oldest context goes first', () => {
    const ctx = new SegmentContext({ maxTokens: 12 });
    ctx.addFinal(oneTokenWords(12).join(' '));
    expect(ctx.prompt()).toBe(oneTokenWords(12).join(' '));
    ctx.setHotWords(['Theo', 'ARI']);
    // "Glossary: Theo, ARI." = 3 + 2 + 1 tokens: 6 words of context are left.
    expect(approxTokenCount(defaultGlossary(['Theo', 'ARI']))).toBe(6);
    expect(ctx.prompt()).toBe(`Glossary: Theo, ARI. ${oneTokenWords(12).slice(6).join(' ')}`);
    expect(approxTokenCount(ctx.prompt())).toBe(12);
  });

  it('deduplicates hot words (case, width, spacing), drops empty ones, keeps the first spelling and order', () => {
    const ctx = new SegmentContext();
    ctx.setHotWords(['Theo', 'theo', '  THEO ', '', '   ', 'Asterisk   PBX', 'asterisk pbx', 'ＡＲＩ', 'ARI', 'drachtio']);
    expect(ctx.hotWords()).toEqual(['Theo', 'Asterisk PBX', 'ＡＲＩ', 'drachtio']);
    expect(ctx.prompt()).toBe('Glossary: Theo, Asterisk PBX, ＡＲＩ, drachtio.');
  });

  it('setHotWords replaces the list; an empty list removes the glossary', () => {
    const ctx = new SegmentContext();
    ctx.addFinal('hello');
    ctx.setHotWords(['a', 'b']);
    expect(ctx.prompt()).toBe('Glossary: a, b. hello');
    ctx.setHotWords(['c']);
    expect(ctx.prompt()).toBe('Glossary: c. hello');
    ctx.setHotWords([]);
    expect(ctx.prompt()).toBe('hello');
    expect(ctx.hotWords()).toEqual([]);
  });

  it('keeps hot words over context; when even they do not all fit, the first ones that do', () => {
    const ctx = new SegmentContext({ maxTokens: 6 });
    ctx.addFinal('some earlier context');
    ctx.setHotWords(['alpha', 'beta', 'gamma', 'delta']);
    // "Glossary: alpha, beta." is 3 + 2 + 2 = 7 > 6; "Glossary: alpha." is 3 + 2 = 5.
    expect(ctx.prompt()).toBe('Glossary: alpha.');
    expect(ctx.hotWords()).toEqual(['alpha', 'beta', 'gamma', 'delta']);
    const tiny = new SegmentContext({ maxTokens: 2 });
    tiny.setHotWords(['alpha']);
    tiny.addFinal('hi');
    expect(tiny.prompt()).toBe('hi'); // no glossary fits: the context still does
  });

  it('for engines that bias natively, hot words stay out of the prompt and come back on their own', () => {
    const ctx = new SegmentContext({ maxTokens: 4, hotWordsInPrompt: false });
    ctx.setHotWords(['Theo', 'theo', 'ARI']);
    ctx.addFinal('one two six four five');
    expect(ctx.prompt()).toBe('two six four five');
    expect(ctx.hotWords()).toEqual(['Theo', 'ARI']);
  });

  it('takes a custom glossary format', () => {
    const ctx = new SegmentContext({ glossary: (ws) => `Terms: ${ws.join('; ')}` });
    ctx.setHotWords(['a', 'b']);
    ctx.addFinal('text');
    expect(ctx.prompt()).toBe('Terms: a; b text');
  });

  it('hotWords() returns a copy', () => {
    const ctx = new SegmentContext();
    ctx.setHotWords(['a']);
    ctx.hotWords().push('b');
    expect(ctx.hotWords()).toEqual(['a']);
  });
});

describe('segment context: input and lifecycle', () => {
  it('starts empty; empty and blank finals change nothing', () => {
    const ctx = new SegmentContext();
    expect(ctx.prompt()).toBe('');
    ctx.addFinal('');
    ctx.addFinal(' \n\t ');
    expect(ctx.prompt()).toBe('');
    ctx.addFinal('hi');
    ctx.addFinal('   ');
    expect(ctx.prompt()).toBe('hi');
  });

  it('reset forgets the context and keeps the hot words', () => {
    const ctx = new SegmentContext();
    ctx.setHotWords(['Theo']);
    ctx.addFinal('hello there');
    expect(ctx.prompt()).toBe('Glossary: Theo. hello there');
    ctx.reset();
    expect(ctx.prompt()).toBe('Glossary: Theo.');
    ctx.addFinal('again');
    expect(ctx.prompt()).toBe('Glossary: Theo. again');
  });

  it('uses an injected counter, or a tokenizer with encode()', () => {
    const byWords = new SegmentContext({ maxTokens: 3, tokenCounter: wordCount });
    byWords.addFinal('supercalifragilistic words are counted as one each');
    expect(byWords.prompt()).toBe('as one each');
    const encoder = new SegmentContext({ maxTokens: 10, tokenCounter: { encode: (t) => Array.from(t.replace(/\s/g, ''), () => 0) } }); // one token per non-space char
    encoder.addFinal('abc defg hij');
    expect(encoder.prompt()).toBe('abc defg hij');
    encoder.addFinal('k');
    expect(encoder.prompt()).toBe('defg hij k');
  });

  it('stays within budget with a counter that is not additive (a real tokenizer merges across words)', () => {
    let calls = 0;
    // Costs one token per word plus one per pair of adjacent short words (a made-up, monotone merge rule).
    const counter = (t: string): number => {
      calls++;
      const ws = t.split(' ').filter(Boolean);
      let n = ws.length;
      for (let i = 1; i < ws.length; i++) if (ws[i]!.length + ws[i - 1]!.length < 5) n++;
      return n;
    };
    const ctx = new SegmentContext({ maxTokens: 20, tokenCounter: counter });
    for (let k = 0; k < 50; k++) ctx.addFinal('a bb ccc dddd eeeee');
    expect(counter(ctx.prompt())).toBeLessThanOrEqual(20);
    expect(counter(`eeeee ${ctx.prompt()}`)).toBeGreaterThan(20);
    expect(calls).toBeLessThan(50 * 20); // binary search, not a scan per word
  });

  it('caches the prompt until something changes', () => {
    let calls = 0;
    const ctx = new SegmentContext({
      tokenCounter: (t) => {
        calls++;
        return approxTokenCount(t);
      },
    });
    ctx.addFinal('hello world');
    ctx.prompt();
    const before = calls;
    for (let i = 0; i < 10; i++) ctx.prompt();
    expect(calls).toBe(before);
    ctx.setHotWords(['x']);
    expect(ctx.prompt()).toBe('Glossary: x. hello world');
  });
});

describe('segment context: unicode', () => {
  it('keeps accented words whole, counting their bytes', () => {
    const ctx = new SegmentContext({ maxTokens: 6 });
    ctx.addFinal('Olá, você está bem?'); // 2 + 2 + 2 + 1
    expect(ctx.prompt()).toBe('você está bem?');
    ctx.addFinal('São'); // 4 bytes: 1
    expect(ctx.prompt()).toBe('você está bem? São');
    ctx.addFinal('ação'); // 6 bytes: 2
    expect(ctx.prompt()).toBe('está bem? São ação');
  });

  it('cuts a long run of text without spaces at a grapheme border, keeping its end', () => {
    const run = '我们今天去北京看看天安门然后吃烤鸭'.repeat(20); // 340 characters, 1020 bytes, one "word"
    expect(approxTokenCount(run)).toBeGreaterThan(LONG_RUN_TOKENS);
    const ctx = new SegmentContext({ maxTokens: 30 });
    ctx.addFinal(run);
    const p = ctx.prompt();
    expect(run.endsWith(p)).toBe(true);
    expect(approxTokenCount(p)).toBeLessThanOrEqual(30);
    expect(p.length).toBe(40); // 120 bytes = 30 tokens
    // A glossary takes its share; the run's end fills what is left.
    ctx.setHotWords(['北京']);
    const g = ctx.prompt();
    expect(g.startsWith('Glossary: 北京. ')).toBe(true);
    expect(run.endsWith(g.slice('Glossary: 北京. '.length))).toBe(true);
    expect(approxTokenCount(g)).toBeLessThanOrEqual(30);
    expect(approxTokenCount(g)).toBeGreaterThanOrEqual(29);
  });

  it('fills the room before the kept words with the end of a long run', () => {
    const ctx = new SegmentContext({ maxTokens: 20 });
    ctx.addFinal('你好'.repeat(30)); // 180 bytes: a long run
    ctx.addFinal('ok then');
    const p = ctx.prompt();
    expect(p.endsWith(' ok then')).toBe(true);
    expect(approxTokenCount(p)).toBe(20);
    expect('你好'.repeat(30).endsWith(p.slice(0, -' ok then'.length))).toBe(true);
  });

  it('never splits a grapheme (emoji sequences, combining marks)', () => {
    const family = '👨‍👩‍👧‍👦'; // one grapheme, 25 bytes
    const ctx = new SegmentContext({ maxTokens: 20 });
    ctx.addFinal(family.repeat(10));
    const p = ctx.prompt();
    expect(p.length % family.length).toBe(0);
    expect(p.length).toBeGreaterThan(0);
    const accents = new SegmentContext({ maxTokens: 17 });
    accents.addFinal('e\u0301'.repeat(40)); // 120 bytes of decomposed é
    expect(accents.prompt().startsWith('e')).toBe(true);
  });

  it('a normal spaced word is never cut, however short the room', () => {
    const ctx = new SegmentContext({ maxTokens: 3 });
    ctx.addFinal('internationalization'); // 20 bytes = 5 tokens, below LONG_RUN_TOKENS
    expect(ctx.prompt()).toBe('');
  });
});
