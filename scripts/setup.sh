# Sourced by the README's commands: everything a fresh machine (Python, pip, apt) needs.
# Creates .venv beside this repo and installs the package with the extras asked for in $EXTRAS.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing the graphviz 'dot' program (apt-get install graphviz)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
      || echo "setup: apt-get could not install graphviz; pictures will be written as .dot sources only"
  else
    echo "setup: the graphviz 'dot' program is missing; install it with: sudo apt-get install graphviz"
  fi
fi
if ! command -v chromium >/dev/null 2>&1; then  # the report page's browser test (tests/test_report_page.py)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Chromium for the report page's browser test (apt-get install chromium)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: apt-get could not install chromium; the browser test will be skipped"
  else
    echo "setup: chromium is missing (the browser test will be skipped); install it with: sudo apt-get install chromium"
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${EXTRAS}]"
export PATH="$repo/.venv/bin:$PATH"
