// Table-driven ITN + entity corpora: test/fixtures/itn/<lang>.tsv, one case a line (spoken<TAB>expected).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inverseNormalize } from '../../../src/postprocess/itn.js';

function loadCorpus(file: string): [string, string][] {
  const text = readFileSync(new URL(`../../fixtures/itn/${file}`, import.meta.url), 'utf8');
  const cases: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const parts = line.split('\t');
    if (parts.length !== 2) throw new Error(`${file}: not spoken<TAB>expected: ${JSON.stringify(line)}`);
    cases.push([parts[0]!, parts[1]!]);
  }
  return cases;
}

const corpora = [
  { file: 'pt-br.tsv', language: 'pt-BR', minimum: 340 },
  { file: 'en.tsv', language: 'en', minimum: 240 },
];

for (const { file, language, minimum } of corpora) {
  const cases = loadCorpus(file);
  describe(`ITN corpus ${file}`, () => {
    it(`has at least ${minimum} cases`, () => {
      expect(cases.length).toBeGreaterThanOrEqual(minimum);
    });
    it.each(cases)('%j → %j', (spoken, written) => {
      expect(inverseNormalize(spoken, language)).toBe(written);
    });
    it('leaves every written form as it is (idempotent)', () => {
      for (const [, written] of cases) expect(inverseNormalize(written, language), written).toBe(written);
    });
  });
}
