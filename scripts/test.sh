#!/usr/bin/env bash
# The whole test suite: installs what it needs, then static checks, then every
# vitest project (unit, etcd integration, sandbox integration and end-to-end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.tools/bin:$PATH"
started=$(date +%s)
echo "test: typecheck"; npx tsc --noEmit
echo "test: lint"; npx eslint .
echo "test: vitest"; npx vitest run "$@"
echo "test: done in $(($(date +%s) - started))s"
