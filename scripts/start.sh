#!/usr/bin/env bash
# The one command that sets up and runs Theo on a fresh Debian machine with Node and npm: installs npm
# dependencies and builds when needed, installs the Debian packages the default model and file decoding
# need (PocketSphinx en-us; ffmpeg for MP3/FLAC/Ogg uploads) when missing and possible, then runs
# `theo serve` with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-debs.sh pocketsphinx-en-us ffmpeg || echo "warning: could not install pocketsphinx-en-us/ffmpeg; the default model or compressed uploads may be unavailable" >&2
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/cli/main.js ] || [ -n "$(find src -newer dist/cli/main.js -name '*.ts' -print -quit)" ]; then
  npm run -s build
fi
# bin/theo.js runs through its own #! line, with the Node flags the runtime is measured with.
exec bin/theo.js serve "$@"
