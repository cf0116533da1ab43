#!/bin/sh
# Installs what ablab needs on Debian 12 (idempotent): checks each package with dpkg and installs
# only the missing ones — with apt-get as root, with sudo if it works without a password, otherwise
# it prints the exact apt-get line and stops. clang and libclang-rt-14-dev (libFuzzer and the
# sanitizer runtimes) build the fuzz harnesses that CI runs (`make fuzz`, docs/reliability.md).
set -eu
# texlive-latex-recommended (with its dependencies about 140 MB installed) is the smallest Debian set
# with booktabs, longtable and array: the test that compiles `ablab export --format tex` needs it
# (texlive-latex-extra would add about 80 MB more and is not needed). librsvg2-bin (rsvg-convert):
# the scale test renders the SVG plots of `ablab scale` with it, as a report would.
PKGS="meson ninja-build pkg-config gcc libc6-dev python3 libncurses-dev libopenblas-dev libsqlite3-dev libcmocka-dev libjansson-dev libpcre2-dev libinih-dev libutf8proc-dev tmux sqlite3 texlive-latex-recommended clang libclang-rt-14-dev librsvg2-bin libcurl4-openssl-dev libmicrohttpd-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ablab: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "ablab: run this once, then try again:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "ablab: apt-get update failed; trying the install with the current package lists" >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing
