#!/usr/bin/env bash
# Offline checks of the deployment artefacts: the systemd unit, the Kubernetes manifests, the example configs,
# the alert rules, the Dockerfile. CI runs `bash deploy/validate.sh`; it needs no cluster, no Docker engine and
# no network beyond Debian's apt and PyPI (only the first time, to fetch its tools).
#
# Tools it fetches itself, into target/ (nothing is installed system-wide unless noted):
#   target/deploy-venv/    kubernetes-validate and PyYAML, pinned in deploy/requirements.txt
#   target/deploy-tools/   promtool (Debian's prometheus package) and shellcheck, unpacked with dpkg-deb -x
# and it uses: systemd-analyze (apt-get install systemd if missing), python3 >= 3.11, cargo (builds the
# ccc-sync binary to check the example configs; set CCC_SYNC_BIN to use a prebuilt one), and kubectl or
# kustomize for `kustomize build`: Debian has no kustomize new enough (its kubectl 1.20 has kustomize v2).
#
# Every check prints one line; a failing one prints its output. Exit status 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
TOOLS=$ROOT/target/deploy-tools
VENV=$ROOT/target/deploy-venv
# The Kubernetes versions the manifests must validate against: the oldest we support and the newest schemas.
K8S_VERSIONS=(1.30.0 1.34.0)
# systemd-analyze security: the unit's exposure must stay at or below 1.5 (0 best, 10 worst; 100 = 10.0).
SECURITY_THRESHOLD=15
START=$(date +%s)

