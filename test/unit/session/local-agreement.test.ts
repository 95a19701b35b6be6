import { describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { type AgreementResult, LocalAgreement, normalizeWord, splitWords } from '../../../src/session/local-agreement.js';
import { Prng } from '../../../src/util/prng.js';

const w = (text: string): string[] => splitWords(text);

/** Pushes each pass and returns [confirmed, tentative, newlyConfirmed] as texts. */
function run(la: LocalAgreement, passes: string[]): [string, string, string][] {
  return passes.map((p) => {
    const r = la.push(w(p));
    return [r.confirmed.join(' '), r.tentative.join(' '), r.newlyConfirmed.join(' ')];
  });
}

describe('LocalAgreement-2 (default)', () => {
  it('the paper-style sequence: the confirmed prefix grows only where two passes agree', () => {
    const la = new LocalAgreement();
    expect(la.n).toBe(2);
    expect(run(la, ['I', 'I think', 'I think we', 'I thank we should', 'I think we should go', 'I think we should go home'])).toEqual([
      ['', 'I', ''], // one pass: nothing to agree with
      ['I', 'think', 'I'],
      ['I think', 'we', 'think'],
      // "thank" disagrees inside the confirmed prefix: ignored; past it both passes say "we"
      ['I think we', 'should', 'we'],
      ['I think we should', 'go', 'should'],
      ['I think we should go', 'home', 'go'],
    ]);
  });

  it('nothing is confirmed while consecutive passes disagree', () => {
    const la = new LocalAgreement();
    expect(run(la, ['hello', 'yellow', 'hollow', 'hello there'])).toEqual([
      ['', 'hello', ''],
      ['', 'yellow', ''],
      ['', 'hollow', ''],
      ['', 'hello there', ''],
    ]);
    // Agreement has to come from consecutive passes: "hello" in passes 1 and 4 is not enough.
    expect(run(la, ['hello there friend'])).toEqual([['hello there', 'friend', 'hello there']]);
  });

  it('confirms only the common prefix, not words that agree after a disagreement', () => {
    const la = new LocalAgreement();
    run(la, ['the cat sat on the mat']);
    expect(run(la, ['the bat sat on the mat'])).toEqual([['the', 'bat sat on the mat', 'the']]);
  });

  it('a shorter pass confirms nothing new and shows no tentative words past its end', () => {
    const la = new LocalAgreement();
    run(la, ['one two three', 'one two three four']);
    expect(la.confirmed).toEqual(['one', 'two', 'three']);
    expect(run(la, ['one two'])).toEqual([['one two three', '', '']]);
    expect(run(la, ['one two three four five'])).toEqual([['one two three', 'four five', '']]);
  });

  it('compares normalised words but emits the latest pass\'s own forms', () => {
    const la = new LocalAgreement();
    la.push(w('hello, World'));
    const r = la.push(w('Hello world. How'));
    expect(r.confirmed).toEqual(['Hello', 'world.']);
    expect(r.newlyConfirmed).toEqual(['Hello', 'world.']);
    expect(r.tentative).toEqual(['How']);
  });

  it('confirmed words keep the form they were confirmed with', () => {
    const la = new LocalAgreement();
    la.push(w('ok so'));
    la.push(w('OK, so'));
    const r = la.push(w('okay so yes'));
    expect(r.confirmed).toEqual(['OK,', 'so']);
  });

  it('drops tokens that are only punctuation, and trims whitespace', () => {
    const la = new LocalAgreement();
    la.push(['well', '-', ' then ', '...']);
    const r = la.push(['Well', '—', 'then', 'go']);
    expect(r.confirmed).toEqual(['Well', 'then']);
    expect(r.tentative).toEqual(['go']);
  });

  it('takes engine words with timings', () => {
    const la = new LocalAgreement();
    la.push([{ word: ' I', start: 0, end: 0.2 }, { word: ' think', start: 0.2, end: 0.5 }]);
    const r = la.push([{ word: ' I', start: 0, end: 0.2 }, { word: ' think', start: 0.2, end: 0.5 }, { word: ' so', start: 0.5, end: 0.7 }]);
    expect(r).toEqual({ confirmed: ['I', 'think'], tentative: ['so'], newlyConfirmed: ['I', 'think'] });
  });

  it('empty passes confirm nothing and do not break a run', () => {
    const la = new LocalAgreement();
    expect(la.push([])).toEqual({ confirmed: [], tentative: [], newlyConfirmed: [] });
    la.push(w('a b'));
    expect(la.push(w('a b c')).confirmed).toEqual(['a', 'b']);
    expect(la.push([])).toEqual({ confirmed: ['a', 'b'], tentative: [], newlyConfirmed: [] });
  });

  it('returned arrays are copies', () => {
    const la = new LocalAgreement();
    la.push(w('a b'));
    const r = la.push(w('a b'));
    r.confirmed.push('x');
    la.confirmed.push('y');
    expect(la.confirmed).toEqual(['a', 'b']);
  });
});

describe('LocalAgreement-n', () => {
  it('n = 1 confirms every pass at once (as far as it does not contradict the confirmed prefix)', () => {
    const la = new LocalAgreement({ n: 1 });
    expect(run(la, ['I', 'I think', 'I thank we'])).toEqual([
      ['I', '', 'I'],
      ['I think', '', 'think'],
      ['I think we', '', 'we'],
    ]);
  });

  it('n = 3 needs three consecutive passes', () => {
    const la = new LocalAgreement({ n: 3 });
    expect(run(la, ['I', 'I think', 'I think we', 'I think we should', 'I think we should', 'I think we could'])).toEqual([
      ['', 'I', ''],
      ['', 'I think', ''],
      ['I', 'think we', 'I'],
      ['I think', 'we should', 'think'],
      ['I think we', 'should', 'we'],
      // "should" was in two of the last three passes only
      ['I think we', 'could', ''],
    ]);
  });

  it('larger n confirms later and never more than smaller n on the same passes', () => {
    const passes = ['so', 'so the', 'so the plan', 'so the plan is', 'so the plan is to', 'so the plan is to go', 'so the plan is to go home', 'so the plan is to go home'];
    const lengths = [1, 2, 3, 4].map((n) => {
      const la = new LocalAgreement({ n });
      return passes.map((p) => la.push(w(p)).confirmed.length);
    });
    for (let i = 1; i < lengths.length; i++) for (let k = 0; k < passes.length; k++) expect(lengths[i]![k]!).toBeLessThanOrEqual(lengths[i - 1]![k]!);
    expect(lengths.map((l) => l.at(-1))).toEqual([7, 7, 6, 5]);
  });

  it('rejects n below 1 and unknown modes', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        new LocalAgreement({ n });
      } catch (err) {
        caught = err;
      }
      expect(isTheoErrorCode(caught, 'invalid_argument')).toBe(true);
    }
    expect(() => new LocalAgreement({ mode: 'off' as never })).toThrow(/mode/);
  });
});

