#!/usr/bin/env bash
# The whole test suite: installs what it needs, then static checks, then every
# vitest project in turn (each needs the machine to itself: 2 cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PATH"
started=$(date +%s)
step() { echo; echo "=== test: $1 ($(($(date +%s) - started))s)"; }
step typecheck; npx tsc --noEmit
step lint; npx eslint .
step format; npx prettier --check . >/dev/null
# lifecycle brings its own sandbox up and down, so it runs after the sandbox project.
for project in unit workflow etcd sandbox e2e lifecycle; do
  step "vitest --project $project"
  npx vitest run --project "$project" "$@"
done
step "done"
