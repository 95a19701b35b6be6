// English ITN tables. Conventions: thousands ',', decimal '.', "$2,500.00", "25%", "December 25, 2024",
// "3:30 PM", "415-555-1234", ordinals "21st". See docs/POSTPROCESSING.md.

import type { ItnTable, NumWord, OrdinalWord } from './types.js';

const u = (value: number): NumWord => ({ value, cls: 'unit' });
const teen = (value: number): NumWord => ({ value, cls: 'teen' });
const ten = (value: number): NumWord => ({ value, cls: 'ten' });
const scale = (value: number): NumWord => ({ value, cls: 'scale' });

const CARDINALS: Record<string, NumWord> = {
  zero: u(0), one: u(1), two: u(2), three: u(3), four: u(4), five: u(5), six: u(6), seven: u(7), eight: u(8), nine: u(9),
  ten: teen(10), eleven: teen(11), twelve: teen(12), thirteen: teen(13), fourteen: teen(14), fifteen: teen(15),
  sixteen: teen(16), seventeen: teen(17), eighteen: teen(18), nineteen: teen(19),
  twenty: ten(20), thirty: ten(30), forty: ten(40), fifty: ten(50), sixty: ten(60), seventy: ten(70), eighty: ten(80), ninety: ten(90),
  hundred: { value: 100, cls: 'hundredMul' },
  thousand: scale(1e3), million: scale(1e6), billion: scale(1e9), trillion: scale(1e12),
};

const o = (value: number, cls: OrdinalWord['cls']): OrdinalWord => ({ value, cls });

const ORDINALS: Record<string, OrdinalWord> = {
  first: o(1, 'unit'), second: o(2, 'unit'), third: o(3, 'unit'), fourth: o(4, 'unit'), fifth: o(5, 'unit'), sixth: o(6, 'unit'),
  seventh: o(7, 'unit'), eighth: o(8, 'unit'), ninth: o(9, 'unit'),
  tenth: o(10, 'teen'), eleventh: o(11, 'teen'), twelfth: o(12, 'teen'), thirteenth: o(13, 'teen'), fourteenth: o(14, 'teen'),
  fifteenth: o(15, 'teen'), sixteenth: o(16, 'teen'), seventeenth: o(17, 'teen'), eighteenth: o(18, 'teen'), nineteenth: o(19, 'teen'),
  twentieth: o(20, 'ten'), thirtieth: o(30, 'ten'), fortieth: o(40, 'ten'), fiftieth: o(50, 'ten'), sixtieth: o(60, 'ten'),
  seventieth: o(70, 'ten'), eightieth: o(80, 'ten'), ninetieth: o(90, 'ten'),
  hundredth: o(100, 'hundredMul'), thousandth: o(1e3, 'scale'), millionth: o(1e6, 'scale'),
};

function ordinalSuffix(value: number): string {
  const lastTwo = value % 100;
  if (lastTwo >= 11 && lastTwo <= 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][value % 10] ?? 'th';
}

export const EN_TABLE: ItnTable = {
  family: 'en',
  cardinals: CARDINALS,
  runDigits: { oh: 0 },
  notInRuns: [],
  keptAlone: ['one'],
  keyWords: ['press', 'dial', 'option', 'extension'],
  bareScales: [],
  scaleArticles: ['a'],
  connectors: ['and'],
  connectorAfter: ['hundredMul', 'scale'],
  ordinals: ORDINALS,
  ordinalStyle: 'last',
  ordinalSuffix,
  ordinalNouns: [
    'floor', 'place', 'grade', 'prize', 'round', 'century', 'anniversary', 'birthday', 'edition', 'amendment', 'avenue', 'street',
    'quarter', 'inning', 'period', 'division', 'platoon', 'battalion', 'generation', 'cousin', 'degree', 'gear', 'base', 'row', 'lane',
  ],
  decimalWords: ['point'],
  halfPhrases: [['and', 'a', 'half']],
  thousandsSep: ',',
  decimalSep: '.',
  percentPhrases: [['percent'], ['per', 'cent']],
  currencies: [
    { major: ['dollars', 'dollar', 'bucks'], minor: ['cents', 'cent'], symbol: '$', minorDefault: true },
    { major: ['euros', 'euro'], minor: ['cents', 'cent'], symbol: '€' },
    { major: ['reais', 'real'], minor: ['centavos', 'centavo'], symbol: 'R$' },
  ],
  currencySpace: false,
  currencyOf: [],
  months: {
    january: 1, february: 2, march: 3, april: 4, may: 5, june: 6, july: 7, august: 8, september: 9, october: 10, november: 11, december: 12,
  },
  monthNames: ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'],
  ambiguousMonths: ['may', 'march', 'august', 'june', 'april'],
  dateStyle: 'monthDay',
  dateOf: ['of'],
  yearPrefixes: ['in', 'since', 'until', 'year', 'from', 'by', 'between'],
  yearNouns: [
    'year', 'end', 'beginning', 'start', 'middle', 'summer', 'winter', 'spring', 'fall', 'autumn', 'class', 'election',
    'elections', 'crisis', 'census', 'season',
  ],
  rangeWords: ['to', 'and', 'through', 'until'],
  yearPairs: true,
  decades: { hundreds: 0, twenties: 20, thirties: 30, forties: 40, fifties: 50, sixties: 60, seventies: 70, eighties: 80, nineties: 90 },
  pluralNouns: {
    endings: ['s'],
    except: ['is', 'was', 'has', 'his', 'this', 'its', 'us', 'as', 'does', 'goes', 'always', 'perhaps', 'unless', 'yes', 'plus', 'thus', 'whereas', 'afterwards', 'towards'],
    exceptEndings: ['ss', "'s"],
  },
  hourWords: ["o'clock"],
  minuteWords: ['minutes', 'minute'],
  halfHour: [],
  timePrefixes: ['at', 'by', 'until', 'from', 'before', 'after', 'around'],
  dayparts: [
    { words: ['in', 'the', 'morning'], marker: 'AM' },
    { words: ['in', 'the', 'afternoon'], marker: 'PM' },
    { words: ['in', 'the', 'evening'], marker: 'PM' },
    { words: ['at', 'night'], marker: 'PM' },
  ],
  clockMarkers: { am: 'AM', pm: 'PM', 'a.m': 'AM', 'p.m': 'PM' },
  timeStyle: '12h',
  phoneFormats: [{ mask: '1-###-###-####' }, { mask: '###-###-####' }, { mask: '###-####' }],
  phoneWords: [],
  phoneBlockers: ['card', 'account', 'order', 'code', 'ssn', 'zip', 'pin', 'routing', 'confirmation', 'reference', 'policy', 'serial', 'tracking', 'member', 'id'],
  separatorWords: { dash: '-', hyphen: '-', dot: '.', slash: '/' },
  protectedPhrases: [['one', 'or', 'two'], ['one', 'by', 'one'], ['one', 'another'], ['one', 'of', 'these', 'days'], ['the', 'two']],
};
