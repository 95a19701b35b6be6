// A small phonetic key for (Brazilian) Portuguese words, for hot word matching: two spellings that a
// speaker pronounces alike get the same key ("Bradesco" / "bradesko" → "bradesku", "Oliveira" / "olivera"
// → "olivera", "Itaú" / "itau" → "itau"). It is deliberately coarse: it only decides whether two
// spellings may sound the same; the edit distance still decides how close they are.
//
// The rules are data: an ordered table of regular expression → replacement, applied one after another
// to the lower-cased word (accents still on, so "ç" and "ã" can be read), then the accents are removed.
// Order matters: a later rule sees what the earlier ones wrote.

/** One rewrite step of the key: every match of `from` becomes `to`. */
export interface PhoneticRule {
  readonly from: RegExp;
  readonly to: string;
}

/** Vowels, plain and accented, as they appear before the accents are stripped. */
const V = 'aeiouáéíóúâêôãõàü';
const FRONT = 'eiéêíy'; // vowels after which c/g are soft and qu/gu lose their u

export const PORTUGUESE_RULES: readonly PhoneticRule[] = [
  // Silent h, and the digraphs that contain an h.
  { from: /^h/, to: '' }, // hotel → otel
  { from: /ph/g, to: 'f' }, // pharmacia → farmacia
  { from: /ch/g, to: 'x' }, // chave → xave
  { from: /sh/g, to: 'x' }, // show → xow
  { from: /lh/g, to: 'li' }, // filho → filio
  { from: /nh/g, to: 'ni' }, // banho → banio
  { from: /th/g, to: 't' }, // Thiago → tiago
  { from: /h/g, to: '' }, // any other h is silent
  // Sibilants written with c, ç, sc, xc become "ss", so the intervocalic s → z rule below leaves them
  // alone; the doubled-letter rule then makes them one s.
  { from: /ç/g, to: 'ss' }, // serviço → servisso → serviso
  { from: new RegExp(`[xs]c(?=[${FRONT}])`, 'g'), to: 'ss' }, // nascer, exceção → naser, esesaun
  { from: new RegExp(`c(?=[${FRONT}])`, 'g'), to: 'ss' }, // acima → asima
  // Soft g, then qu/gu before e/i, then the remaining hard c and q.
  { from: new RegExp(`g(?=[${FRONT}])`, 'g'), to: 'j' }, // gente → jente
  { from: new RegExp(`qu(?=[${FRONT}])`, 'g'), to: 'k' }, // quero → kero
  { from: new RegExp(`gu(?=[${FRONT}])`, 'g'), to: 'g' }, // guerra → gerra
  { from: /q/g, to: 'k' }, // quando → kuando
  { from: /c/g, to: 'k' }, // casa → kasa
  // Foreign letters and a final x.
  { from: /x$/, to: 'ks' }, // Pix, xerox, tórax → piks
  { from: /w/g, to: 'v' }, // Wagner → vagner
  { from: /y/g, to: 'i' }, // Yara → iara
  // An s between vowels sounds z (before doubles collapse, so "ss" stays s).
  { from: new RegExp(`(?<=[${V}])s(?=[${V}])`, 'g'), to: 'z' }, // casa → kaza
  { from: /z$/, to: 's' }, // feliz → felis
  // Doubled letters sound single: ss, rr, ll, nn, kk (from cc).
  { from: /(\p{L})\1+/gu, to: '$1' },
  // Nasal endings and m before a consonant.
  { from: /ão/g, to: 'aun' }, // não → naun
  { from: /am$/, to: 'aun' }, // falam → falaun
  { from: /õe/g, to: 'oin' }, // limões → limoins
  { from: /ãe/g, to: 'ain' }, // mãe → main
  { from: new RegExp(`m(?=[^${V}]|$)`, 'g'), to: 'n' }, // também → tanben
  // An l that closes a syllable is said as u: Brasil → braziu, alto → auto.
  { from: new RegExp(`l(?=[^${V}]|$)`, 'g'), to: 'u' },
  // Vowel reductions of ordinary speech.
  { from: /ei/g, to: 'e' }, // Oliveira → olivera
  { from: /ou/g, to: 'o' }, // outro → otro
  { from: /e(s?)$/, to: 'i$1' }, // unstressed final e: leite → liti, pontes → pontis
  { from: /o(s?)$/, to: 'u$1' }, // unstressed final o: Bradesco → bradesku
];

/** Strips accents and everything that is not a letter or a digit. */
function stripAccents(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}+/gu, '').replace(/[^\p{L}\p{N}]+/gu, '');
}

/** The phonetic key of one Portuguese word (an empty string when it has no letters or digits). */
export function portugueseKey(word: string, rules: readonly PhoneticRule[] = PORTUGUESE_RULES): string {
  let s = word.normalize('NFC').toLowerCase();
  for (const rule of rules) s = s.replace(rule.from, rule.to);
  return stripAccents(s);
}
