// Inverse text normalisation for English finals: spoken numbers become digits ("twenty three" → "23",
// "one hundred and five" → "105", "four one five" → "415"), "percent" after a number becomes "%".
// Conservative: a lone "one" stays a word ("one of them"), as do words it does not know. Other languages
// pass through unchanged.

const UNITS: Record<string, number> = {
  zero: 0, oh: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const SCALES: Record<string, number> = { hundred: 100, thousand: 1_000, million: 1_000_000, billion: 1_000_000_000 };

function isNumberWord(w: string): boolean {
  return w in UNITS || w in TENS || w in SCALES;
}

/** Parses a run of number words; returns the digits string, or undefined when the run should stay words. */
function runToDigits(words: string[]): string | undefined {
  // A sequence of single digits ("four one five") is read digit by digit, as in phone numbers and codes.
  if (words.length >= 2 && words.every((w) => w in UNITS && (UNITS[w] ?? 10) < 10)) return words.map((w) => String(UNITS[w])).join('');
  if (words.length === 1 && (words[0] === 'one' || words[0] === 'oh')) return undefined;
  let total = 0;
  let current = 0;
  let lastKind: 'unit' | 'teen' | 'tens' | 'scale' | undefined;
  for (const w of words) {
    if (w in SCALES) {
      const scale = SCALES[w] ?? 1;
      if (current === 0) current = 1;
      if (scale === 100) current *= 100;
      else {
        total += current * scale;
        current = 0;
      }
      lastKind = 'scale';
    } else if (w in TENS) {
      if (lastKind === 'tens' || lastKind === 'unit' || lastKind === 'teen') return undefined;
      current += TENS[w] ?? 0;
      lastKind = 'tens';
    } else {
      const v = UNITS[w] ?? 0;
      if (lastKind === 'unit' || lastKind === 'teen' || (lastKind === 'tens' && v >= 10)) return undefined;
      current += v;
      lastKind = v >= 10 ? 'teen' : 'unit';
    }
  }
  return String(total + current);
}

export function inverseNormalize(text: string, language: string): string {
  if (language !== 'en') return text;
  const tokens = text.split(/(\s+)/); // keeps the whitespace, so spacing survives
  const out: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const word = tokens[i] ?? '';
    const bare = word.toLowerCase().replace(/[.,!?;:]+$/, '');
    if (!isNumberWord(bare) || bare in SCALES) {
      out.push(word);
      i++;
      continue;
    }
    // Collect a run of number words (and "and" between them), separated by whitespace tokens.
    const run: string[] = [];
    let j = i;
    let end = i;
    let trailing = '';
    while (j < tokens.length) {
      const w = tokens[j] ?? '';
      const b = w.toLowerCase().replace(/[.,!?;:]+$/, '');
      if (isNumberWord(b)) {
        run.push(b);
        end = j;
        trailing = w.slice(b.length);
        if (trailing) break;
      } else if (!(b === 'and' && run.length > 0 && SCALES[run[run.length - 1] ?? ''] !== undefined)) break;
      j += 2; // skip the whitespace token
    }
    const digits = runToDigits(run);
    if (digits === undefined) {
      // An ambiguous run ("twenty twenty", "seven eleven") stays as it was spoken.
      for (let k = i; k <= end; k++) out.push(tokens[k] ?? '');
      i = end + 1;
      continue;
    }
    let next = end + 1;
    let value = digits + trailing;
    const after = tokens[end + 2]?.toLowerCase().replace(/[.,!?;:]+$/, '');
    if (!trailing && (after === 'percent' || after === 'per')) {
      const pct = tokens[end + 2] ?? '';
      if (after === 'percent') {
        value = `${digits}%${pct.slice('percent'.length)}`;
        next = end + 3;
      } else if (tokens[end + 4]?.toLowerCase().startsWith('cent')) {
        value = `${digits}%${(tokens[end + 4] ?? '').slice('cent'.length)}`;
        next = end + 5;
      }
    }
    out.push(value);
    i = next;
  }
  return out.join('');
}
