#!/usr/bin/env bash
# The Linux installer cycle, as school IT would run it (needs root: dpkg):
#   1. build the release .deb with the npm @tauri-apps/cli
#      (`npx tauri build --bundles deb`; honours CARGO_TARGET_DIR),
#   2. `dpkg -i` it,
#   3. run the installed `/usr/bin/educloud --version` and `educloud doctor`;
#      check that the release build ignores the developer variables
#      (EDUCLOUD_POLICY, EDUCLOUD_SERVICE_URL, EDUCLOUD_BROWSER) and applies
#      them only under a machine policy (/etc/educloud/policy.json, written
#      for the check when the host has none) that sets AllowDeveloperOverrides,
#      and never to a key that policy sets,
#   4. launch the installed app once under Xvfb (temporary HOME) and check it
#      stays up,
#   5. `dpkg -r` it and check nothing is left behind but the user's data.
# Prints the release binary and .deb sizes and the time of each step.
# Exits non-zero on any failure.
#
# Usage: scripts/deb-cycle.sh [--skip-build]
#   --skip-build  reuse the .deb already in $CARGO_TARGET_DIR/release/bundle/deb
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SKIP_BUILD=0
for arg in "$@"; do
  case $arg in
    --skip-build) SKIP_BUILD=1 ;;
    *) echo "usage: $0 [--skip-build]" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'deb-cycle: FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 B"; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i / dpkg -r)"
