#!/usr/bin/env node
// Entry point of the `theo` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('theo: the CLI is not built yet; run `npm install` (or `npm run build`) in the project folder first\n');
  process.exit(1);
}
const { main: run } = await import(main);
await run(process.argv);
