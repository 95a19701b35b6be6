// Property test: a number spelled out the way people say it comes back whole, in digits, for random
// numbers and the usual ways of joining their parts ("one hundred and twelve thousand", "mil duzentos e
// trinta"). A number is written whole or not at all: never part digits, part words.
import { describe, expect, it } from 'vitest';
import { inverseNormalize } from '../../../src/postprocess/itn.js';
import { groupThousands } from '../../../src/postprocess/itn/format.js';
import { Prng } from '../../../src/util/prng.js';

const EN_UNITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen',
  'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const EN_TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const EN_SCALES: [number, string][] = [[1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']];

/** 1–999 in English; "and" after "hundred" when the speaker says it. */
function enBelow1000(n: number, and: boolean): string {
  const h = Math.floor(n / 100);
  const r = n % 100;
  const parts: string[] = [];
  if (h > 0) parts.push(`${EN_UNITS[h]} hundred`);
  if (r > 0) {
    if (h > 0 && and) parts.push('and');
    parts.push(r < 20 ? EN_UNITS[r]! : `${EN_TENS[Math.floor(r / 10)]}${r % 10 > 0 ? ` ${EN_UNITS[r % 10]}` : ''}`);
  }
  return parts.join(' ');
}

function spellEn(n: number, r: Prng): string {
  const parts: string[] = [];
  let rest = n;
  for (const [value, word] of EN_SCALES) {
    const g = Math.floor(rest / value);
    if (g > 0) parts.push(`${enBelow1000(g, r.chance(0.5))} ${word}`);
    rest %= value;
  }
  if (rest > 0) parts.push(`${parts.length > 0 && rest < 100 && r.chance(0.5) ? 'and ' : ''}${enBelow1000(rest, r.chance(0.5))}`);
  const spoken = parts.join(' ');
  // "a hundred and twelve thousand": the article for a leading one (alone with its scale word it stays words).
  return spoken.startsWith('one ') && spoken.split(' ').length > 2 && r.chance(0.3) ? `a ${spoken.slice(4)}` : spoken;
}

const PT_UNITS = ['zero', 'um', 'dois', 'três', 'quatro', 'cinco', 'seis', 'sete', 'oito', 'nove', 'dez', 'onze', 'doze', 'treze', 'catorze',
  'quinze', 'dezesseis', 'dezessete', 'dezoito', 'dezenove'];
const PT_TENS = ['', '', 'vinte', 'trinta', 'quarenta', 'cinquenta', 'sessenta', 'setenta', 'oitenta', 'noventa'];
const PT_HUNDREDS = ['', 'cento', 'duzentos', 'trezentos', 'quatrocentos', 'quinhentos', 'seiscentos', 'setecentos', 'oitocentos', 'novecentos'];

function ptBelow1000(n: number): string {
  if (n === 100) return 'cem';
  const h = Math.floor(n / 100);
  const r = n % 100;
  const parts: string[] = [];
  if (h > 0) parts.push(PT_HUNDREDS[h]!);
  if (r > 0) parts.push(r < 20 ? PT_UNITS[r]! : `${PT_TENS[Math.floor(r / 10)]}${r % 10 > 0 ? ` e ${PT_UNITS[r % 10]}` : ''}`);
  return parts.join(' e ');
}

/** Portuguese joins a last group with "e" when it is below 100 or a round hundred ("mil e quinhentos", "mil duzentos e dez"). */
function spellPt(n: number): string {
  const groups: string[] = [];
  const m = Math.floor(n / 1e6);
  const th = Math.floor(n / 1000) % 1000;
  const rest = n % 1000;
  if (m > 0) groups.push(m === 1 ? 'um milhão' : `${ptBelow1000(m)} milhões`);
  if (th > 0) groups.push(th === 1 ? 'mil' : `${ptBelow1000(th)} mil`);
  if (rest > 0) groups.push(ptBelow1000(rest));
  const last = n % 1e6 === 0 || n % 1000 === 0 ? (th > 0 ? th : rest) : rest;
  const round = last < 100 || last % 100 === 0;
  if (groups.length === 1) return groups[0]!;
  return `${groups.slice(0, -1).join(' ')}${round ? ' e ' : ' '}${groups[groups.length - 1]}`;
}

/** Random numbers of every size, from two digits to nine. */
function randomNumber(r: Prng): number {
  const digits = 2 + r.int(8);
  return Math.max(2, r.int(10 ** digits));
}

describe('spelled numbers come back whole', () => {
  it('English', () => {
    const r = new Prng(2024);
    for (let k = 0; k < 3000; k++) {
      const n = randomNumber(r);
      const spoken = spellEn(n, r);
      expect(inverseNormalize(spoken, 'en'), spoken).toBe(groupThousands(n, ','));
    }
  });

  it('Brazilian Portuguese', () => {
    const r = new Prng(2025);
    for (let k = 0; k < 3000; k++) {
      const n = randomNumber(r);
      const spoken = spellPt(n);
      expect(inverseNormalize(spoken, 'pt-BR'), spoken).toBe(groupThousands(n, '.'));
    }
  });
});
