#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the `theo` command: runs the compiled CLI (built by `npm install` / `npm run build`).
//
// --max-semi-space-size=4 bounds V8's young generation at 2 x 4 MB (default 2 x 16 MB). A live runtime's
// heap is small (about 25 MB at 800 sessions) and it allocates steadily (finals, events, audio sent to
// workers); with the default young generation, old-space headroom under it makes V8 start a full
// mark-compact about every 0.4 s instead of scavenging, some 10 ms of pause each and a tenth of a core
// (docs/BENCHMARKS.md, "Sessions per core"). Flags given to node itself, or in NODE_OPTIONS, still apply
// when node runs this file directly.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('theo: the CLI is not built yet; run `npm install` (or `npm run build`) in the project folder first\n');
  process.exit(1);
}
const { main: run } = await import(main);
await run(process.argv);
