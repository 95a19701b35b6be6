// The CLI run from a folder outside the install: the default models folder is the install's, a config
// file's relative models.dir is taken from the file's folder, and a relative path in the environment or a
// flag from the working directory, as the user typed it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SOUNDS } from '../helpers/audio.js';
import { ROOT, runTheo } from '../helpers/theo.js';

const root = mkdtempSync(join(tmpdir(), 'theo-cli-paths-'));
const cwd = join(root, 'work');
const confDir = join(root, 'conf');
mkdirSync(cwd);
mkdirSync(join(confDir, 'team-models'), { recursive: true });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CLEAN = { THEO_MODELS_DIR: '', THEO_CONFIG: '', THEO_DEFAULT_MODEL: '' };

async function listedDir(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await runTheo(['list', '--json', ...args], { ...CLEAN, ...env }, { cwd }).done;
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { dir: string }).dir;
}

describe('the models folder, from another working directory', () => {
  it('transcribes with the default model of the install', async () => {
    const r = await runTheo(['transcribe', `${SOUNDS}/queue-thankyou.wav`], CLEAN, { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toLowerCase()).toMatch(/thank you for your patience/);
  });

  it("lists the install's models folder by default", async () => {
    expect(await listedDir([])).toBe(join(ROOT, 'models'));
  });

  it("takes a config file's relative models.dir from the file's folder, however the file is named", async () => {
    const cfg = join(confDir, 'theo.yaml');
    writeFileSync(cfg, 'models:\n  dir: team-models\n');
    expect(await listedDir(['--config', cfg])).toBe(join(confDir, 'team-models'));
    expect(await listedDir(['--config', '../conf/theo.yaml'])).toBe(join(confDir, 'team-models'));
    expect(await listedDir([], { THEO_CONFIG: '../conf/theo.yaml' })).toBe(join(confDir, 'team-models'));
  });

  it('takes a relative THEO_MODELS_DIR or --models-dir from the working directory', async () => {
    expect(await listedDir([], { THEO_MODELS_DIR: 'mine' })).toBe(join(cwd, 'mine'));
    expect(await listedDir(['--models-dir', '../conf/team-models'])).toBe(join(confDir, 'team-models'));
    // And either wins over the config file, as it always did.
    writeFileSync(join(confDir, 'theo.yaml'), 'models:\n  dir: team-models\n');
    expect(await listedDir(['--config', '../conf/theo.yaml', '--models-dir', 'mine'])).toBe(join(cwd, 'mine'));
  });
});
