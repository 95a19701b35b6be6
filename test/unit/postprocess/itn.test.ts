import { describe, expect, it } from 'vitest';
import { inverseNormalize } from '../../../src/postprocess/itn.js';

describe('inverse text normalisation (English)', () => {
  it.each([
    ['twenty three', '23'],
    ['one hundred and five', '105'],
    ['two thousand twenty four', '2024'],
    ['three million', '3000000'],
    ['my number is four one five five five', 'my number is 41555'],
    ['press nine now.', 'press 9 now.'],
    ['ninety nine percent', '99%'],
    ['fifty per cent sure', '50% sure'],
    ['one of them', 'one of them'],
    ['twenty twenty', 'twenty twenty'],
    ['seven  eleven', 'seven  eleven'],
    ['the weasels have taken over', 'the weasels have taken over'],
    ['one hundred and apples', '100 and apples'],
    ['', ''],
  ])('%j → %j', (spoken, written) => {
    expect(inverseNormalize(spoken, 'en')).toBe(written);
  });

  it('leaves other languages alone', () => {
    expect(inverseNormalize('twenty three', 'fr')).toBe('twenty three');
  });
});
