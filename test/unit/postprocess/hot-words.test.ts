import { describe, expect, it } from 'vitest';
import {
  correctHotWords,
  createHotWordStage,
  DEFAULT_HOT_WORD_THRESHOLD,
  MAX_HOT_WORD_LENGTH,
  MAX_HOT_WORDS,
} from '../../../src/postprocess/hot-words.js';
import { portugueseKey } from '../../../src/postprocess/phonetic-pt.js';

type Case = [text: string, hotWords: string[], language: string, expected: string];

// Recognitions that should become the hot word.
const CORRECTED: Case[] = [
  // English
  ['I talked to the o yesterday', ['Theo'], 'en', 'I talked to Theo yesterday'],
  ['call theo now', ['Theo'], 'en', 'call Theo now'],
  ['THEO said hi', ['Theo'], 'en', 'Theo said hi'],
  ['hello, theo.', ['Theo'], 'en', 'hello, Theo.'],
  ['we deploy on cooper netties', ['Kubernetes'], 'en', 'we deploy on Kubernetes'],
  ['the kubernets cluster is down', ['Kubernetes'], 'en', 'the Kubernetes cluster is down'],
  ['we run kubernetes', ['Kubernetes'], 'en', 'we run Kubernetes'],
  // A caller who lists Nubank accepts that "new bank" is read as the bank.
  ['I bank with new bank', ['Nubank'], 'en', 'I bank with Nubank'],
  ['pay with pix', ['PIX'], 'en', 'pay with PIX'],
  ['an appointment with dr oliveira', ['Dr. Oliveira'], 'en', 'an appointment with Dr. Oliveira'],
  ['dr. oliveira, please.', ['Dr. Oliveira'], 'en', 'Dr. Oliveira, please.'],
  ['ask for santanter', ['Santander'], 'en', 'ask for Santander'],
  ['the type script compiler', ['TypeScript'], 'en', 'the TypeScript compiler'],
  ['written in java script', ['JavaScript'], 'en', 'written in JavaScript'],
  ['push it to git hub', ['GitHub'], 'en', 'push it to GitHub'],
  ['the post gress database', ['Postgres'], 'en', 'the Postgres database'],
  ['lunch at mcdonalds', ["McDonald's"], 'en', "lunch at McDonald's"],
  ['I live in sao paulo', ['São Paulo'], 'en', 'I live in São Paulo'],
  ['my name is jon athan', ['Jonathan'], 'en', 'my name is Jonathan'],
  // Portuguese
  ['banco ita u.', ['Itaú'], 'pt', 'banco Itaú.'],
  ['minha conta no bra desco', ['Bradesco'], 'pt-BR', 'minha conta no Bradesco'],
  ['conta no bradesko', ['Bradesco'], 'pt', 'conta no Bradesco'],
  ['faz um pix pra mim', ['PIX'], 'pt', 'faz um PIX pra mim'],
  ['itau', ['Itaú'], 'pt', 'Itaú'],
  ['falei com o tiago ontem', ['Thiago'], 'pt', 'falei com o Thiago ontem'],
  ['cartão nu bank', ['Nubank'], 'pt', 'cartão Nubank'],
  ['conta no banco do brasil', ['Banco do Brasil'], 'pt', 'conta no Banco do Brasil'],
  ['conta no bancodobrasil', ['Banco do Brasil'], 'pt', 'conta no Banco do Brasil'],
  ['comprei no mercadolivre', ['Mercado Livre'], 'pt', 'comprei no Mercado Livre'],
  ['consulta com a dra. olivera', ['Dra. Oliveira'], 'pt', 'consulta com a Dra. Oliveira'],
  ['falei com a olivera', ['Oliveira'], 'pt', 'falei com a Oliveira'],
  ['sou cliente do sicredi', ['Sicredi'], 'pt', 'sou cliente do Sicredi'],
  ['sou cliente do si credi', ['Sicredi'], 'pt', 'sou cliente do Sicredi'],
  // Several hot words in one text; each keeps its own spelling.
  ['the o uses cooper netties and pix', ['Theo', 'Kubernetes', 'PIX'], 'en', 'Theo uses Kubernetes and PIX'],
  ['ita u ou bra desco?', ['Itaú', 'Bradesco'], 'pt', 'Itaú ou Bradesco?'],
];