failures=0
section() { printf '\n== %s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
note() { printf '  note  %s\n' "$*"; }
failed() {
  printf '  FAIL  %s\n' "$1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/        /'
  failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: runs the command, quiet on success, its output on failure.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else failed "$what" "$out"; fi
}
die() {
  printf 'validate.sh: %s\n' "$*" >&2
  exit 2
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------------------
section "tools"

# apt_unpack PACKAGE: the package's files under $TOOLS/PACKAGE, fetched once with apt-get download.
apt_unpack() {
  local pkg=$1 dest=$TOOLS/$1 dl
  [ -d "$dest/usr" ] && return 0
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    die "cannot fetch $pkg: no apt-get/dpkg-deb"
  fi
  dl=$(mktemp -d -p "$WORK")
  if ! (cd "$dl" && apt-get -o APT::Sandbox::User=root download "$pkg" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$dl" && apt-get -o APT::Sandbox::User=root download "$pkg" >/dev/null) || die "apt-get download $pkg failed"
  fi
  mkdir -p "$TOOLS"
  rm -rf "$dest.partial"
  dpkg-deb -x "$dl"/*.deb "$dest.partial" || die "cannot unpack $pkg"
  mv "$dest.partial" "$dest"
}

if command -v promtool >/dev/null; then PROMTOOL=$(command -v promtool); else
  apt_unpack prometheus
  PROMTOOL=$TOOLS/prometheus/usr/bin/promtool
fi
ok "promtool: $("$PROMTOOL" --version 2>&1 | head -1)"

if command -v shellcheck >/dev/null; then SHELLCHECK=$(command -v shellcheck); else
  apt_unpack shellcheck
  SHELLCHECK=$TOOLS/shellcheck/usr/bin/shellcheck
fi
ok "shellcheck $("$SHELLCHECK" --version | sed -n 's/^version: //p')"

if ! command -v systemd-analyze >/dev/null; then
  note "systemd-analyze is missing; installing Debian's systemd package"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null ||
    die "cannot install systemd"
fi
ok "$(systemd-analyze --version | head -1)"

command -v python3 >/dev/null || die "python3 is needed"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 >= 3.11 is needed (tomllib)"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s deploy/requirements.txt "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    note "python3 cannot create a venv; installing python3-venv"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || die "cannot install python3-venv"
    python3 -m venv "$VENV" || die "cannot create $VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r deploy/requirements.txt ||
    { rm -rf "$VENV"; die "pip install -r deploy/requirements.txt failed"; }
  cp deploy/requirements.txt "$VENV/requirements.txt"
fi
PY=$VENV/bin/python
ok "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)"

if command -v kustomize >/dev/null; then KUSTOMIZE=(kustomize build); ok "kustomize $(kustomize version 2>&1 | head -1)"
elif command -v kubectl >/dev/null; then KUSTOMIZE=(kubectl kustomize); ok "kubectl kustomize ($(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p'))"
else die "kubectl or kustomize is needed to render deploy/kubernetes (any kubectl >= 1.27)"; fi

if [ -n "${CCC_SYNC_BIN:-}" ]; then BIN=$CCC_SYNC_BIN; else
  cargo build --quiet --locked --bin ccc-sync || die "cargo build --bin ccc-sync failed"
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/ccc-sync
fi
[ -x "$BIN" ] || die "no ccc-sync binary at $BIN"
ok "ccc-sync binary: $BIN ($("$BIN" --version))"

# ---------------------------------------------------------------------------------------------------------
section "systemd unit (deploy/systemd/ccc-sync.service)"

UNIT=deploy/systemd/ccc-sync.service
# `verify` needs the ExecStart binary to exist and the units it is ordered against, so it runs in a scratch
# root: the unit as shipped, a stub at /usr/local/bin/ccc-sync, this host's own system units. Nothing outside
# $WORK is touched. verify exits 0 on unknown keys and bad values, only printing them, so any output fails.
VROOT=$WORK/root
mkdir -p "$VROOT/etc/systemd/system" "$VROOT/usr/local/bin" "$VROOT/usr/lib/systemd"
cp "$UNIT" "$VROOT/etc/systemd/system/ccc-sync.service"
printf '#!/bin/sh\nexit 0\n' >"$VROOT/usr/local/bin/ccc-sync"
chmod 0755 "$VROOT/usr/local/bin/ccc-sync"
[ -d /usr/lib/systemd/system ] && cp -a /usr/lib/systemd/system "$VROOT/usr/lib/systemd/"
verify_unit() {
  local out rc
  out=$(systemd-analyze verify --root="$VROOT" ccc-sync.service 2>&1)
  rc=$?
  printf '%s' "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify: no unknown keys, bad values or missing executables" verify_unit
security_unit() {
  systemd-analyze security --offline=yes --root="$VROOT" --threshold=$SECURITY_THRESHOLD ccc-sync.service >"$WORK/security" 2>&1
  local rc=$?
  grep -F 'Overall exposure' "$WORK/security"
  [ $rc -eq 0 ] || grep -F '✗' "$WORK/security"
  return $rc
}
if out=$(security_unit); then ok "systemd-analyze security: ${out##*: } (threshold $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10)))"
else failed "systemd-analyze security above $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10))" "$out"; fi
unit_has() {
  local line
  for line in "$@"; do grep -qxF -- "$line" "$UNIT" || { echo "missing: $line"; return 1; }; done
}
check "unit: Restart=on-failure, no restart on a config error, stop timeout > a window commit" \
  unit_has Restart=on-failure RestartPreventExitStatus=2 TimeoutStopSec=60s
check "unit: the AccessKey secret and the database password arrive as credentials" \
  unit_has 'Environment=CCC_SYNC__SOURCES__0__ACCESS_KEY_SECRET_FILE=%d/ccc-access-key-secret' 'Environment=PGPASSFILE=%d/pgpass'

# ---------------------------------------------------------------------------------------------------------
section "example configs accepted by the daemon's own loader"

# backfill with --from after --to is refused (exit 2, "is not before") after the config is loaded and
# validated and before anything is contacted: a clean way to ask the real loader about a file, offline.
# Any other answer (exit 2 with "invalid configuration", "unknown field", ...) is a problem with the file.
config_accepted() { # FILE [ENV=VALUE...]
  local file=$1
  shift
  env -i "$@" "$BIN" --config "$file" check --offline
}
# The unit's Environment= lines, with %d (the credentials directory) expanded to a scratch one that holds a
# placeholder for each LoadCredential= (start-up checks that secret files are readable and non-empty).
mapfile -t UNIT_ENV < <(sed -n 's/^Environment=//p' "$UNIT" | sed "s|%d|$WORK/credentials|g")
mkdir -p "$WORK/credentials"
while IFS= read -r credential; do
  echo "placeholder-$credential" >"$WORK/credentials/$credential"
done < <(sed -n 's/^LoadCredential=\([^:]*\):.*/\1/p' "$UNIT")
check "deploy/systemd/config.example.toml, with the unit's Environment= lines" \
  config_accepted deploy/systemd/config.example.toml "${UNIT_ENV[@]}"
# The Secret's files (secret.example.yaml's values) in a scratch directory, the config pointed at them.
mkdir -p "$WORK/k8s-secret"
"$PY" - "$WORK/k8s-secret" <<'EOF'
import pathlib, sys, yaml
for key, value in yaml.safe_load(open("deploy/kubernetes/secret.example.yaml"))["stringData"].items():
    pathlib.Path(sys.argv[1], key).write_text(value)
EOF
check "deploy/kubernetes/base/ccc-sync.toml, with the files of secret.example.yaml" \
  config_accepted deploy/kubernetes/base/ccc-sync.toml \
  "CCC_SYNC__DATABASE__PASSWORD_FILE=$WORK/k8s-secret/database-password" \
  "CCC_SYNC__SOURCES__0__ACCESS_KEY_SECRET_FILE=$WORK/k8s-secret/access-key-secret"

# ---------------------------------------------------------------------------------------------------------
section "Kubernetes manifests (deploy/kubernetes)"

render() { "${KUSTOMIZE[@]}" "$1" >"$2"; } # DIR OUTPUT
check "kustomize build deploy/kubernetes (the daemon)" render deploy/kubernetes "$WORK/daemon.yaml"
check "kustomize build deploy/kubernetes/cronjob (the CronJob alternative)" \
  render deploy/kubernetes/cronjob "$WORK/cronjob.yaml"
for version in "${K8S_VERSIONS[@]}"; do
  check "schemas of Kubernetes $version, strict (unknown fields refused): daemon, CronJob, example Secret, namespace" \
    "$VENV/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" \
    "$WORK/daemon.yaml" "$WORK/cronjob.yaml" deploy/kubernetes/secret.example.yaml deploy/kubernetes/namespace.yaml
done
check "how the objects fit: selectors, probes and ports, mounts, secret keys, security context, resources" \
  "$PY" deploy/check-manifests.py "$WORK/daemon.yaml" "$WORK/cronjob.yaml" deploy/kubernetes/secret.example.yaml
unlisted_manifests() {
  # Every YAML file is a kustomization, listed in one, or made by hand (deliberately in none).
  "$PY" - <<'EOF'
import pathlib, sys, yaml
base = pathlib.Path("deploy/kubernetes")
listed = {base / "secret.example.yaml", base / "namespace.yaml"}
for k in base.rglob("kustomization.yaml"):
    listed.add(k)
    doc = yaml.safe_load(k.read_text())
    for r in doc.get("resources", []):
        listed.add((k.parent / r).resolve().relative_to(pathlib.Path.cwd()))
    for g in doc.get("configMapGenerator", []):
        for f in g.get("files", []):
            listed.add(k.parent / f.split("=", 1)[-1])
unlisted = [str(p) for p in base.rglob("*") if p.is_file() and p not in listed]
print("\n".join(f"not in any kustomization: {p}" for p in unlisted))
sys.exit(1 if unlisted else 0)
EOF
}
check "every file under deploy/kubernetes is used by a kustomization (the namespace and example Secret excepted)" unlisted_manifests

# ---------------------------------------------------------------------------------------------------------
section "alert rules (deploy/prometheus)"

check "promtool check rules alerts.yaml" "$PROMTOOL" check rules deploy/prometheus/alerts.yaml
rule_tests() { (cd deploy/prometheus && "$PROMTOOL" test rules alerts.test.yaml); }
check "promtool test rules alerts.test.yaml: each alert fires when it should and only then" rule_tests
prometheusrule_matches() {
  sh deploy/prometheus/to-prometheusrule.sh | "$PY" -c '
import sys, yaml
rule = yaml.safe_load(sys.stdin)
plain = yaml.safe_load(open("deploy/prometheus/alerts.yaml"))
assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule", rule
assert rule["spec"] == plain, "spec differs from alerts.yaml"'
}
check "to-prometheusrule.sh wraps alerts.yaml unchanged" prometheusrule_matches
metrics_known() {
  local name bad=0 src_has_metrics=no
  grep -rqE '"ccc_sync_[a-z_]+"' src && src_has_metrics=yes
  while read -r name; do
    grep -qF "\`$name\`" docs/operations.md || { echo "$name is not described in docs/operations.md"; bad=1; }
    if [ $src_has_metrics = yes ] && ! grep -rqF "\"$name\"" src; then echo "$name is not a metric in src/"; bad=1; fi
  done < <(grep -oE 'ccc_sync_[a-z_]+' deploy/prometheus/alerts.yaml | sort -u)
  while read -r name; do
    grep -qF "\`$name\`" docs/operations.md || { echo "alert $name is not explained in docs/operations.md"; bad=1; }
  done < <(sed -n 's/^ *- alert: //p' deploy/prometheus/alerts.yaml)
  [ $src_has_metrics = yes ] || echo "note: src/ defines no ccc_sync_ metric yet; checked against docs only" >&2
  return $bad
}
check "every metric the rules use is documented (and defined in src/), every alert explained" metrics_known

# ---------------------------------------------------------------------------------------------------------
section "Dockerfile and scripts"

dockerfile_sane() {
  "$PY" - <<'EOF'
import re, sys, tomllib
text = open("Dockerfile").read()
problems = []
stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
cargo = tomllib.load(open("Cargo.toml", "rb"))
want = cargo["package"]["rust-version"]
if isinstance(want, dict):  # rust-version.workspace = true
    want = cargo["workspace"]["package"]["rust-version"]
m = re.match(r"rust:(\d+)\.(\d+)", stages[0][0]) if stages else None
if not m:
    problems.append("the first stage must build FROM rust:<version>")
elif tuple(map(int, m.groups())) < tuple(map(int, want.split(".")[:2])):
    problems.append(f"builder {stages[0][0]} is older than rust-version {want}")
if len(stages) < 2:
    problems.append("expected a build stage and a runtime stage")
for ref in re.findall(r"--from=(\S+)", text):
    if ref not in {s[1] for s in stages if s[1]}:
        problems.append(f"COPY --from={ref} names no stage")
if not re.search(r"cargo build [^\n]*--release[^\n]*--locked", text):
    problems.append("the build must be cargo build --release --locked")
final = text[text.rfind("\nFROM"):]
user = re.findall(r"^USER\s+(\S+)", final, re.M)
if not user or not re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]):
    problems.append("the runtime stage must end with a numeric non-root USER")
if not re.search(r'^ENTRYPOINT \["[^"]*ccc-sync"\]', final, re.M) or not re.search(r'^CMD \["run"\]', final, re.M):
    problems.append('expected ENTRYPOINT ["/usr/local/bin/ccc-sync"] and CMD ["run"]')
ignored = [l.strip().rstrip("/") for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
for needed in ("Cargo.toml", "Cargo.lock", "src", "migrations"):
    if any(p in (needed, "*", "**", "**/" + needed) for p in ignored):
        problems.append(f".dockerignore leaves {needed} out of the build context")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
}
check "Dockerfile: rust >= rust-version, --release --locked, numeric non-root USER, context keeps the sources" dockerfile_sane
check "shellcheck deploy/validate.sh deploy/prometheus/to-prometheusrule.sh" \
  "$SHELLCHECK" deploy/validate.sh deploy/prometheus/to-prometheusrule.sh

# ---------------------------------------------------------------------------------------------------------
printf '\n'
if [ $failures -gt 0 ]; then
  printf 'deploy/validate.sh: %d check(s) FAILED (%ds)\n' "$failures" $(($(date +%s) - START))
  exit 1
fi
printf 'deploy/validate.sh: all checks passed (%ds)\n' $(($(date +%s) - START))