for tool in dpkg dpkg-deb npx Xvfb; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/educloud-deb-cycle.XXXXXX")
APP_PID=""
XVFB_PID=""
PKG=""
INSTALLED_BY_US=0
WROTE_POLICY=0
cleanup() {
  local rc=$?
  if [ "$WROTE_POLICY" = 1 ]; then
    rm -f /etc/educloud/policy.json
    rmdir /etc/educloud 2>/dev/null || true
  fi
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null
  if [ "$INSTALLED_BY_US" = 1 ] && [ -n "$PKG" ] && dpkg -s "$PKG" >/dev/null 2>&1; then
    echo "deb-cycle: removing $PKG after a failure" >&2
    dpkg -r "$PKG" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$VERSION" ] || fail "no version in Cargo.toml"

# 1. Build.
BUNDLE_DIR=$CARGO_TARGET_DIR/release/bundle/deb
if [ "$SKIP_BUILD" = 0 ]; then
  say "build: npx tauri build --bundles deb (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  [ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund
  rm -f "$BUNDLE_DIR"/*.deb
  t0=$(now)
  npx tauri build --bundles deb --ci
  echo "build took $(( $(now) - t0 )) s"
fi
DEB=""
for f in "$BUNDLE_DIR"/*.deb; do
  if [ -f "$f" ] && { [ -z "$DEB" ] || [ "$f" -nt "$DEB" ]; }; then DEB=$f; fi
done
[ -n "$DEB" ] || fail "no .deb in $BUNDLE_DIR"
BIN=$CARGO_TARGET_DIR/release/educloud
PKG=$(dpkg-deb -f "$DEB" Package)
say "package $PKG $(dpkg-deb -f "$DEB" Version) ($(basename "$DEB"))"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $DEPENDS"
for dep in libwebkit2gtk-4.1-0 libgtk-3-0; do
  grep -q "$dep" <<<"$DEPENDS" || fail "the .deb does not depend on $dep"
done
dpkg-deb -c "$DEB" | grep -Eq ' (\./)?usr/bin/educloud$' || fail "the .deb has no /usr/bin/educloud"

# 2. Install.
say "install: dpkg -i"
if dpkg -s "$PKG" >/dev/null 2>&1; then
  fail "$PKG is already installed; remove it first (dpkg -r $PKG)"
fi
t0=$(now)
INSTALLED_BY_US=1
dpkg -i "$DEB"
echo "install took $(( $(now) - t0 )) s"
dpkg -L "$PKG" >"$WORK/files"
[ -x /usr/bin/educloud ] || fail "/usr/bin/educloud is not installed"
grep -q '\.desktop$' "$WORK/files" || fail "no .desktop entry installed"

# 3. The installed CLI, as a user with a fresh home.
USER_HOME=$WORK/home
mkdir -p "$USER_HOME"
as_user() {
  env -i PATH=/usr/bin:/bin HOME="$USER_HOME" \
    XDG_DATA_HOME="$USER_HOME/.local/share" XDG_CONFIG_HOME="$USER_HOME/.config" \
    XDG_CACHE_HOME="$USER_HOME/.cache" LANG=C.UTF-8 NO_AT_BRIDGE=1 "$@"
}
say "educloud --version"
OUT=$(as_user /usr/bin/educloud --version)
echo "$OUT"
[ "$OUT" = "educloud $VERSION" ] || fail "expected 'educloud $VERSION'"

# The release build reads the machine policy only at /etc/educloud/policy.json
# (EDUCLOUD_POLICY is a developer variable it ignores without permission).
MACHINE_POLICY=/etc/educloud/policy.json
HOST_POLICY=0
[ -e "$MACHINE_POLICY" ] && HOST_POLICY=1
say "educloud doctor"
as_user /usr/bin/educloud doctor | tee "$WORK/doctor.txt"
grep -q '^environment: ' "$WORK/doctor.txt" || fail "doctor printed no environment"
if [ "$HOST_POLICY" = 0 ]; then
  grep -q '^policy: none' "$WORK/doctor.txt" || fail "doctor should report no policy"
  grep -q '^environment: not chosen yet' "$WORK/doctor.txt" \
    || fail "a fresh install without policy should ask which service to use"
else
  echo "note: this host has $MACHINE_POLICY; the no-policy checks are skipped"
fi
if grep -q 'problem:' "$WORK/doctor.txt"; then fail "doctor reported a problem"; fi

say "the machine policy is a floor: developer variables in the release build"
cat >"$WORK/pupil.json" <<'JSON'
{"SharedDevice": false, "Language": "en", "ProxyUrl": "http://127.0.0.1:8888"}
JSON
chmod 644 "$WORK/pupil.json"
as_user env EDUCLOUD_POLICY="$WORK/pupil.json" EDUCLOUD_SERVICE_URL=http://127.0.0.1:9/ \
  EDUCLOUD_BROWSER=pupil-browser /usr/bin/educloud doctor | tee "$WORK/doctor-vars.txt"
if [ "$HOST_POLICY" = 0 ]; then
  for var in EDUCLOUD_POLICY EDUCLOUD_SERVICE_URL EDUCLOUD_BROWSER; do
    grep -q "^ignored: $var=" "$WORK/doctor-vars.txt" || fail "$var was not ignored"
  done
  if grep -q 'ProxyUrl =' "$WORK/doctor-vars.txt"; then fail "EDUCLOUD_POLICY added ProxyUrl"; fi
  grep -q '^browser: system default' "$WORK/doctor-vars.txt" || fail "EDUCLOUD_BROWSER applied"
  # A machine policy that allows the variables (a test PC): they fill only
  # the keys it leaves unset.
  WROTE_POLICY=1
  install -d -m 755 /etc/educloud
  printf '{"AllowDeveloperOverrides": true, "SharedDevice": true}\n' >"$MACHINE_POLICY"
  as_user env EDUCLOUD_POLICY="$WORK/pupil.json" EDUCLOUD_SERVICE_URL=http://127.0.0.1:9/ \
    /usr/bin/educloud doctor | tee "$WORK/doctor-allowed.txt"
  rm -f "$MACHINE_POLICY"; rmdir /etc/educloud 2>/dev/null || true
  WROTE_POLICY=0
  grep -q 'SharedDevice = true' "$WORK/doctor-allowed.txt" || fail "the machine's SharedDevice was lowered"
  grep -q 'Language = en' "$WORK/doctor-allowed.txt" || fail "an allowed EDUCLOUD_POLICY did not fill Language"
  grep -q '^environment: custom (Environment, http://127.0.0.1:9/)' "$WORK/doctor-allowed.txt" \
    || fail "an allowed EDUCLOUD_SERVICE_URL did not apply"
  grep -q '(its SharedDevice): the policy sets SharedDevice' "$WORK/doctor-allowed.txt" \
    || fail "the ignored SharedDevice was not reported"
fi
DATA_DIR=$USER_HOME/.local/share/educloud
[ -f "$DATA_DIR/educloud.sqlite" ] || fail "doctor did not create the user's database in $DATA_DIR"

# 4. The installed window, once, under Xvfb.
say "launch /usr/bin/educloud under Xvfb"
exec 3>"$WORK/display"
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
exec 3>&-
for _ in $(seq 50); do [ -s "$WORK/display" ] && break; sleep 0.1; done
DISPLAY_NUM=$(tr -d '[:space:]' <"$WORK/display")
[ -n "$DISPLAY_NUM" ] || fail "Xvfb did not start"
t0=$(now)
as_user env DISPLAY=":$DISPLAY_NUM" /usr/bin/educloud >"$WORK/app.log" 2>&1 &
APP_PID=$!
READY=""
for _ in $(seq 200); do
  kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log" >&2; fail "the app exited early"; }
  READY=$(grep -m1 '^EDUCLOUD_UI_READY' "$WORK/app.log" || true)
  [ -n "$READY" ] && break
  sleep 0.1
done
sleep 5
kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log" >&2; fail "the app did not stay up"; }
if [ -n "$READY" ]; then
  echo "window up; UI ready after ${READY#EDUCLOUD_UI_READY } ms; still running after $(( $(now) - t0 )) s"
else
  echo "window up, still running after $(( $(now) - t0 )) s (no EDUCLOUD_UI_READY line seen)"
fi
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
kill "$XVFB_PID"
wait "$XVFB_PID" 2>/dev/null || true
XVFB_PID=""
if grep -qiE 'panicked|error\[' "$WORK/app.log"; then
  cat "$WORK/app.log" >&2
  fail "the app logged an error"
fi

# 5. Remove, and check what is left.
say "remove: dpkg -r $PKG"
dpkg -r "$PKG"
INSTALLED_BY_US=0
if dpkg -L "$PKG" >/dev/null 2>&1; then fail "dpkg still lists files of $PKG"; fi
if dpkg -s "$PKG" 2>/dev/null | grep -q '^Status: install'; then fail "$PKG is still installed"; fi
[ ! -e /usr/bin/educloud ] || fail "/usr/bin/educloud is still there"
LEFT=0
while IFS= read -r f; do
  if [ -f "$f" ] || [ -L "$f" ]; then echo "left behind: $f" >&2; LEFT=1; fi
done <"$WORK/files"
[ "$LEFT" = 0 ] || fail "files of the package are left behind"
[ -f "$DATA_DIR/educloud.sqlite" ] || fail "the user's data was removed (it must stay)"
echo "package files gone; user data kept in $DATA_DIR"

say "sizes"
[ -f "$BIN" ] && echo "release binary: $BIN $(human "$(stat -c %s "$BIN")")"
echo ".deb: $DEB $(human "$(stat -c %s "$DEB")")"
echo "installed size: $(dpkg-deb -f "$DEB" Installed-Size) KiB"
echo
echo "deb-cycle: OK"