// Ordinary text that must stay as it is.
const UNCHANGED: Case[] = [
  // English near misses of "Theo"
  ['there is a problem', ['Theo'], 'en', ''],
  ['they went home', ['Theo'], 'en', ''],
  ['then we left', ['Theo'], 'en', ''],
  ['the other one', ['Theo'], 'en', ''],
  ['the theory of everything', ['Theo'], 'en', ''],
  ['theater tickets', ['Theo'], 'en', ''],
  ['a video call', ['Theo'], 'en', ''],
  // Three letters and one edit away: below the threshold, and too short for the phonetic key to help.
  ['teo', ['Theo'], 'en', ''],
  // Already right, possessive kept.
  ["Theo's car", ['Theo'], 'en', ''],
  // "pics" sounds like PIX, but it is an ordinary word and half its letters differ: it stays.
  ['send me the pics', ['PIX'], 'en', ''],
  ['faz um pics', ['PIX'], 'pt', ''],
  ['pick something', ['PIX'], 'en', ''],
  // A window with a function word gets no phonetic leeway: "the door" sounds like Theodore but stays.
  ['open the door', ['Theodore'], 'en', ''],
  // Function words are never replaced by themselves, even when a hot word spells them.
  ['is it on', ['IT'], 'en', ''],
  ['the cat sat', ['The'], 'en', ''],
  ['ele disse que sim', ['SIM'], 'pt', ''],
  ['o que é isso', ['O'], 'pt', ''],
  // Part of a multi-word hot word does not grow into the whole phrase.
  ['falei com oliveira', ['Dr. Oliveira'], 'pt', ''],
  ['abri conta no banco', ['Banco do Brasil'], 'pt', ''],
  // Only whitespace, "-" or the hot word's own punctuation may sit inside a matched window.
  ['bra. desco', ['Bradesco'], 'pt', ''],
  ['ita, u', ['Itaú'], 'pt', ''],
  // Spoken titles are not abbreviations: "doutor" is not "Dr.".
  ['falei com o doutor oliveira', ['Dr. Oliveira'], 'pt', ''],
  // Portuguese near misses
  ['uma pedra no caminho', ['Pedro'], 'pt', ''],
  ['quero fazer um pedido', ['Pedro'], 'pt', ''],
  ['moro em itaúna', ['Itaú'], 'pt', ''],
  ['ita', ['Itaú'], 'pt', ''],
  ['quebrei o braço', ['Bradesco'], 'pt', ''],
  ['vamos ao teatro', ['Theo'], 'pt', ''],
  ['um piquenique', ['PIX'], 'pt', ''],
  ['nu banco', ['Nubank'], 'pt', ''],
  // English near misses of other hot words
  ['I ate some bread', ['Bradesco'], 'en', ''],
  ['I need to cooperate', ['Kubernetes'], 'en', ''],
  ['a new bike', ['Nubank'], 'en', ''],
  ['six pictures', ['PIX'], 'en', ''],
  // Short names and words that share a Double Metaphone key get no phonetic leeway.
  ['Mario called', ['Maria'], 'en', ''],
  ['the sky is clear', ['Claro'], 'en', ''],
  // Other languages: edit distance only, no phonetic leeway.
  ['kuvernetis', ['Kubernetes'], 'fr', ''],
  // Nothing to do.
  ['hello world', [], 'en', ''],
  ['pix', ['', '   '], 'pt', ''],
  ['', ['Theo'], 'en', ''],
  ['   ', ['Theo'], 'en', ''],
  ['?!', ['Theo'], 'en', ''],
];

