import { describe, expect, it } from 'vitest';
import { entitiesStage, inverseNormalize, itnStage } from '../../../src/postprocess/itn.js';
import { applyMask, groupThousands } from '../../../src/postprocess/itn/format.js';
import { joinTokens, tokenize } from '../../../src/postprocess/itn/tokens.js';

const ctx = (language: string) => ({ language, hotWords: [] as string[] });

describe('inverse text normalisation (English)', () => {
  it.each([
    ['twenty three', '23'],
    ['one hundred and five', '105'],
    ['two thousand twenty four', '2,024'],
    ['in two thousand twenty four', 'in 2024'],
    ['three million', '3,000,000'],
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

  it('accepts the language as the engine reports it', () => {
    for (const lang of ['en', 'en-US', 'EN', 'english']) expect(inverseNormalize('twenty dollars', lang)).toBe('$20.00');
  });
});

describe('inverse text normalisation (pt-BR)', () => {
  it.each([
    ['o valor é dois mil e quinhentos reais', 'o valor é R$ 2.500,00'],
    ['comprei um carro', 'comprei um carro'],
    ['dez reais e cinquenta centavos', 'R$ 10,50'],
    ['três vírgula cinco', '3,5'],
    ['em dois mil e vinte e quatro', 'em 2024'],
    ['às três e meia da tarde', 'às 15:30'],
    ['segundo ele, o segundo andar', 'segundo ele, o 2º andar'],
    ['meu telefone é onze nove oito sete seis cinco quatro três dois um', 'meu telefone é (11) 98765-4321'],
  ])('%j → %j', (spoken, written) => {
    expect(inverseNormalize(spoken, 'pt-BR')).toBe(written);
  });

  it('accepts the language as the engine reports it', () => {
    for (const lang of ['pt', 'pt-BR', 'pt_BR', 'portuguese']) expect(inverseNormalize('dez por cento', lang)).toBe('10%');
  });
});

describe('stages', () => {
  it('have stable names', () => {
    expect(itnStage.name).toBe('itn');
    expect(entitiesStage.name).toBe('entities');
  });

  it('leave other languages alone', () => {
    expect(inverseNormalize('twenty three', 'fr')).toBe('twenty three');
    expect(itnStage.apply('vinte e três', ctx('es'))).toBe('vinte e três');
    expect(entitiesStage.apply('cpf 12345678900', ctx('de'))).toBe('cpf 12345678900');
  });

  it('ITN alone leaves document digits unformatted; entities formats them', () => {
    const spoken = 'meu cpf é um dois três quatro cinco seis sete oito nove zero zero';
    const itn = itnStage.apply(spoken, ctx('pt-BR'));
    expect(itn).toBe('meu cpf é 12345678900');
    expect(entitiesStage.apply(itn, ctx('pt-BR'))).toBe('meu cpf é 123.456.789-00');
  });

  it('entities needs the context word for ambiguous counts', () => {
    expect(entitiesStage.apply('12345678900', ctx('pt'))).toBe('12345678900');
    expect(entitiesStage.apply('cpf: 12345678900', ctx('pt'))).toBe('cpf: 123.456.789-00');
    expect(entitiesStage.apply('cep 0131010', ctx('pt'))).toBe('cep 0131010');
    expect(entitiesStage.apply('12345678000190', ctx('en'))).toBe('12345678000190');
    expect(entitiesStage.apply('12345678000190', ctx('pt'))).toBe('12.345.678/0001-90');
  });

  it('is idempotent on its own output', () => {
    for (const [lang, s] of [
      ['pt-BR', 'o valor é dois mil e quinhentos reais, cpf um dois três quatro cinco seis sete oito nove zero zero, às três e meia da tarde'],
      ['en', 'on december twenty fifth at seven p m I paid twenty dollars, card four one one one one one one one one one one one one one one one'],
    ] as const) {
      const once = inverseNormalize(s, lang);
      expect(inverseNormalize(once, lang)).toBe(once);
    }
  });
});

describe('helpers', () => {
  it('tokenize loses nothing', () => {
    for (const s of ['', 'a', '  dois,  três!\n', 'o\u0301la\u200b😀\u0000x', "o'clock twenty-one", '\ud800 lone']) expect(joinTokens(tokenize(s))).toBe(s);
  });

  it('groupThousands', () => {
    expect(groupThousands(0, '.')).toBe('0');
    expect(groupThousands(999, '.')).toBe('999');
    expect(groupThousands(1000, '.')).toBe('1.000');
    expect(groupThousands(1234567, ',')).toBe('1,234,567');
  });

  it('applyMask', () => {
    expect(applyMask('11987654321', '(##) #####-####')).toBe('(11) 98765-4321');
    expect(applyMask('123', '####')).toBeUndefined();
    expect(applyMask('14155551234', '1-###-###-####')).toBe('1-415-555-1234');
    expect(applyMask('24155551234', '1-###-###-####')).toBeUndefined();
  });
});
