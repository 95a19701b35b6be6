// The shape of one language's ITN grammar tables. The engine (rules.ts, numbers.ts) knows no words of
// its own: every word it reads and every way it writes a result comes from a table of this shape.

/**
 * How a number word combines with its neighbours:
 * unit 1–9, teen 10–19, ten 20–90 (tens digit), hundred = a word that is a whole hundreds digit
 * ("duzentos"), hundredMul = a word that multiplies what precedes it by 100 ("hundred"),
 * scale = thousand, million, ... (multiplies the group before it).
 */
export type NumClass = 'unit' | 'teen' | 'ten' | 'hundred' | 'hundredMul' | 'scale';

export interface NumWord {
  value: number;
  cls: NumClass;
}

export interface OrdinalWord extends NumWord {
  /** Written suffix when this word ends the ordinal ('º', 'ª'); languages whose suffix depends on the value leave it out. */
  suffix?: string;
}

export interface CurrencyEntry {
  /** Spoken names of the main unit: 'reais', 'real', 'dollars'. */
  major: readonly string[];
  /** Spoken names of the hundredth: 'centavos', 'cents'. A bare minor amount is written in this currency only when `minorDefault`. */
  minor: readonly string[];
  symbol: string;
  minorDefault?: boolean;
}

export interface Daypart {
  /** Words after the time: ['da', 'tarde'], ['in', 'the', 'afternoon']. */
  words: readonly string[];
  /** 24-hour languages: hours this part moves by +12 ("três da tarde" → 15). */
  plus12?: readonly number[];
  /** 12-hour languages: the marker written after the time. */
  marker?: string;
}

export interface PhoneFormat {
  /** '#' for any digit, a digit for itself: '(##) #####-####', '1-###-###-####', '0#00 ### ####'. */
  mask: string;
  /**
   * Written only after a phone word (`phoneWords`) or when dictated in the layout's own groups: a bare run
   * of that length is as often something else (8 digits: a CEP; 9: an RG).
   */
  needsContext?: boolean;
}

export interface ItnTable {
  family: 'en' | 'pt';
  /** Cardinal number words. */
  cardinals: Readonly<Record<string, NumWord>>;
  /** Words that are digits only inside a digit-by-digit run ("meia" = 6, "oh" = 0). */
  runDigits: Readonly<Record<string, number>>;
  /** Words never read inside a digit-by-digit run (the feminine article "uma"). */
  notInRuns: readonly string[];
  /** Number words that stay words when they are the whole number: articles and pronouns ("um", "uma", "one"). */
  keptAlone: readonly string[];
  /** Words after which a kept-alone number is a key or option digit after all ("press one" → "press 1"). */
  keyWords: readonly string[];
  /** Scale words that may open a number without a multiplier ("mil" = 1000). */
  bareScales: readonly string[];
  /** Words that stand for 1 before a hundred or scale word ("a hundred and twelve" = 112). */
  scaleArticles: readonly string[];
  /** "e" / "and" between the parts of one number. */
  connectors: readonly string[];
  /** The classes after which a connector may join the next part. */
  connectorAfter: readonly NumClass[];
  /** Ordinal number words. */
  ordinals: Readonly<Record<string, OrdinalWord>>;
  /** 'every': every word of an ordinal is ordinal ("vigésimo primeiro"); 'last': only the last ("twenty first"). */
  ordinalStyle: 'every' | 'last';
  /** Suffix for a value whose last word carries none. */
  ordinalSuffix(value: number): string;
  /** Nouns after which a one-word ordinal below 10 is written as digits ("segundo andar"); otherwise it stays a word. */
  ordinalNouns: readonly string[];
  /** Words between an integer and its fraction digits ("vírgula", "point"). */
  decimalWords: readonly string[];
  /** A half, after a scale word or between a number and a scale word ("e meio", "and a half"). */
  halfPhrases: readonly (readonly string[])[];
  thousandsSep: string;
  decimalSep: string;
  percentPhrases: readonly (readonly string[])[];
  currencies: readonly CurrencyEntry[];
  /** Space between symbol and amount ("R$ 10,00") or not ("$10.00"). */
  currencySpace: boolean;
  /** Word between a million-or-more amount and the currency ("um milhão de reais"). */
  currencyOf: readonly string[];
  months: Readonly<Record<string, number>>;
  /** Written month names (index 1–12) for languages that normalise the month's spelling; undefined keeps the spoken word. */
  monthNames?: readonly string[];
  /** Months that are also common words ("may", "march"): a date needs an ordinal day or a year after them. */
  ambiguousMonths: readonly string[];
  /** 'dayOfMonth': "25 de dezembro de 2024"; 'monthDay': "December 25, 2024". */
  dateStyle: 'dayOfMonth' | 'monthDay';
  /** The word in "25 de dezembro", "the 5th of May". */
  dateOf: readonly string[];
  /** Day 1 written as an ordinal in day-of-month dates ("1º de maio"). */
  firstDay?: string;
  /** Words after which a number 1000–2099 is a year, written without separator ("em 2024"). */
  yearPrefixes: readonly string[];
  /** Words before `dateOf` after which a number is a year ("ano de 2020", "início de 2025", "the end of 2005"). */
  yearNouns: readonly string[];
  /** Words between the two years of a range ("de 2020 a 2025", "from 1990 to 2000"). */
  rangeWords: readonly string[];
  /**
   * Read "nineteen eighty four" as 1984: in year context always; elsewhere when the first part cannot be a
   * 12-hour clock hour (13–20) and is not a round ten said twice ("twenty twenty" stays).
   */
  yearPairs: boolean;
  /** Plural tens after a century ("nineteen nineties" → "1990s"); 'hundreds' → "1800s". */
  decades: Readonly<Record<string, number>>;
  /**
   * A plural noun after a number in year context makes it a quantity ("em 2.025 pessoas"): a word with one
   * of these endings that is not in `except` and has none of `exceptEndings` (articles, pronouns, verbs).
   */
  pluralNouns: { endings: readonly string[]; except: readonly string[]; exceptEndings: readonly string[] };
  /** Hour and minute words ("horas", "minutos", "o'clock"). */
  hourWords: readonly string[];
  minuteWords: readonly string[];
  /** Words for 30 minutes after "e" ("e meia"). */
  halfHour: readonly string[];
  /** Words before a time that make "dez e quinze" a time ("às"). */
  timePrefixes: readonly string[];
  dayparts: readonly Daypart[];
  /** 12-hour markers as written by recognisers, lower case, punctuation kept ("p.m"): marker written. */
  clockMarkers: Readonly<Record<string, string>>;
  timeStyle: '24h' | '12h';
  /** Phone layouts, tried in order; the first that fits the digits is written. */
  phoneFormats: readonly PhoneFormat[];
  /** Words shortly before a digit run that make it a phone number ("telefone"), for formats that need one. */
  phoneWords: readonly string[];
  /** Words shortly before a digit run that make it a document or account number, not a phone. */
  phoneBlockers: readonly string[];
  /** Separators dictated between digit groups, and how they are written ("traço" → '-', "dash" → '-'). */
  separatorWords: Readonly<Record<string, string>>;
  /** Word sequences that always stay as spoken ("os dois", "one or two"). */
  protectedPhrases: readonly (readonly string[])[];
}