describe('hot word correction', () => {
  it.each(CORRECTED)('%j with %j (%s) → %j', (text, hotWords, language, expected) => {
    expect(correctHotWords(text, hotWords, language)).toBe(expected);
  });

  it.each(UNCHANGED)('%j with %j (%s) stays', (text, hotWords, language) => {
    expect(correctHotWords(text, hotWords, language)).toBe(text);
  });

  it('has enough cases of both kinds', () => {
    expect(CORRECTED.length).toBeGreaterThanOrEqual(25);
    expect(UNCHANGED.length).toBeGreaterThanOrEqual(25);
  });

  it('keeps everything around a replacement byte for byte', () => {
    const text = '  Olá!\tminha conta no  bra desco…\n\n(ita u)  é ótima. ';
    expect(correctHotWords(text, ['Bradesco', 'Itaú'], 'pt')).toBe('  Olá!\tminha conta no  Bradesco…\n\n(Itaú)  é ótima. ');
  });

  it('replaces with the hot word as spelled, whatever the case of the recognition', () => {
    expect(correctHotWords('PIX ou Pix ou pix', ['PIX'], 'pt')).toBe('PIX ou PIX ou PIX');
    expect(correctHotWords('IPHONE', ['iPhone'], 'en')).toBe('iPhone');
    expect(correctHotWords('itaú', ['ITAÚ'], 'pt')).toBe('ITAÚ');
  });

  it("keeps the hot word's own edge punctuation single", () => {
    expect(correctHotWords('dr. smith is in', ['Dr.'], 'en')).toBe('Dr. smith is in');
    expect(correctHotWords('dr smith is in', ['Dr.'], 'en')).toBe('Dr. smith is in');
  });

  it('normalises an ordinary word that a hot word spells, wherever it appears', () => {
    // Listing an everyday word ("claro" is "of course") re-spells it everywhere: callers list names.
    expect(correctHotWords('claro, pode ser a claro', ['Claro'], 'pt')).toBe('Claro, pode ser a Claro');
  });

  it('prefers the longer hot word when both match exactly', () => {
    expect(correctHotWords('banco do brasil', ['Banco', 'Banco do Brasil'], 'pt')).toBe('Banco do Brasil');
    expect(correctHotWords('banco do brasil', ['Banco do Brasil', 'Banco'], 'pt')).toBe('Banco do Brasil');
  });

  it('prefers the better-scoring window over one that swallows a neighbour', () => {
    expect(correctHotWords('kubernets a lot', ['Kubernetes'], 'en')).toBe('Kubernetes a lot');
    expect(correctHotWords('o bradisco', ['Bradesco'], 'pt')).toBe('o Bradesco');
  });
});

describe('threshold', () => {
  it('defaults to a documented constant', () => {
    expect(DEFAULT_HOT_WORD_THRESHOLD).toBe(0.85);
    expect(correctHotWords('ask for santanter', ['Santander'], 'pt')).toBe('ask for Santander');
  });

  it('a stricter threshold stops a borderline match', () => {
    // similarity 8/9 ≈ 0.89, no shared Portuguese key
    expect(correctHotWords('ask for santanter', ['Santander'], 'pt', { threshold: 0.9 })).toBe('ask for santanter');
    // similarity ≈ 0.54 with a shared Double Metaphone key: enough at 0.85, not at 0.9
    expect(correctHotWords('on cooper netties', ['Kubernetes'], 'en', { threshold: 0.9 })).toBe('on cooper netties');
    // similarity 0.875 with a shared Double Metaphone key: still a match at 0.95, not at 0.97
    expect(correctHotWords('at bradisco', ['Bradesco'], 'en', { threshold: 0.95 })).toBe('at Bradesco');
    expect(correctHotWords('at bradisco', ['Bradesco'], 'en', { threshold: 0.97 })).toBe('at bradisco');
  });

  it('threshold 1 accepts only folded-equal windows (split and merged ones included)', () => {
    const strict = { threshold: 1 };
    expect(correctHotWords('ita u e itau', ['Itaú'], 'pt', strict)).toBe('Itaú e Itaú');
    expect(correctHotWords('conta no bradesko', ['Bradesco'], 'pt', strict)).toBe('conta no bradesko');
  });

  it('a looser threshold lets a farther word through', () => {
    expect(correctHotWords('uma pedra', ['Pedro'], 'pt', { threshold: 0.8 })).toBe('uma Pedro');
  });

  it('treats nonsense thresholds safely', () => {
    expect(correctHotWords('conta no bradesko', ['Bradesco'], 'pt', { threshold: Number.NaN })).toBe('conta no Bradesco');
    // Below 0.5 acts as 0.5; a lone function word is still never replaced.
    expect(correctHotWords('the', ['Theo'], 'en', { threshold: 0 })).toBe('the');
    expect(correctHotWords('a cat or the cot', ['Theo'], 'en', { threshold: 0 })).toBe(
      correctHotWords('a cat or the cot', ['Theo'], 'en', { threshold: 0.5 }),
    );
    expect(correctHotWords('conta no bradesko', ['Bradesco'], 'pt', { threshold: 7 })).toBe('conta no bradesko');
  });

  it('the stage passes its threshold on', () => {
    const stage = createHotWordStage({ threshold: 0.9 });
    expect(stage.name).toBe('hot_words');
    expect(stage.apply('ask for santanter', { language: 'pt', hotWords: ['Santander'] })).toBe('ask for santanter');
    expect(createHotWordStage().apply('ask for santanter', { language: 'pt', hotWords: ['Santander'] })).toBe('ask for Santander');
  });
});

