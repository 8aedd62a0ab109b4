#!/bin/sh
# Smoke test of a reportbot installed by `scripts/install.sh runtime DIR/venv` (make install-check).
#
# Runs the installed console script only, from outside the source tree, the way the container
# does: the version, the shipped flow, key generation, a database made by the installed package
# (its packaged migrations), and `reportbot doctor --quick`, the image's health check, which must
# pass on that setup and fail on a broken one. The server's install has none of the analysts'
# commands (reportbot-analyst is not in it): `keys new-analyst` and `analyst` must be unknown, so
# the analyst's public key comes from the test vectors. tests/test_install.py lists the installed
# files of the same folder.
set -eu

dir=$(CDPATH='' cd -- "$1" && pwd)
src=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
bin=$dir/venv/bin
work=$dir/smoke
rm -rf "$work"
mkdir -p "$work/keys" "$work/analyst"
cp -R "$src/flows" "$src/locales" "$work/"
cd "$work"
touch "$work/.started"

"$bin/reportbot" --version
"$bin/reportbot" flows check flows/
"$bin/reportbot" keys new-bot --out keys >/dev/null
# The analysts' commands are not part of the server's install.
for cmd in "keys new-analyst" "analyst" "demo"; do
    # shellcheck disable=SC2086 # word splitting of $cmd is intended
    if "$bin/reportbot" $cmd --help >cmd.out 2>&1; then
        echo "install-check: 'reportbot $cmd' exists in the server's install" >&2
        exit 1
    fi
    grep -q 'No such command' cmd.out
done
"$bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["analysts"][0]["public_text"])' \
    "$src/tests/vectors/format-v1.json" >keys/alice.pub
"$bin/python" -c 'import sys; from pathlib import Path; from storage.schema import prepare_database; prepare_database(Path(sys.argv[1]))' data

export REPORTBOT_TOKEN=123456789:AAsmoketestsmoketestsmoketest_123
export REPORTBOT_DATA_DIR="$work/data"
export REPORTBOT_BOT_SIGNING_KEY="$work/keys/bot.key"
export REPORTBOT_ANALYST_PUBLIC_KEYS="$work/keys/alice.pub"
export REPORTBOT_FLOW="$work/flows/worker_report.yaml"
export REPORTBOT_LOCALES_DIR="$work/locales"
# cover mode is on by default: the health check fails without an entry code (docs/cover.md)
export REPORTBOT_ENTRY_CODES="smoke test entry 4821"
export PYTHONDONTWRITEBYTECODE=1
"$bin/reportbot" doctor --quick --env-file /nonexistent
"$bin/reportbot" db check --data "$work/data" >/dev/null

# The health check must also fail: a bot key that others can read.
chmod 644 keys/bot.key
if "$bin/reportbot" doctor --quick --env-file /nonexistent >doctor.out 2>&1; then
    echo "install-check: doctor --quick passed with a world-readable bot key" >&2
    exit 1
fi
grep -q 'FAIL\] bot signing key' doctor.out
# Nothing was compiled or written inside the installed environment while it ran.
if find "$dir/venv" -newer "$work/.started" | grep -q .; then
    echo "install-check: the installed environment was written to at run time" >&2
    exit 1
fi
echo "install-check: ok (installed from the lock files, doctor passes, and fails when it should)"
