// Brazilian Portuguese ITN tables. Conventions: thousands '.', decimal ',', "R$ 2.500,00", "10%",
// "25 de dezembro de 2024" (month stays a word), "1º de maio", "15:30" / "10h", "(11) 98765-4321",
// ordinals "21º" / "1ª". See docs/POSTPROCESSING.md.

import type { ItnTable, NumWord, OrdinalWord } from './types.js';

const u = (value: number): NumWord => ({ value, cls: 'unit' });
const teen = (value: number): NumWord => ({ value, cls: 'teen' });
const ten = (value: number): NumWord => ({ value, cls: 'ten' });
const hundred = (value: number): NumWord => ({ value, cls: 'hundred' });
const scale = (value: number): NumWord => ({ value, cls: 'scale' });

const CARDINALS: Record<string, NumWord> = {
  zero: u(0), um: u(1), uma: u(1), dois: u(2), duas: u(2), três: u(3), tres: u(3), quatro: u(4), cinco: u(5),
  seis: u(6), sete: u(7), oito: u(8), nove: u(9),
  dez: teen(10), onze: teen(11), doze: teen(12), treze: teen(13), catorze: teen(14), quatorze: teen(14), quinze: teen(15),
  dezesseis: teen(16), dezasseis: teen(16), dezessete: teen(17), dezassete: teen(17), dezoito: teen(18), dezenove: teen(19), dezanove: teen(19),
  vinte: ten(20), trinta: ten(30), quarenta: ten(40), cinquenta: ten(50), cinqüenta: ten(50), sessenta: ten(60),
  setenta: ten(70), oitenta: ten(80), noventa: ten(90),
  cem: hundred(100), cento: hundred(100), duzentos: hundred(200), duzentas: hundred(200), trezentos: hundred(300), trezentas: hundred(300),
  quatrocentos: hundred(400), quatrocentas: hundred(400), quinhentos: hundred(500), quinhentas: hundred(500),
  seiscentos: hundred(600), seiscentas: hundred(600), setecentos: hundred(700), setecentas: hundred(700),
  oitocentos: hundred(800), oitocentas: hundred(800), novecentos: hundred(900), novecentas: hundred(900),
  mil: scale(1e3), milhão: scale(1e6), milhao: scale(1e6), milhões: scale(1e6), milhoes: scale(1e6),
  bilhão: scale(1e9), bilhao: scale(1e9), bilhões: scale(1e9), bilhoes: scale(1e9), trilhão: scale(1e12), trilhões: scale(1e12),
};

/** Masculine and feminine forms of each ordinal word. */
function ord(stem: string, value: number, cls: OrdinalWord['cls']): Record<string, OrdinalWord> {
  return { [`${stem}o`]: { value, cls, suffix: 'º' }, [`${stem}a`]: { value, cls, suffix: 'ª' } };
}

const ORDINALS: Record<string, OrdinalWord> = {
  ...ord('primeir', 1, 'unit'), ...ord('segund', 2, 'unit'), ...ord('terceir', 3, 'unit'), ...ord('quart', 4, 'unit'),
  ...ord('quint', 5, 'unit'), ...ord('sext', 6, 'unit'), ...ord('sétim', 7, 'unit'), ...ord('setim', 7, 'unit'),
  ...ord('oitav', 8, 'unit'), ...ord('non', 9, 'unit'),
  ...ord('décim', 10, 'ten'), ...ord('decim', 10, 'ten'), ...ord('vigésim', 20, 'ten'), ...ord('trigésim', 30, 'ten'),
  ...ord('quadragésim', 40, 'ten'), ...ord('quinquagésim', 50, 'ten'), ...ord('sexagésim', 60, 'ten'),
  ...ord('septuagésim', 70, 'ten'), ...ord('setuagésim', 70, 'ten'), ...ord('octogésim', 80, 'ten'), ...ord('nonagésim', 90, 'ten'),
  ...ord('centésim', 100, 'hundred'), ...ord('ducentésim', 200, 'hundred'), ...ord('tricentésim', 300, 'hundred'),
  ...ord('quadringentésim', 400, 'hundred'), ...ord('quingentésim', 500, 'hundred'),
  ...ord('milésim', 1000, 'scale'),
};

