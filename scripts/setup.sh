#!/usr/bin/env bash
# Set up gan-nas-env for offline use; safe to run again.
#
#   bash scripts/setup.sh              # Fashion-MNIST (Debian) + pip install -e . (the main job)
#   bash scripts/setup.sh test         # the same + the test tools: pip install -e ".[test]"
#   bash scripts/setup.sh test,bench   # other extras
#
# 1. Installs the Debian package dataset-fashion-mnist (the offline default data set,
#    /usr/share/datasets/fashion-mnist) with apt-get when it is missing, apt-get exists
#    and we are root or sudo works without a password. Otherwise it warns: Fashion-MNIST
#    then comes from torchvision's downloader (needs internet) or from data.root.
# 2. pip-installs this package in editable mode with the given extras (none by default).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
EXTRAS="${*:-}"
EXTRAS="${EXTRAS// /,}"
TARGET="."
if [ -n "$EXTRAS" ]; then TARGET=".[$EXTRAS]"; fi
FMNIST_DIR=/usr/share/datasets/fashion-mnist
PYTHON="${PYTHON:-python3}"

say() { echo "[setup] $*"; }
warn() { echo "[setup] WARNING: $*" >&2; }

install_fashion_mnist() {
    if [ -d "$FMNIST_DIR" ] && ls "$FMNIST_DIR"/*-ubyte* >/dev/null 2>&1; then
        say "Fashion-MNIST already installed at $FMNIST_DIR"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        warn "apt-get not available; cannot install dataset-fashion-mnist." \
             "Fashion-MNIST will need torchvision's downloader (internet) or data.root."
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            warn "not root and no password-less sudo; skipping apt-get install dataset-fashion-mnist." \
                 "Run 'sudo apt-get install dataset-fashion-mnist' yourself, or rely on" \
                 "torchvision's downloader (internet) / data.root."
            return 0
        fi
    fi
    if ! apt-cache show dataset-fashion-mnist >/dev/null 2>&1; then
        say "running: ${sudo:+$sudo }apt-get update"
        $sudo apt-get update || warn "apt-get update failed"
    fi
    say "running: ${sudo:+$sudo }apt-get install -y dataset-fashion-mnist"
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist; then
        say "Fashion-MNIST installed at $FMNIST_DIR"
    else
        warn "apt-get install dataset-fashion-mnist failed; Fashion-MNIST will need" \
             "torchvision's downloader (internet) or data.root."
    fi
}

install_fashion_mnist
say "running: $PYTHON -m pip install -e \"$TARGET\""
"$PYTHON" -m pip install -e "$TARGET"
say "done"
