#!/usr/bin/env bash
# The programs the benchmarks compare briefing with (bench is not run by CI, so
# nothing else installs them). Run as root from the repository root:
#
#     bash bench/install_tools.sh
#
# - Debian's hugo (build_bench.py);
# - Debian's postfix for smtp-sink and smtp-source (send_bench.py), installed with
#   "No configuration": the Postfix daemon is neither configured nor started;
# - Pelican from PyPI into bench/.venv-pelican (build_bench.py also does this itself);
# - the Markdown parsers compared in bench/markdown_candidates.py, into
#   bench/.venv-md (it sees the system's packages, so briefing and markdown-it-py too).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hugo >/dev/null || [ ! -x /usr/sbin/smtp-sink ]; then
    apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q hugo postfix
fi

if [ ! -x bench/.venv-pelican/bin/pelican ]; then
    python3 -m venv bench/.venv-pelican
    bench/.venv-pelican/bin/pip install -q "pelican[markdown]==4.12.0"
fi

if [ ! -x bench/.venv-md/bin/python ]; then
    python3 -m venv --system-site-packages bench/.venv-md
fi
bench/.venv-md/bin/pip install -q markdown-it-pyrs cmarkgfm pyromark

hugo version
/usr/sbin/smtp-source 2>&1 | head -1 || true
bench/.venv-pelican/bin/pelican --version
bench/.venv-md/bin/python -m pip list 2>/dev/null | grep -iE "markdown|cmark|pyromark"