export const PT_TABLE: ItnTable = {
  family: 'pt',
  cardinals: CARDINALS,
  runDigits: { meia: 6 },
  notInRuns: ['uma'],
  keptAlone: ['um', 'uma', 'cento'],
  keyWords: ['digite', 'tecle', 'disque', 'aperte', 'pressione', 'opção', 'ramal'],
  bareScales: ['mil', 'milésimo', 'milésima'],
  scaleArticles: [],
  connectors: ['e'],
  connectorAfter: ['ten', 'hundred', 'scale'],
  ordinals: ORDINALS,
  ordinalStyle: 'every',
  ordinalSuffix: () => 'º',
  ordinalNouns: [
    'andar', 'lugar', 'colocado', 'colocada', 'vez', 'ano', 'série', 'turno', 'grau', 'período', 'semestre', 'trimestre',
    'bimestre', 'tempo', 'edição', 'capítulo', 'etapa', 'fase', 'mandato', 'aniversário', 'dia', 'mês', 'semana', 'via',
    'classe', 'opção', 'parcela', 'filho', 'filha', 'geração', 'turma', 'rodada', 'divisão', 'instância', 'item', 'artigo',
    'parágrafo', 'batalhão', 'volume', 'pavimento', 'prêmio', 'sargento', 'tenente', 'distrito', 'vara', 'ciclo',
  ],
  decimalWords: ['vírgula', 'virgula'],
  halfPhrases: [['e', 'meio']],
  thousandsSep: '.',
  decimalSep: ',',
  percentPhrases: [['por', 'cento']],
  currencies: [
    { major: ['reais', 'real'], minor: ['centavos', 'centavo'], symbol: 'R$', minorDefault: true },
    { major: ['dólares', 'dólar', 'dolares', 'dolar'], minor: ['centavos', 'centavo', 'cents'], symbol: 'US$' },
    { major: ['euros', 'euro'], minor: ['centavos', 'centavo', 'cêntimos', 'cêntimo'], symbol: '€' },
  ],
  currencySpace: true,
  currencyOf: ['de'],
  months: {
    janeiro: 1, fevereiro: 2, março: 3, abril: 4, maio: 5, junho: 6, julho: 7, agosto: 8, setembro: 9, outubro: 10, novembro: 11, dezembro: 12,
  },
  ambiguousMonths: [],
  dateStyle: 'dayOfMonth',
  dateOf: ['de'],
  firstDay: '1º',
  yearPrefixes: ['em', 'desde', 'até', 'ano', 'anos', 'nasceu', 'nasci', 'entre'],
  yearNouns: [
    'ano', 'início', 'começo', 'fim', 'final', 'meados', 'metade', 'virada', 'verão', 'inverno', 'outono', 'primavera', 'carnaval',
    'natal', 'réveillon', 'copa', 'olimpíada', 'olimpíadas', 'eleição', 'eleições', 'safra', 'turma', 'crise', 'censo', 'calendário',
    'exercício', 'semestre', 'trimestre', 'temporada', 'período', 'partir', 'antes', 'depois',
  ],
  rangeWords: ['a', 'e', 'até'],
  yearPairs: false,
  decades: {},
  pluralNouns: {
    endings: ['s'],
    except: [
      'os', 'as', 'nos', 'nas', 'dos', 'das', 'aos', 'às', 'pelos', 'pelas', 'mais', 'menos', 'depois', 'antes', 'apenas', 'pois',
      'eles', 'elas', 'vocês', 'todos', 'todas', 'ambos', 'ambas', 'alguns', 'algumas', 'muitos', 'muitas', 'vários', 'várias',
      'outros', 'outras', 'quais', 'jamais', 'talvez', 'através', 'seus', 'suas', 'meus', 'minhas', 'nossos', 'nossas', 'estes',
      'estas', 'esses', 'essas', 'aqueles', 'aquelas', 'tais', 'demais', 'nós', 'após', 'atrás', 'mês', 'deles', 'delas', 'neles', 'nelas',
    ],
    // First-person plural verbs ("fomos", "tivemos"); -ês words are singular ("mês", "inglês").
    exceptEndings: ['mos', 'ês'],
  },
  hourWords: ['horas', 'hora'],
  minuteWords: ['minutos', 'minuto'],
  halfHour: ['meia'],
  timePrefixes: ['às', 'as', 'à', 'das', 'até', 'pelas', 'lá'],
  dayparts: [
    { words: ['da', 'manhã'] },
    { words: ['da', 'madrugada'] },
    { words: ['da', 'tarde'], plus12: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] },
    { words: ['da', 'noite'], plus12: [6, 7, 8, 9, 10, 11] },
  ],
  clockMarkers: {},
  timeStyle: '24h',
  phoneFormats: [
    { mask: '0#00 ### ####' }, // 0800, 0300, ...: toll-free and shared-cost numbers
    { mask: '(##) #####-####' },
    { mask: '(##) ####-####' },
    { mask: '#####-####', needsContext: true },
    { mask: '####-####', needsContext: true },
  ],
  phoneWords: ['telefone', 'fone', 'tel', 'celular', 'ligue', 'liga', 'ligar', 'whatsapp', 'zap', 'contato'],
  phoneBlockers: [
    'cpf', 'cnpj', 'cep', 'rg', 'cartão', 'cartao', 'conta', 'agência', 'agencia', 'protocolo', 'pedido', 'código', 'codigo',
    'matrícula', 'matricula', 'boleto', 'pix', 'chave', 'senha', 'placa', 'nota', 'processo', 'cnh', 'renavam', 'nis', 'pis',
  ],
  separatorWords: { ponto: '.', traço: '-', traco: '-', hífen: '-', hifen: '-', barra: '/' },
  protectedPhrases: [
    ['os', 'dois'], ['as', 'duas'], ['nós', 'dois'], ['nós', 'duas'], ['vocês', 'dois'], ['vocês', 'duas'], ['eles', 'dois'],
    ['elas', 'duas'], ['todos', 'os', 'dois'], ['dos', 'dois'], ['das', 'duas'], ['nos', 'dois'], ['nas', 'duas'], ['aos', 'dois'], ['um', 'a', 'um'], ['uma', 'a', 'uma'], ['mil', 'vezes'], ['mil', 'desculpas'],
    ['um', 'ou', 'outro'], ['uma', 'ou', 'outra'], ['um', 'do', 'outro'], ['uma', 'da', 'outra'], ['um', 'ao', 'outro'],
  ],
};
