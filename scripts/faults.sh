#!/usr/bin/env bash
# The whole fault suite: the fault runs in the test command (bad input, any size) and the longer
# ones kept out of it (test/faults), each a real migration in the sandbox under the live load
# client; then reports/faults.json and reports/faults.md. Exits non-zero if any run failed (the
# report still lists every run that finished).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh || exit 1
# The compose topology run (test/faults/compose-topology.test.ts) needs the Temporal server built
# (about 11 minutes the first time, cached after that).
bash scripts/setup.sh temporal_server || exit 1
export PATH="$PWD/.tools/bin:$PATH"
rm -rf reports/faults
status=0
npx vitest run --project e2e test/e2e/bad-input.test.ts test/e2e/any-size.test.ts "$@" || status=1
npx vitest run --project faults "$@" || status=1
npx tsx scripts/fault-report.ts || status=1
exit $status
