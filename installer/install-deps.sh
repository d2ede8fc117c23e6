#!/usr/bin/env bash
# Installs the Debian 12 packages SigmaOps needs to build, test and run. Idempotent: when nothing
# is missing it prints nothing and exits 0. Needs root (or sudo) only when something is missing.
#   installer/install-deps.sh           build + run dependencies
#   installer/install-deps.sh --test    also what the tests need (sshd, Xvfb, clang for fuzzing)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config git
      qt6-base-dev libgl-dev libssh-dev libsentencepiece-dev sentencepiece libsqlite3-dev libpcre2-dev
      catch2 nlohmann-json3-dev
      zlib1g-dev  # agents/logs reads .gz logs (rotated syslog.2.gz...) through zlib
      # issue 19: line editing + input history in `sigmaops chat` (libedit, BSD licence, the
      # readline API without GPL), the OpenAI-compatible server and remote backends (cpp-httplib,
      # header-only, kept by Debian), API keys in the desktop keyring (libsecret)
      libedit-dev libcpp-httplib-dev libssl-dev libsecret-1-dev
      openssh-client)  # ssh makes ProxyJump hops (agents/remote/session.cpp)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(openssh-server xvfb xauth sqlite3 procps sudo
         # real services the agents' tests start without systemd (issues 16-18): journal files
         # built by systemd-journal-remote and read by journalctl, and the services the config
         # agent tunes, with the checkers it runs against them (lynis, ansible-playbook).
         systemd-journal-remote nginx postgresql redis-server lynis ansible
         # issue 19: the tmux-driven chat test, the Jinja golden templates (python3-jinja2), and
         # the OpenAI API conformance test with the official `openai` Node.js client (npm)
         tmux python3-jinja2)
  # npm from Debian, unless a node.js that carries its own npm (NodeSource's, which conflicts
  # with Debian's npm package) is installed already.
  command -v npm >/dev/null || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
