#!/bin/sh
# Install reportbot into a virtual environment from the hash-pinned lock files.
#
#   scripts/install.sh dev VENV       the developers' and CI's environment: requirements-dev.lock
#                                     (runtime + test tools), reportbot and reportbot-analyst
#                                     installed editable
#   scripts/install.sh runtime VENV   what the container image runs: requirements.lock only and
#                                     reportbot installed as a regular package; the build tool
#                                     (setuptools, pinned in requirements-build.lock) is removed
#                                     again afterwards. It never contains reportbot-analyst, the
#                                     only code that opens envelopes and digests.
#   scripts/install.sh analyst VENV   an analyst's machine: as runtime, plus reportbot-analyst
#                                     (open, verify, reply, new-analyst); works from a copy of
#                                     this repository, no checkout needed afterwards
#
# The Dockerfile runs the `runtime` line; `make install-check` (run by .ci/run) runs the very same
# line into a temporary folder and smoke-tests the result, so the image's install steps are
# exercised by CI even where no container engine exists. `make` (every target) runs `dev`.
#
# Every dependency is installed with --require-hashes --no-deps: exactly the locked files, nothing
# resolved at install time. PYTHON selects the interpreter (default python3.11, else python3).
set -eu

usage() {
    echo "usage: scripts/install.sh dev|runtime|analyst VENV" >&2
    exit 2
}

[ $# -eq 2 ] || usage
mode=$1
venv=$2
here=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

if [ -z "${PYTHON:-}" ]; then
    if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || { echo "install: $PYTHON not found" >&2; exit 1; }

pip_install() {
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
}

case $mode in
dev)
    "$PYTHON" -m venv "$venv"
    pip_install --require-hashes --no-deps -r "$here/requirements-dev.lock"
    pip_install --no-deps --no-build-isolation -e "$here"
    pip_install --no-deps --no-build-isolation -e "$here/analyst"
    ;;
runtime|analyst)
    "$PYTHON" -m venv "$venv"
    pip_install --require-hashes --no-deps -r "$here/requirements.lock"
    # Building reportbot's own (pure Python) wheels needs setuptools; the pinned one, not whatever
    # build isolation would fetch. It is not needed at run time, so it goes again.
    pip_install --require-hashes --no-deps -r "$here/requirements-build.lock"
    # setuptools builds in the source tree (build/): a leftover from an earlier build would
    # put modules deleted since into the wheel.
    rm -rf "$here/build" "$here/analyst/build"
    pip_install --no-deps --no-build-isolation --no-cache-dir "$here"
    if [ "$mode" = analyst ]; then
        pip_install --no-deps --no-build-isolation --no-cache-dir "$here/analyst"
    fi
    "$venv/bin/python" -m pip uninstall --quiet --yes setuptools
    # What was installed must be consistent (every locked requirement present).
    "$venv/bin/python" -m pip check
    ;;
*)
    usage
    ;;
esac
