// Real English speech with transcripts for recogniser tests: the prompts of Debian's
// asterisk-core-sounds-en-wav (8 kHz 16-bit WAV, Allison's voice) joined with the `name: text` lines of
// asterisk-core-sounds-en's core-sounds-en.txt.gz, plus the text normaliser and word error rate used to
// score hypotheses against them.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { resample } from '../../src/audio/resample.js';
import { readWavFloat } from '../../src/audio/wav.js';

export const PROMPTS_DIR = '/usr/share/asterisk/sounds/en_US_f_Allison';
export const TRANSCRIPTS_FILE = '/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz';

export interface Prompt {
  /** Name as in the transcript file: the path under PROMPTS_DIR without ".wav" ("digits/1"). */
  name: string;
  path: string;
  /** The transcript as written ("Please press 1 ..."). */
  text: string;
}

/** Whether both Debian packages are installed (tests skip without them). */
export function corpusAvailable(): boolean {
  return existsSync(PROMPTS_DIR) && existsSync(TRANSCRIPTS_FILE);
}

/**
 * Parses core-sounds-en.txt: `name: text` lines; `;` starts a comment. Lines whose whole text is in
 * brackets or parentheses describe a sound, not speech ("[ascending tones]", "(1 second of silence)") and
 * are skipped; an inline bracket ("at [@]") is dropped from the text.
 */
export function parseTranscripts(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rawLine of source.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith(';')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const text = line.slice(colon + 1).trim();
    if (/^\[.*\]$/.test(text) || /^\(.*\)$/.test(text)) continue;
    const spoken = text.replace(/\[[^\]]*\]/g, ' ').replace(/\s+/g, ' ').trim();
    if (spoken !== '') out.set(name, spoken);
  }
  return out;
}

export function readTranscripts(file = TRANSCRIPTS_FILE): Map<string, string> {
  return parseTranscripts(gunzipSync(readFileSync(file)).toString('utf8'));
}

function listWavs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listWavs(p));
    else if (entry.isFile() && entry.name.endsWith('.wav')) out.push(p);
  }
  return out;
}

/** Every prompt that has both a WAV file and a spoken transcript, sorted by name. */
export function listPrompts(dir = PROMPTS_DIR, transcripts = readTranscripts()): Prompt[] {
  const prompts: Prompt[] = [];
  for (const path of listWavs(dir)) {
    const name = relative(dir, path).replace(/\.wav$/, '');
    const text = transcripts.get(name);
    if (text !== undefined) prompts.push({ name, path, text });
  }
  return prompts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A prompt's mono audio as float, resampled to `rate` (16 kHz by default) with src/audio/resample.ts. */
export function readPromptAudio(path: string, rate = 16000): Float32Array {
  const wav = readWavFloat(readFileSync(path));
  if (wav.channels !== 1) throw new Error(`${path}: expected mono, got ${wav.channels} channels`);
  return wav.sampleRate === rate ? wav.samples : resample(wav.samples, wav.sampleRate, rate);
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** English words for 0..999999 ("1234" → "one thousand two hundred thirty four"). */
export function numberToWords(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`numberToWords: ${n} is out of range`);
  if (n < 20) return ONES[n] as string;
  if (n < 100) return `${TENS[Math.floor(n / 10)] as string}${n % 10 ? ` ${ONES[n % 10] as string}` : ''}`;
  if (n < 1000) return `${ONES[Math.floor(n / 100)] as string} hundred${n % 100 ? ` ${numberToWords(n % 100)}` : ''}`;
  return `${numberToWords(Math.floor(n / 1000))} thousand${n % 1000 ? ` ${numberToWords(n % 1000)}` : ''}`;
}

/**
 * Text for WER: lowercase; digits spelled out the way a recogniser writes them ("28.8" → "twenty eight
 * point eight", "3D" → "three d"); apostrophes inside words kept ("you'd"), other punctuation and hyphens
 * become spaces; whitespace collapsed.
 */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .replace(/(\d+)\.(\d+)/g, (_m, a: string, b: string) => ` ${numberToWords(Number(a))} point ${[...b].map((d) => ONES[Number(d)]).join(' ')} `)
    .replace(/\d+/g, (m) => ` ${m.length > 6 ? [...m].map((d) => ONES[Number(d)]).join(' ') : numberToWords(Number(m))} `)
    .replace(/[^a-z0-9' ]+/g, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function words(text: string): string[] {
  const n = normalizeText(text);
  return n === '' ? [] : n.split(' ');
}

/** Word-level Levenshtein distance between two normalised texts, and the reference length. */
export function wordErrors(ref: string, hyp: string): { errors: number; refWords: number } {
  const r = words(ref);
  const h = words(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) {
      const sub = (prev[j - 1] as number) + (r[i - 1] === h[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1);
    }
    prev = cur;
  }
  return { errors: prev[h.length] as number, refWords: r.length };
}

/** (substitutions + deletions + insertions) / reference words, after normalizeText. An empty reference scores 0 for an empty hypothesis, else 1. */
export function wordErrorRate(ref: string, hyp: string): number {
  const { errors, refWords } = wordErrors(ref, hyp);
  if (refWords === 0) return errors === 0 ? 0 : 1;
  return errors / refWords;
}