describe('windows', () => {
  it('maxWindowExtra 0 compares only windows of the hot word\'s own length', () => {
    expect(correctHotWords('the o', ['Theo'], 'en', { maxWindowExtra: 0 })).toBe('the o');
    expect(correctHotWords('the o', ['Theo'], 'en', { maxWindowExtra: 1 })).toBe('Theo');
  });

  it('maxWindowExtra 2 finds a recognition split in three', () => {
    expect(correctHotWords('on cu ber netes', ['Kubernetes'], 'en')).toBe('on cu ber netes');
    expect(correctHotWords('on cu ber netes', ['Kubernetes'], 'en', { maxWindowExtra: 2 })).toBe('on Kubernetes');
  });

  it('multi-word hot words match split, merged and misspelt recognitions', () => {
    expect(correctHotWords('o são paulo futebol clube', ['São Paulo Futebol Clube'], 'pt')).toBe('o São Paulo Futebol Clube');
    expect(correctHotWords('o sao paulo futibol clube', ['São Paulo Futebol Clube'], 'pt')).toBe('o São Paulo Futebol Clube');
    expect(correctHotWords('a caixa econômica federal', ['Caixa Econômica Federal'], 'pt')).toBe('a Caixa Econômica Federal');
    expect(correctHotWords('a caixa economica', ['Caixa Econômica Federal'], 'pt')).toBe('a caixa economica');
  });
});

describe('hot word list hygiene', () => {
  it('ignores blank and duplicate hot words; the first spelling wins', () => {
    expect(correctHotWords('itau', ['', ' ', 'Itaú', 'ITAU'], 'pt')).toBe('Itaú');
    expect(correctHotWords('itau', ['  Itaú  '], 'pt')).toBe('Itaú');
  });

  it('ignores hot words that are too long, and those beyond the limit', () => {
    const long = 'x'.repeat(MAX_HOT_WORD_LENGTH + 1);
    expect(correctHotWords(long, [long], 'en')).toBe(long);
    const many = Array.from({ length: MAX_HOT_WORDS }, (_, i) => `Filler${i}word`);
    expect(correctHotWords('call theo', [...many, 'Theo'], 'en')).toBe('call theo');
    expect(correctHotWords('call theo', ['Theo', ...many], 'en')).toBe('call Theo');
  });

  it('ignores hot words without letters or digits and non-strings', () => {
    expect(correctHotWords('a -- b', ['--', '!!!'], 'en')).toBe('a -- b');
    expect(correctHotWords('call theo', [42, null, 'Theo'] as unknown as string[], 'en')).toBe('call Theo');
  });

  it('handles thousands of hot words quickly enough', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `Product${i}`);
    const text = 'please open a ticket for product forty two and product 42 and the o today '.repeat(4);
    const t0 = performance.now();
    const out = correctHotWords(text, [...many, 'Theo'], 'en');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(out).toContain('Product42');
  });
});

describe('Portuguese phonetic key', () => {
  it.each([
    ['Bradesco', 'bradesko'],
    ['Oliveira', 'olivera'],
    ['Itaú', 'itau'],
    ['Thiago', 'tiago'],
    ['nascer', 'nasser'],
    ['cassa', 'caça'],
    ['guerra', 'guera'],
    ['quero', 'kero'],
    ['chave', 'xavi'],
    ['filho', 'filio'],
    ['Brasil', 'brasiu'],
    ['hotel', 'otel'],
    ['Wagner', 'vagner'],
    ['feliz', 'felis'],
    ['também', 'tanbem'],
  ])('%s sounds like %s', (a, b) => {
    expect(portugueseKey(a)).toBe(portugueseKey(b));
  });

  it.each([
    ['casa', 'cassa'],
    ['pedra', 'pedro'],
    ['gato', 'jato'],
  ])('%s does not sound like %s', (a, b) => {
    expect(portugueseKey(a)).not.toBe(portugueseKey(b));
  });

  it('never throws and keeps only letters and digits', () => {
    expect(portugueseKey('')).toBe('');
    expect(portugueseKey('!?')).toBe('');
    expect(portugueseKey('\ud800x')).toMatch(/^[\p{L}\p{N}]*$/u);
  });
});
