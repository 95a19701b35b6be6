// The ITN table for a language family.

import { EN_TABLE } from './tables-en.js';
import { PT_TABLE } from './tables-pt.js';
import type { ItnTable } from './types.js';

export function itnTable(family: 'en' | 'pt'): ItnTable {
  return family === 'en' ? EN_TABLE : PT_TABLE;
}
