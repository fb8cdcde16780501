"""What the Kubernetes schemas cannot see: how the rendered objects fit together and the rules we hold them to.

Usage: check-manifests.py DAEMON.yaml CRONJOB.yaml SECRET.yaml (the output of `kubectl kustomize` for
deploy/kubernetes and deploy/kubernetes/cronjob, and secret.example.yaml). Run by deploy/validate.sh; prints one
line per problem and exits 1 if there is any.
"""

import sys
import tomllib

import yaml

CONFIG_PATH = "/etc/ccc-sync/ccc-sync.toml"
# A window commit takes a few seconds and a request may wait out its 10 s read timeout first.
MIN_GRACE_SECONDS = 30
# A backfill decodes and writes pages in bursts; a quota under one core throttles them (docs/performance.md).
MIN_CPU_LIMIT_CORES = 1

problems = []


def cores(quantity):
    """A Kubernetes CPU quantity ("500m", "2", 1.5) in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def problem(where, text):
    problems.append(f"{where}: {text}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind, where):
    found = by_kind(docs, kind)
    if len(found) != 1:
        problem(where, f"expected one {kind}, found {len(found)}")
        return None
    return found[0]


def check_pod(where, pod, configmaps, secret, expect_args_end, probes):
    """The rules every ccc-sync pod follows, Deployment or CronJob."""
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problem(where, "securityContext.runAsNonRoot must be true")
    if not isinstance(psc.get("runAsUser"), int) or psc.get("runAsUser") == 0:
        problem(where, "securityContext.runAsUser must be a non-zero UID")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(where, "securityContext.seccompProfile.type must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem(where, "automountServiceAccountToken must be false (the daemon never calls the API)")
    if spec.get("enableServiceLinks") is not False:
        problem(where, "enableServiceLinks must be false (no CCC_SYNC_* service variables)")
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        problem(where, "set terminationGracePeriodSeconds explicitly: stopping must outlast a window commit")
    elif grace < MIN_GRACE_SECONDS:
        problem(where, f"terminationGracePeriodSeconds {grace} < {MIN_GRACE_SECONDS}: a window commit may be cut short")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    containers = spec.get("containers", [])
    if len(containers) != 1:
        problem(where, f"expected one container, found {len(containers)}")
        return None
    c = containers[0]
    cw = f"{where} container {c['name']}"
    csc = c.get("securityContext", {})
    if csc.get("allowPrivilegeEscalation") is not False:
        problem(cw, "allowPrivilegeEscalation must be false")
    if csc.get("readOnlyRootFilesystem") is not True:
        problem(cw, "readOnlyRootFilesystem must be true")
    if csc.get("capabilities", {}).get("drop") != ["ALL"]:
        problem(cw, "capabilities.drop must be [ALL]")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for key in ("cpu", "memory"):
            if key not in res.get(part, {}):
                problem(cw, f"resources.{part}.{key} is missing")
    cpu_limit = res.get("limits", {}).get("cpu")
    if cpu_limit is not None and cores(cpu_limit) < MIN_CPU_LIMIT_CORES:
        problem(cw, f"resources.limits.cpu {cpu_limit} < {MIN_CPU_LIMIT_CORES} core: it throttles a backfill's bursts")

    args = c.get("args", [])
    if args[-len(expect_args_end):] != expect_args_end:
        problem(cw, f"args must end with {expect_args_end}, got {args}")
    if "--config" not in args or args[args.index("--config") + 1:][:1] != [CONFIG_PATH]:
        problem(cw, f"args must pass --config {CONFIG_PATH}")

    # Mounts: the config from the generated ConfigMap, secrets from the Secret the example shows.
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    config_dir, config_file = CONFIG_PATH.rsplit("/", 1)
    config = None
    mount = mounts.get(config_dir)
    volume = volumes.get(mount["name"]) if mount else None
    if not volume or "configMap" not in volume:
        problem(cw, f"{config_dir} must be a ConfigMap volume")
    else:
        cm = configmaps.get(volume["configMap"]["name"])
        if cm is None:
            problem(cw, f"ConfigMap {volume['configMap']['name']} is not in the rendered manifests")
        elif config_file not in cm.get("data", {}):
            problem(cw, f"ConfigMap {cm['metadata']['name']} has no key {config_file}")
        else:
            try:
                config = tomllib.loads(cm["data"][config_file])
            except tomllib.TOMLDecodeError as e:
                problem(cw, f"{config_file} is not TOML: {e}")

    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    secret_name = secret["metadata"]["name"]
    # Secrets are files, as in the systemd unit: the environment shows in `kubectl describe`-style tooling,
    # /proc/<pid>/environ and crash reports.
    for env in c.get("env", []):
        if "secretKeyRef" in env.get("valueFrom", {}):
            problem(cw, f"env {env['name']} comes from a Secret: mount it as a file instead")
    for env in c.get("envFrom", []):
        if "secretRef" in env:
            problem(cw, "envFrom a Secret puts secrets in the environment: mount them as files instead")
    database = (config or {}).get("database", {})
    if config is not None and not database.get("url"):
        problem(cw, "no database URL: database.url is not set in the config")
    if "@" in database.get("url", "") and ":" in database["url"].split("://", 1)[-1].split("@", 1)[0]:
        problem(cw, "database.url carries a password: use database.password_file")

    files = {}
    for path, m in mounts.items():
        v = volumes.get(m["name"])
        if v is None:
            problem(cw, f"mount {path} names a missing volume {m['name']}")
            continue
        if m.get("readOnly") is not True:
            problem(cw, f"mount {path} must be readOnly")
        if "subPath" in m:
            problem(cw, f"mount {path} uses subPath, which never sees updates of its source")
        if "secret" in v:
            s = v["secret"]
            if s["secretName"] != secret_name:
                problem(cw, f"volume {v['name']} mounts secret {s['secretName']}, not {secret_name}")
            for item in s.get("items", []):
                if item["key"] not in secret_keys:
                    problem(cw, f"volume {v['name']} needs key {item['key']}, which the example Secret lacks")
                files[f"{path}/{item['path']}"] = v["name"]

    if config is not None:
        for i, source in enumerate(config.get("sources", [])):
            f = source.get("access_key_secret_file")
            if f and f not in files:
                problem(cw, f"sources[{i}].access_key_secret_file {f} is not a mounted Secret file ({sorted(files)})")
        f = database.get("password_file")
        if not f:
            problem(cw, "database.password_file is not set: where does the password come from?")
        elif f not in files:
            problem(cw, f"database.password_file {f} is not a mounted Secret file ({sorted(files)})")

    port = None
    for name in probes:
        probe = c.get(name)
        if probe is None:
            problem(cw, f"{name} is missing")
            continue
        path = probe.get("httpGet", {}).get("path")
        # /livez checks only that the loops run; starting means being ready once (credentials included).
        want = "/livez" if name == "livenessProbe" else "/readyz"
        if path != want:
            problem(cw, f"{name} must GET {want}, not {path}")
        port = probe.get("httpGet", {}).get("port")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if isinstance(port, str):
            if port not in ports:
                problem(cw, f"{name} port {port} is not a named container port ({sorted(ports)})")
            port = ports.get(port)
    if probes and config is not None:
        listen = config.get("server", {}).get("listen", "")
        if not listen.startswith("0.0.0.0:") and not listen.startswith("[::]:"):
            problem(cw, f"server.listen {listen!r} must listen on all interfaces for probes and scrapes")
        elif port is not None and listen.rsplit(":", 1)[1] != str(port):
            problem(cw, f"server.listen {listen!r} and the probe port {port} differ")
    return c


def main(daemon_path, cronjob_path, secret_path):
    daemon, cron, secret_docs = load(daemon_path), load(cronjob_path), load(secret_path)
    secret = one(secret_docs, "Secret", secret_path)
    if secret is None:
        return

    where = "deploy/kubernetes"
    configmaps = {cm["metadata"]["name"]: cm for cm in by_kind(daemon, "ConfigMap")}
    deployment = one(daemon, "Deployment", where)
    service = one(daemon, "Service", where)
    pdb = one(daemon, "PodDisruptionBudget", where)
    sa = one(daemon, "ServiceAccount", where)
    if None in (deployment, service, pdb, sa):
        return
    for doc in daemon + [secret]:
        if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") != "ccc-sync":
            problem(where, f"{doc['kind']} {doc['metadata']['name']} is not in namespace ccc-sync")
    for path, docs in ((daemon_path, daemon), (cronjob_path, cron)):
        for doc in by_kind(docs, "Namespace") + by_kind(docs, "Secret"):
            problem(path, f"renders {doc['kind']} {doc['metadata']['name']}: `kubectl delete -k` would delete it "
                          "(and a namespace takes the hand-made Secret with it)")

    spec = deployment["spec"]
    dw = f"{where} Deployment"
    if spec.get("replicas") != 2:
        problem(dw, f"replicas must be 2, got {spec.get('replicas')}")
    labels = spec["template"]["metadata"].get("labels", {})
    selector = spec["selector"].get("matchLabels", {})
    if any(labels.get(k) != v for k, v in selector.items()):
        problem(dw, f"selector {selector} does not match the pod labels {labels}")
    if spec["template"]["spec"].get("serviceAccountName") != sa["metadata"]["name"]:
        problem(dw, "serviceAccountName is not the ServiceAccount of the kustomization")
    c = check_pod(dw, spec["template"], configmaps, secret, ["run"],
                  ["startupProbe", "livenessProbe", "readinessProbe"])

    sw = f"{where} Service"
    if any(labels.get(k) != v for k, v in service["spec"].get("selector", {}).items()):
        problem(sw, f"selector {service['spec'].get('selector')} does not select the Deployment's pods")
    ann = service["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
        problem(sw, "needs prometheus.io/scrape: \"true\" and prometheus.io/path: /metrics")
    if c is not None:
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        target = service["spec"]["ports"][0]["targetPort"]
        target = ports.get(target) if isinstance(target, str) else target
        if target is None or ann.get("prometheus.io/port") != str(target):
            problem(sw, f"prometheus.io/port {ann.get('prometheus.io/port')} is not the container port {target}")
    if any(labels.get(k) != v for k, v in pdb["spec"]["selector"].get("matchLabels", {}).items()):
        problem(f"{where} PodDisruptionBudget", "selector does not select the Deployment's pods")
    if pdb["spec"].get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
        problem(f"{where} PodDisruptionBudget", "unhealthyPodEvictionPolicy must be AlwaysAllow: an unready pod must not block a drain")

    if "pod-identity.alibabacloud.com/role-name" not in sa["metadata"].get("annotations", {}):
        problem(f"{where} ServiceAccount", "lacks the RRSA annotation pod-identity.alibabacloud.com/role-name")

    cw = f"{where}/cronjob CronJob"
    cronjob = one(cron, "CronJob", cw)
    if cronjob is not None:
        if cronjob["spec"].get("concurrencyPolicy") != "Forbid":
            problem(cw, "concurrencyPolicy must be Forbid")
        cron_cms = {cm["metadata"]["name"]: cm for cm in by_kind(cron, "ConfigMap")}
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
        if pod["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
            problem(cw, "restartPolicy must be Never or OnFailure")
        check_pod(cw, pod, cron_cms, secret, ["once"], [])
        pod_labels = pod["metadata"].get("labels", {})
        if all(pod_labels.get(k) == v for k, v in service["spec"].get("selector", {}).items()):
            problem(cw, "its pods would be selected by the daemon's Service")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)
