# Sourced by the README's commands: everything a fresh machine (Python, pip, apt) needs.
# Creates .venv beside this repo and installs the package with the extras asked for in $EXTRAS.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# apt_program PROGRAM PACKAGE WHAT-FOR WITHOUT-IT: installs a Debian package when its program is missing
# (as root), else says the command to run; nothing here fails the setup, the tests skip saying why
apt_program() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing '$1' for $3 (apt-get install $2)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null) \
      || echo "setup: apt-get could not install $2; $4"
  else
    echo "setup: '$1' is missing ($4); install it with: sudo apt-get install $2"
  fi
}
apt_program dot graphviz "graph pictures" "pictures will be written as .dot sources only"
apt_program chromium chromium "the report page's browser test" "the browser test will be skipped"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${EXTRAS}]"
export PATH="$repo/.venv/bin:$PATH"
