#!/usr/bin/env bash
# OpenAPI conformance of the sandbox: starts `educloud sandbox`, waits for
# its `READY <base-url>` line, and runs schemathesis (PyPI) against the
# document the sandbox serves at `{base}api/openapi.yaml` — every operation,
# a bounded number of generated requests each — asserting no server error
# and responses that match the document (status, content type, schema).
#
# Usage: tests/openapi/run.sh [path/to/educloud]
#   without an argument the binary comes from `cargo run -q --bin educloud`.
# Environment: MAX_EXAMPLES (default 30 per operation), SEED (default 20261101),
#   EDUCLOUD_VENV (default $HOME/.cache/educloud-venv).
# Exits non-zero on any failure; always stops the sandbox it started.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${EDUCLOUD_VENV:-$HOME/.cache/educloud-venv}"
schemathesis_version="4.32.5"
max_examples="${MAX_EXAMPLES:-30}"
seed="${SEED:-20261101}"

st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  echo "installing schemathesis $schemathesis_version into $venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # The sandbox runs in its own process group (setsid): end the group, so
    # `cargo run`'s child goes too.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ $# -ge 1 ]; then
  setsid "$1" sandbox >"$work/stdout" 2>"$work/stderr" &
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/educloud-target}"
  setsid cargo run -q --bin educloud -- sandbox >"$work/stdout" 2>"$work/stderr" &
fi
pid=$!

base=""
for _ in $(seq 2400); do # up to 20 minutes (a cold `cargo run` builds first)
  line="$(grep -m1 '^READY ' "$work/stdout" || true)"
  if [ -n "$line" ]; then base="${line#READY }"; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the sandbox exited before READY" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  sleep 0.5
done
[ -n "$base" ] || { echo "FAIL: no READY line" >&2; exit 1; }
echo "sandbox at $base" >&2

# Sign in as a demo member so the Bearer operations (`me`, sign-out) are
# exercised past 401 too.
access="$(python3 - "$base" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(
    sys.argv[1] + "api/v1/sessions",
    data=json.dumps({"method": "password", "email": "parent.demo@example.com",
                     "password": "Demo-pass-2026!"}).encode(),
    headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
)"

# The document names its own origin in `servers`; --url makes sure of it.
# Run from the temp folder: schemathesis keeps a cache in its working dir.
set +e
(cd "$work" && "$st" run "${base}api/openapi.yaml" \
  --url "${base%/}" \
  --header "Authorization: Bearer $access" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --workers 2 \
  --request-timeout 30 \
  --generation-database none \
  --no-color)
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "FAIL: schemathesis found problems (exit $status)" >&2
  echo "--- sandbox stderr (last 40 lines) ---" >&2
  tail -n 40 "$work/stderr" >&2
  exit "$status"
fi
echo "openapi: 1 passed, 0 failed"