describe('LocalAgreement disabled mode', () => {
  it('passes every hypothesis through as tentative and confirms nothing', () => {
    const la = new LocalAgreement({ mode: 'disabled' });
    expect(run(la, ['I', 'I think', 'I think', 'I thank we'])).toEqual([
      ['', 'I', ''],
      ['', 'I think', ''],
      ['', 'I think', ''],
      ['', 'I thank we', ''],
    ]);
    expect(la.passes).toBe(4);
    expect(la.finalize(w('I think we'))).toEqual({ words: ['I', 'think', 'we'], text: 'I think we', revised: false });
  });
});

describe('LocalAgreement finals', () => {
  it('the final replaces everything and the agreement starts over', () => {
    const la = new LocalAgreement();
    run(la, ['I think', 'I think we']);
    expect(la.passes).toBe(2);
    expect(la.finalize(w('I think we should.'))).toEqual({ words: ['I', 'think', 'we', 'should.'], text: 'I think we should.', revised: false });
    expect(la.confirmed).toEqual([]);
    expect(la.passes).toBe(0);
    // The next utterance does not agree with the last one's passes.
    expect(la.push(w('I think')).confirmed).toEqual([]);
  });

  it('reports when the final revises a confirmed word or drops one', () => {
    const la = new LocalAgreement();
    run(la, ['I think we', 'I think we']);
    expect(la.finalize(w('I thank we')).revised).toBe(true);
    run(la, ['I think we', 'I think we']);
    expect(la.finalize(w('I think')).revised).toBe(true);
    run(la, ['I think we', 'I think we']);
    expect(la.finalize(w('i think, we')).revised).toBe(false);
  });

  it('an empty final is fine', () => {
    const la = new LocalAgreement();
    expect(la.finalize([])).toEqual({ words: [], text: '', revised: false });
  });

  it('reset drops passes and confirmed words', () => {
    const la = new LocalAgreement();
    run(la, ['a b', 'a b c']);
    la.reset();
    expect([la.confirmed, la.passes]).toEqual([[], 0]);
    expect(la.push(w('a b c')).confirmed).toEqual([]);
  });
});

