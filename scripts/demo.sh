#!/usr/bin/env bash
# The demo: installs what it needs, brings up the two-cluster sandbox and runs the scenario.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PATH"
exec npx tsx scripts/demo.ts "$@"
