#!/usr/bin/env bash
# Idempotent set-up of a tinydeploy checkout on Debian/Ubuntu:
#   1. the Debian packages (Arm toolchain + newlib + libstdc++, QEMU, Python venv support, host gcc), with
#      `apt-get update` only when something is missing, through sudo when not root;
#   2. .venv with `pip install -e .[$EXTRAS]`, redone only when pyproject.toml or EXTRAS changed since the last install;
#   3. the project's offline PlatformIO home (python -m tinydeploy.build.provision).
# A warm run only checks: a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.tinydeploy-install.sha256"
EXTRAS="ml,test,rig"  # the model pipeline, the test tools, the pytest plugin's rig dependencies
APT_PACKAGES=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib  # firmware for Cortex-M
  qemu-system-arm                                                           # the emulated boards
  ser2net                                                                   # labgrid farm demo: serial over RFC2217
  gcc libc6-dev make                                                        # the native board
  python3 python3-venv                                                      # .venv (ensurepip lives in python3-venv)
  ca-certificates                                                           # pip over HTTPS
  chromium                                                                  # tests: the HTML report in a headless browser
)

say() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root for: $*  (install sudo or run this script as root)" >&2
    exit 1
  fi
}

install_debian_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian-based system: install by hand: ${APT_PACKAGES[*]}"
    return
  fi
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "Debian packages: all present"
    return
  fi
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

pick_python() {
  # Python >= 3.11 (tomllib); prefer the one on PATH, then Debian's.
  local candidate
  for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  say "no Python >= 3.11 with venv support found (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
}

make_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    return
  fi
  local python
  python="$(pick_python)"
  say "creating $VENV with $python"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
}

install_python_packages() {
  local want have=""
  want="$( (echo "$EXTRAS"; cat pyproject.toml) | sha256sum | cut -d' ' -f1)"
  [ -f "$STAMP" ] && have="$(cat "$STAMP")"
  if [ "$want" = "$have" ] && "$VENV/bin/python" -c 'import tinydeploy' 2>/dev/null; then
    say "Python packages: up to date with pyproject.toml"
    return
  fi
  say "installing tinydeploy and its dependencies into .venv (pip install -e '.[$EXTRAS]')"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  echo "$want" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
}

provision_platformio() {
  "$VENV/bin/python" -m tinydeploy.build.provision
}

install_debian_packages
make_venv
install_python_packages
provision_platformio
say "done: try './run demo' or './run test'"