describe('LocalAgreement invariants (seeded random passes)', () => {
  const VOCAB = ['the', 'a', 'call', 'is', 'on', 'hold', 'please', 'wait', 'thank', 'think', 'you', 'we', 'should', 'go'];
  for (const n of [1, 2, 3]) {
    it(`n = ${n}: confirmed never shrinks or changes, partials extend it, newlyConfirmed is the growth`, () => {
      const rng = new Prng(1000 + n);
      for (let utterance = 0; utterance < 50; utterance++) {
        const la = new LocalAgreement({ n });
        const truth = Array.from({ length: 5 + rng.int(15) }, () => VOCAB[rng.int(VOCAB.length)]!);
        let prev: AgreementResult = { confirmed: [], tentative: [], newlyConfirmed: [] };
        for (let heard = 1; heard <= truth.length + 3; heard++) {
          // A pass: the words heard so far, with random substitutions, deletions, odd case and punctuation.
          const pass: string[] = [];
          for (const word of truth.slice(0, heard)) {
            const r = rng.next();
            if (r < 0.1) continue;
            let out = r < 0.2 ? VOCAB[rng.int(VOCAB.length)]! : word;
            if (rng.chance(0.2)) out = out.toUpperCase();
            if (rng.chance(0.2)) out += ',';
            pass.push(out);
          }
          const res = la.push(pass);
          expect(res.confirmed.slice(0, prev.confirmed.length)).toEqual(prev.confirmed);
          expect(res.confirmed).toEqual([...prev.confirmed, ...res.newlyConfirmed]);
          // The partial (confirmed + tentative) starts with everything confirmed before.
          expect([...res.confirmed, ...res.tentative].slice(0, prev.confirmed.length)).toEqual(prev.confirmed);
          // Tentative is the latest pass past the confirmed words.
          expect(res.tentative).toEqual(pass.slice(res.confirmed.length));
          prev = res;
        }
      }
    });
  }
});

describe('LocalAgreement with unicode', () => {
  it('normalises case, composition, width and punctuation across scripts', () => {
    expect(normalizeWord('São')).toBe('são');
    expect(normalizeWord('Sa\u0303o')).toBe('são'); // decomposed tilde
    expect(normalizeWord('ÉCOLE!')).toBe('école');
    expect(normalizeWord('ＡＢＣ')).toBe('abc'); // full-width
    expect(normalizeWord('«Olá»')).toBe('olá');
    expect(normalizeWord('don’t')).toBe(normalizeWord("don't"));
    expect(normalizeWord('zero\u200bwidth')).toBe('zerowidth');
    expect(normalizeWord('你好。')).toBe('你好');
    expect(normalizeWord('¿Qué?')).toBe('qué');
    expect(normalizeWord('...')).toBe('');
  });

  it('agrees on Portuguese with accents as written, keeping the latest forms', () => {
    const la = new LocalAgreement();
    la.push(w('Olá, você está'));
    const r = la.push(w('olá você está bem?'));
    expect(r.confirmed).toEqual(['olá', 'você', 'está']);
    expect(r.tentative).toEqual(['bem?']);
    // Accents are not stripped: "esta" is a different word from "está".
    la.push(w('olá você está esta'));
    expect(la.push(w('olá você está está')).confirmed).toEqual(['olá', 'você', 'está']);
  });

  it('agrees on CJK words and emoji', () => {
    const la = new LocalAgreement();
    la.push(['我们', '今天', '去']);
    const r = la.push(['我们', '今天', '去', '北京。', '🙂']);
    expect(r.confirmed).toEqual(['我们', '今天', '去']);
    expect(r.tentative).toEqual(['北京。', '🙂']);
    la.push(['我们', '今天', '去', '北京', '🙂']);
    expect(la.confirmed).toEqual(['我们', '今天', '去', '北京', '🙂']);
  });

  it('splitWords splits on any whitespace', () => {
    expect(splitWords('  a\tb\n c\u00a0d  ')).toEqual(['a', 'b', 'c', 'd']);
    expect(splitWords('')).toEqual([]);
  });
});
