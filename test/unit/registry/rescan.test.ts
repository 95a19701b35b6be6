// The running server's registry: a model folder copied in (or a model whose files arrive) is found by a
// request that names it, without a restart; names that are not there rescan the folder at most once per
// interval, however many requests name them. Real folders on disk; only the clock is the test's.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTheoErrorCode } from '../../../src/errors/index.js';
import { ModelRegistry } from '../../../src/registry/registry.js';
import { RescanningRegistry, type RescanReport } from '../../../src/registry/rescan.js';

const manifest = (name: string, hmm: string): string =>
  [`name: ${name}`, 'engine: pocketsphinx', 'architecture: hmm', `files: { hmm: ${hmm} }`, 'sampleRate: 16000', 'languages: [en]', ''].join('\n');

let dir: string;
let now = 0;
let reports: RescanReport[];

function open(minIntervalMs = 1000): RescanningRegistry {
  return new RescanningRegistry(ModelRegistry.scan(dir, { defaultName: 'first' }), { minIntervalMs, now: () => now, onRescan: (r) => reports.push(r) });
}

function missing(reg: RescanningRegistry, name: string): boolean {
  try {
    reg.get(name);
    return false;
  } catch (err) {
    if (isTheoErrorCode(err, 'model_not_found')) return true;
    throw err;
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'theo-rescan-'));
  mkdirSync(join(dir, 'first', 'hmm'), { recursive: true });
  writeFileSync(join(dir, 'first', 'theo.yaml'), manifest('first', 'hmm'));
  now = 0;
  reports = [];
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('RescanningRegistry', () => {
  it('finds a model folder copied in after the start, on the first request that names it', () => {
    const reg = open();
    expect(reg.get('first').name).toBe('first');
    cpSync(join(dir, 'first'), join(dir, 'second'), { recursive: true });
    writeFileSync(join(dir, 'second', 'theo.yaml'), manifest('second', 'hmm'));
    expect(reg.get('second').state).toBe('available');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ added: ['second'], removed: [], models: 2 });
    expect(reg.list().map((m) => m.name)).toEqual(['first', 'second']);
  });

  it('rescans at most once per interval for names that are not there', () => {
    const reg = open(1000);
    for (let i = 0; i < 500; i++) expect(missing(reg, `garbage-${i}`)).toBe(true);
    expect(reports).toHaveLength(1);
    now += 999;
    expect(missing(reg, 'garbage')).toBe(true);
    expect(reports).toHaveLength(1);
    now += 1;
    expect(missing(reg, 'garbage')).toBe(true);
    expect(reports).toHaveLength(2);
  });

  it('a model copied in during the interval is found once the interval has passed', () => {
    const reg = open(1000);
    expect(missing(reg, 'late')).toBe(true);
    cpSync(join(dir, 'first'), join(dir, 'late'), { recursive: true });
    writeFileSync(join(dir, 'late', 'theo.yaml'), manifest('late', 'hmm'));
    now += 500;
    expect(missing(reg, 'late')).toBe(true);
    now += 500;
    expect(reg.get('late').name).toBe('late');
  });

  it('rescans when a known model was missing its files and they have arrived', () => {
    writeFileSync(join(dir, 'first', 'theo.yaml'), manifest('first', 'weights'));
    const reg = open();
    expect(reg.get('first').state).toBe('missing');
    expect(reports).toHaveLength(1);
    mkdirSync(join(dir, 'first', 'weights'));
    now += 1000;
    expect(reg.get('first').state).toBe('available');
    expect(reports).toHaveLength(2);
    now += 1000;
    reg.get('first');
    expect(reports).toHaveLength(2);
  });

  it('an available model costs no rescan, and neither does a list within the interval', () => {
    const reg = open();
    for (let i = 0; i < 100; i++) reg.get('first');
    expect(reports).toHaveLength(0);
    reg.list();
    expect(reports).toHaveLength(1);
    reg.list();
    expect(reports).toHaveLength(1);
  });

  it('parses again only the manifests that changed', () => {
    const reg = open();
    const before = reg.get('first').manifest;
    mkdirSync(join(dir, 'other', 'hmm'), { recursive: true });
    writeFileSync(join(dir, 'other', 'theo.yaml'), manifest('other', 'hmm'));
    reg.get('other');
    expect(reg.get('first').manifest).toBe(before);
    writeFileSync(join(dir, 'first', 'theo.yaml'), manifest('first', 'hmm').replace('languages: [en]', 'languages: [en, es]'));
    now += 1000;
    expect(missing(reg, 'garbage')).toBe(true);
    expect(reg.get('first').manifest.languages).toEqual(['en', 'es']);
  });

  it('reports a manifest that turned bad, and a folder removed', () => {
    const reg = open();
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'theo.yaml'), 'name: [unclosed\n');
    rmSync(join(dir, 'first'), { recursive: true });
    expect(missing(reg, 'broken')).toBe(true);
    expect(reports[0]).toMatchObject({ added: [], removed: ['first'], models: 0 });
    expect(reports[0]?.problems.map((p) => p.path)).toEqual([join(dir, 'broken', 'theo.yaml')]);
  });
});
