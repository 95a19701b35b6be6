// Writing numbers: thousands grouping and digit masks ("(##) #####-####").

/** "2500" with '.' → "2.500". Numbers below 1000 are written as they are. */
export function groupThousands(n: number, sep: string): string {
  const s = String(Math.trunc(n));
  if (s.length <= 3) return s;
  let out = '';
  for (let k = 0; k < s.length; k++) {
    if (k > 0 && (s.length - k) % 3 === 0) out += sep;
    out += s[k] ?? '';
  }
  return out;
}

/**
 * Fills a mask's '#' with the digits in order; a digit in the mask must be that digit ('1-###-###-####').
 * Undefined when the digits do not fit.
 */
export function applyMask(digits: string, mask: string): string | undefined {
  let count = 0;
  for (const c of mask) if (c === '#' || (c >= '0' && c <= '9')) count++;
  if (count !== digits.length) return undefined;
  let k = 0;
  let out = '';
  for (const c of mask) {
    if (c === '#') out += digits[k++] ?? '';
    else if (c >= '0' && c <= '9') {
      if (digits[k++] !== c) return undefined;
      out += c;
    } else out += c;
  }
  return out;
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
