#!/usr/bin/env bash
# npm run bench: every benchmark, each with its baseline in the same run. Results land in
# test/bench/results/*.json and as tables on stdout; docs/BENCHMARKS.md quotes them.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p test/bench/results
npx tsx test/bench/codec.bench.ts
npx tsx test/bench/codec-simd.bench.ts
npx tsx test/bench/packet-path.bench.ts
npx tsx test/bench/streams.bench.ts "$@"
npx tsx test/bench/preprocess.bench.ts
npx tsx test/bench/vad.bench.ts
# In-process parts run with the Node flags `theo` runs with (the #! line of bin/theo.js).
node $(head -1 bin/theo.js | grep -o -- ' --[^ ]*') --import tsx test/bench/session.bench.ts
npx tsx test/bench/postprocess.bench.ts
npx tsx test/bench/api.bench.ts
npx tsx test/bench/registry-scan.bench.ts
npx tsx test/bench/upload.bench.ts --json test/bench/results/upload.json
npx tsx test/bench/latency.bench.ts
npx tsx test/bench/ws-load.bench.ts
npx tsx test/bench/ptt.bench.ts
npx tsx test/bench/calls.bench.ts
