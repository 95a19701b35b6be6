#!/usr/bin/env bash
# The one command that sets up and runs the whole test suite on a fresh Debian machine with Node and npm:
# installs the Debian packages the tests use (when missing), installs npm dependencies, builds, then runs
# the quality gates (typecheck, lint) and every test. Its last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: an independent G.711 implementation (sox), an independent
# RTP sender and audio encoder (ffmpeg), real recorded speech with transcripts (Asterisk core sounds) and
# the real recogniser of the default model (PocketSphinx en-us), a real browser for the demo page, and
# Prometheus's linter for /metrics (promtool, from prometheus: ~19 MB download, 96 MB installed; where
# systemd runs, the package also starts a Prometheus server: `systemctl disable --now prometheus`).
DEB_PACKAGES=(sox ffmpeg asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-en-us chromium prometheus)
bash scripts/ensure-debs.sh "${DEB_PACKAGES[@]}" || echo "warning: could not install all Debian packages; tests that need them will fail" >&2

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >/dev/null 2>npm-install.log || { echo "npm ci failed:" >&2; cat npm-install.log >&2; echo "0 passed, 1 failed"; exit 1; }
  rm -f npm-install.log
fi

passed=0
failed=0
gate() {
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

gate build npm run -s build
gate typecheck npx tsc -p tsconfig.json --noEmit
gate lint npx eslint . --max-warnings 0

echo "== tests"
results=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$results"
read -r tp tf < <(node scripts/count-tests.mjs "$results")
rm -f "$results"
passed=$((passed + tp))
failed=$((failed + tf))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
