"""Static checks of docker-compose.yml, Dockerfile, .dockerignore and .env.example
(Docker cannot run here): every mounted/built path exists, every image is pinned,
every service has a health check, only 127.0.0.1 ports are published and never the
ingest port, data lives in named volumes, and the image is built by the same
scripts CI uses."""
import fnmatch
import os
import re

import yaml

from harness import SOURCE_DIR, fail

errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

def src(*p):
    return os.path.join(SOURCE_DIR, *p)

compose = yaml.safe_load(open(src("docker-compose.yml")))
services = compose["services"]
check("version" not in compose, "drop the obsolete top-level `version:` (compose spec)")
check({"exporter", "prometheus", "alertmanager", "grafana", "traffic"} <= set(services), f"services: {sorted(services)}")
named_volumes = set(compose.get("volumes") or {})

# Exact versions: vX.Y.Z / X.Y.Z; a Debian base must be a dated snapshot.
PINNED = re.compile(r"^[\w./-]+:(v?\d+\.\d+\.\d+(-slim-bookworm)?|bookworm-\d{8}-slim)(@sha256:[0-9a-f]{64})?$")
LOCAL = "llm-cost-exporter:local"  # built here from the Dockerfile, never pulled

for name, svc in services.items():
    image = svc.get("image", "")
    if "build" in svc:
        check(image == LOCAL, f"{name}: built image should be tagged {LOCAL}, is {image!r}")
        ctx = svc["build"]["context"] if isinstance(svc["build"], dict) else svc["build"]
        dockerfile = svc["build"].get("dockerfile", "Dockerfile") if isinstance(svc["build"], dict) else "Dockerfile"
        check(os.path.isfile(src(ctx, dockerfile)), f"{name}: build file {ctx}/{dockerfile} missing")
    else:
        check(bool(PINNED.match(image)), f"{name}: image {image!r} is not pinned to an exact version")
    check("latest" not in image, f"{name}: floating tag in {image!r}")
    hc = svc.get("healthcheck") or {}
    check(bool(hc.get("test")) and not hc.get("disable"), f"{name}: no health check")
    for vol in svc.get("volumes", []):
        source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
        if source.startswith((".", "/")):
            check(os.path.exists(src(source)), f"{name}: mounted path {source} does not exist in the repo")
        else:
            check(source in named_volumes, f"{name}: volume {source} is not a declared named volume")
    for port in svc.get("ports", []):
        port = str(port)
        check(port.startswith("127.0.0.1:"), f"{name}: port {port} is published beyond 127.0.0.1")
        check("10430" not in port, f"{name}: the ingest port must not be published ({port})")

def mounts(name):
    return {v.split(":")[1]: v.split(":")[0] for v in services[name].get("volumes", []) if isinstance(v, str)}

exporter_cmd = [str(a) for a in services["exporter"].get("command", [])]
check("--otlp.listen-address=0.0.0.0:4318" in exporter_cmd, "the exporter must serve OTLP on 4318 in the container")
check("127.0.0.1:4318:4318" in [str(p) for p in services["exporter"].get("ports", [])],
      "the OTLP port must be published on 127.0.0.1 (Claude Code on the host exports there)")
check(mounts("prometheus").get("/prometheus") in named_volumes, "prometheus data must be a named volume")
check(mounts("grafana").get("/var/lib/grafana") in named_volumes, "grafana data must be a named volume")
check(mounts("prometheus").get("/etc/prometheus/rules") == "./prometheus/rules", "prometheus rules mount")
check(mounts("grafana").get("/etc/grafana/provisioning") == "./grafana/provisioning", "grafana provisioning mount")
check(mounts("grafana").get("/var/lib/grafana/dashboards") == "./grafana/dashboards", "grafana dashboards mount")
genv = services["grafana"].get("environment", {})
check("GRAFANA_ADMIN_PASSWORD" in str(genv.get("GF_SECURITY_ADMIN_PASSWORD")), "grafana password must come from the env file")
check(str(genv.get("GF_AUTH_ANONYMOUS_ENABLED")).endswith(":-false}"), "anonymous access must default to off")
check(re.match(r"grafana/grafana:11\.\d+\.\d+$", services["grafana"]["image"]), "Grafana must be an exact 11.x release")
traffic = services["traffic"]
check(traffic.get("profiles") == ["demo"], "traffic generator belongs to the demo profile only")
check(any("udp://exporter:10430" in str(a) for a in traffic.get("command", [])), "traffic must target exporter:10430")
check(any("--spike-at" in str(a) for a in traffic.get("command", [])), "demo traffic should include a spike")
for name, svc in services.items():
    if name != "traffic":
        check("profiles" not in svc, f"{name}: core services must run without a profile")

# Alertmanager: its compose entrypoint renders the receivers .env switches on, and
# the default receiver is the alert-log service, which needs no secret.
am = services["alertmanager"]
check(am.get("entrypoint") == ["/bin/sh", "/etc/alertmanager/compose-start.sh"], "alertmanager must start via compose-start.sh")
check(mounts("alertmanager").get("/etc/alertmanager") == "./alertmanager", "alertmanager config mount")
check("alert-log" in services and "alert-log" in (am.get("depends_on") or {}), "alertmanager needs the alert-log receiver")
check("http://alert-log:9099/alerts" in open(src("alertmanager", "alertmanager.yml")).read(),
      "the default webhook receiver must be the alert-log service")
check(mounts("alert-log").get("/opt/alert-log/alert_log.py") == "./alertmanager/alert_log.py", "alert-log script mount")

# Prometheus (other area) must scrape the compose service by its name.
prom_cfg = src("prometheus", "prometheus.yml")
if os.path.exists(prom_cfg):
    check("exporter:10429" in open(prom_cfg).read(), "prometheus.yml does not scrape exporter:10429")
    check("alertmanager:9093" in open(prom_cfg).read(), "prometheus.yml does not send to alertmanager:9093")

# .env.example defines every ${VAR:?} the compose file requires.
text = open(src("docker-compose.yml")).read()
env_example = dict(l.split("=", 1) for l in open(src(".env.example")).read().splitlines() if "=" in l and not l.startswith("#"))
for var in re.findall(r"\$\{(\w+)(?::?[-?][^}]*)?\}", text):
    check(var in env_example, f".env.example does not document {var}")

# Dockerfile: pinned bookworm base, CI's own scripts, non-root, health check.
dockerfile = open(src("Dockerfile")).read()
lines = [l.strip() for l in dockerfile.replace("\\\n", " ").splitlines() if l.strip() and not l.strip().startswith("#")]
bases = re.findall(r"^ARG DEBIAN_IMAGE=(\S+)", dockerfile, re.M)
check(len(bases) == 1 and PINNED.match(bases[0]) and "bookworm" in bases[0], f"Debian base not pinned: {bases}")
froms = [l for l in lines if l.upper().startswith("FROM ")]
check(len(froms) >= 2, "Dockerfile must be multi-stage")
run = " \n".join(l for l in lines if l.upper().startswith("RUN "))
check("scripts/install-deps --build" in run, "build stage must run scripts/install-deps --build")
check(re.search(r"BUILD_TESTS=OFF (REVISION=\S+ )?scripts/build\b", run), "build stage must run BUILD_TESTS=OFF scripts/build")
check(re.search(r"^ARG REVISION\b", dockerfile, re.M) and 'REVISION="${REVISION}"' in run,
      "the build stage must take the git revision as the REVISION build argument")
for name in ("exporter", "traffic"):
    args = (services[name]["build"] or {}).get("args", {})
    check("LLM_COST_EXPORTER_REVISION" in str(args.get("REVISION")), f"{name}: build.args.REVISION must come from LLM_COST_EXPORTER_REVISION")
check("install-deps --runtime" in run, "final stage must run install-deps --runtime")
ci = open(src("scripts", "test")).read()
check("scripts/install-deps" in ci and "scripts/build" in ci, "scripts/test no longer uses install-deps/build")
user = [l for l in lines if l.upper().startswith("USER ")]
check(user and user[-1].split()[1].split(":")[0] not in ("root", "0"), "final stage must run as non-root")
check(any(l.upper().startswith("HEALTHCHECK ") for l in lines), "Dockerfile needs a HEALTHCHECK")
check("/-/healthy" in dockerfile, "HEALTHCHECK should probe /-/healthy")

# Every COPY source exists and is not excluded from the build context.
ignores = [l.strip().rstrip("/") for l in open(src(".dockerignore")) if l.strip() and not l.startswith("#")]
def ignored(path):
    return any(fnmatch.fnmatch(path, pat.lstrip("*/")) or path.startswith(pat.rstrip("*") + "/")
               or fnmatch.fnmatch(path, pat) for pat in ignores if not pat.startswith("!"))
for l in lines:
    if l.upper().startswith("COPY ") and "--from=" not in l:
        for source in l.split()[1:-1]:
            check(os.path.exists(src(source)), f"Dockerfile copies {source}, which does not exist")
            check(not ignored(source), f"Dockerfile copies {source}, but .dockerignore excludes it")
for needed in ("CMakeLists.txt", "exporter", "scripts"):
    check(not ignored(needed), f".dockerignore excludes {needed}, which the build needs")
check(ignored(".git") and ignored(".env"), ".dockerignore must keep .git and .env out of the image")

if errors:
    fail("\n  " + "\n  ".join(errors))
print(f"ok: {len(services)} services, Dockerfile and .dockerignore checked")
