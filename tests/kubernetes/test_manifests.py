#!/usr/bin/python3
"""deploy/kubernetes (issue 18, docs/kubernetes.md), without a cluster:

  1. renders both overlays with `kubectl kustomize` when kubectl is on PATH, and
     always with the small kustomize-equivalent renderer below (resources,
     components, namespace, labels, configMapGenerator without the name hash,
     images), and checks that both give the same objects;
  2. validates every rendered object against the Kubernetes and Prometheus
     Operator schemas (npm kubernetes-models, @kubernetes-models/prometheus-operator,
     pinned in this folder's package-lock.json; `npm ci`);
  3. checks what the schemas cannot: non-root read-only containers, probes on
     /-/healthy and /-/ready, the state volume at --storage.path, ingest reachable
     only through ClusterIP Services / hostPort with a NetworkPolicy admitting only
     labelled clients, the ServiceMonitor's job name being the rules' job, every
     PrometheusRule equal to its prometheus/rules/*.yml, every dashboard ConfigMap
     equal to its grafana/dashboards/*.json with the sidecar label.

usage: test_manifests.py <repo root>
"""
import copy
import glob
import json
import os
import shutil
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("kubernetes: FAIL: " + msg, flush=True)


# --- a small kustomize --------------------------------------------------------------

def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def render(dirpath):
    """Objects of the kustomization in dirpath: the features deploy/kubernetes uses."""
    with open(os.path.join(dirpath, "kustomization.yaml"), encoding="utf-8") as f:
        k = yaml.safe_load(f)
    objs = []
    for r in k.get("resources", []) + k.get("components", []):
        p = os.path.join(dirpath, r)
        objs += render(p) if os.path.isdir(p) else load_docs(p)
    for g in k.get("configMapGenerator", []):
        data = {}
        for spec in g.get("files", []):
            key, _, rel = spec.partition("=")
            with open(os.path.join(dirpath, rel or key), encoding="utf-8") as f:
                data[key if rel else os.path.basename(key)] = f.read()
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data})
    for lab in k.get("labels", []):
        for o in objs:
            o.setdefault("metadata", {}).setdefault("labels", {}).update(lab["pairs"])
            if lab.get("includeTemplates") and "template" in o.get("spec", {}):
                o["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(lab["pairs"])
    if "namespace" in k:
        for o in objs:
            if o["kind"] != "Namespace":
                o["metadata"]["namespace"] = k["namespace"]
    for img in k.get("images", []):
        for o in objs:
            pod = o.get("spec", {}).get("template", {}).get("spec", {})
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                if c["image"] == img["name"]:
                    c["image"] = "%s:%s" % (img.get("newName", img["name"]), img["newTag"])
    return objs


def key(o):
    return (o["kind"], o["metadata"]["name"])


def strip_hash(objs):
    """kustomize's configMapGenerator appends a content hash to the name (and to
    every reference); drop it for the comparison."""
    out = copy.deepcopy(objs)
    for o in out:
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("llm-cost-exporter-config-"):
            o["metadata"]["name"] = "llm-cost-exporter-config"
        pod = o.get("spec", {}).get("template", {}).get("spec", {})
        for v in pod.get("volumes", []):
            if "configMap" in v and v["configMap"]["name"].startswith("llm-cost-exporter-config-"):
                v["configMap"]["name"] = "llm-cost-exporter-config"
    return out


# --- checks ----------------------------------------------------------------------------

def arg(container, flag):
    for a in container.get("args", []):
        if a.startswith("--%s=" % flag):
            return a.split("=", 1)[1]
    return None


def check_overlay(name, objs, repo):
    by = {key(o): o for o in objs}
    workloads = [o for o in objs if o["kind"] in ("Deployment", "DaemonSet")]
    check(len(workloads) == 1, "%s: %d workloads" % (name, len(workloads)))
    w = workloads[0]
    pod = w["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10429,
          "%s: pod not runAsNonRoot as uid 10429" % name)
    check(pod.get("automountServiceAccountToken") is False, "%s: service account token mounted" % name)
    (c,) = [c for c in pod["containers"] if c["name"] == "exporter"]
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc.get("capabilities", {}).get("add"),
          "%s: exporter container not read-only / no-escalation / no capabilities" % name)
    check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/-/healthy",
          "%s: liveness probe not on /-/healthy" % name)
    check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/-/ready",
          "%s: readiness probe not on /-/ready" % name)
    ports = {p["name"]: p for p in c["ports"]}
    check(ports.get("metrics", {}).get("containerPort") == 10429, "%s: no metrics port 10429" % name)
    # State volume at --storage.path.
    storage = arg(c, "storage.path")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check(storage in mounts, "%s: --storage.path %s is not a mounted volume" % (name, storage))
    state = vols.get(mounts.get(storage), {})
    if w["kind"] == "Deployment":
        claim = state.get("persistentVolumeClaim", {}).get("claimName")
        check(("PersistentVolumeClaim", claim) in by, "%s: state volume is not the overlay's PVC" % name)
        check(w["spec"].get("strategy", {}).get("type") == "Recreate",
              "%s: a RWO state volume needs strategy Recreate" % name)
    else:
        check("hostPath" in state, "%s: DaemonSet state is not per node (hostPath)" % name)
        check(ports.get("ingest-udp", {}).get("hostPort") == 10430 and ports["ingest-udp"]["protocol"] == "UDP",
              "%s: no UDP hostPort 10430" % name)
    # Config files come from the generated ConfigMap.
    cfg_vol = [v for v in pod["volumes"] if "configMap" in v]
    check(len(cfg_vol) == 1, "%s: config ConfigMap volume missing" % name)
    if cfg_vol:
        cm = by.get(("ConfigMap", cfg_vol[0]["configMap"]["name"]))
        check(cm is not None, "%s: volume names ConfigMap %s, not rendered" % (name, cfg_vol[0]["configMap"]["name"]))
        mount = [m["mountPath"] for m in c["volumeMounts"] if m["name"] == cfg_vol[0]["name"]][0]
        for flag in ("config.file", "monitoring.config"):
            path = arg(c, flag) or ""
            check(path.startswith(mount + "/") and cm is not None and path[len(mount) + 1:] in cm["data"],
                  "%s: --%s=%s is not a key of the config ConfigMap" % (name, flag, path))
        if cm is not None:
            with open(os.path.join(repo, "exporter", "config", "llm-cost-exporter.yml")) as f:
                check(yaml.safe_load(cm["data"]["config.yml"]) == yaml.safe_load(f),
                      "%s: ConfigMap config.yml differs from exporter/config/llm-cost-exporter.yml" % name)
            with open(os.path.join(repo, "prometheus", "mixin", "config.yml")) as f:
                check(yaml.safe_load(cm["data"]["monitoring.yml"]) == yaml.safe_load(f),
                      "%s: ConfigMap monitoring.yml differs from prometheus/mixin/config.yml" % name)
    # Ingest: Services are ClusterIP; the NetworkPolicy admits only labelled clients.
    pod_labels = w["spec"]["template"]["metadata"]["labels"]
    for o in objs:
        if o["kind"] == "Service":
            check(o["spec"].get("type", "ClusterIP") == "ClusterIP", "%s: Service %s is %s" % (
                name, o["metadata"]["name"], o["spec"].get("type")))
            sel = o["spec"]["selector"]
            check(all(pod_labels.get(k) == v for k, v in sel.items()),
                  "%s: Service %s selects no exporter pod" % (name, o["metadata"]["name"]))
    nps = [o for o in objs if o["kind"] == "NetworkPolicy"]
    check(len(nps) == 1, "%s: %d NetworkPolicies" % (name, len(nps)))
    if nps:
        np = nps[0]["spec"]
        check(all(pod_labels.get(k) == v for k, v in np["podSelector"]["matchLabels"].items()),
              "%s: NetworkPolicy does not select the exporter pods" % name)
        check("Ingress" in np.get("policyTypes", []), "%s: NetworkPolicy has no Ingress policy" % name)
        ingest_ports = {(p["port"], p.get("protocol", "TCP"))
                        for p in c["ports"] if p["name"] != "metrics" for p in [dict(port=p["containerPort"],
                                                                                       protocol=p.get("protocol", "TCP"))]}
        for rule in np.get("ingress", []):
            check(rule.get("from"), "%s: a NetworkPolicy ingress rule admits every source" % name)
        allowed = {(p["port"], p.get("protocol", "TCP")) for r in np.get("ingress", []) for p in r.get("ports", [])}
        check(ingest_ports <= allowed, "%s: ingest ports %s not all covered by the NetworkPolicy %s" % (
            name, sorted(ingest_ports), sorted(allowed)))
        for r in np.get("ingress", []):
            if any(p["port"] in (10430, 4318) for p in r.get("ports", [])):
                check(all(f.get("podSelector", {}).get("matchLabels", {}).get("llm-cost-exporter/client") == "true"
                          for f in r["from"]),
                      "%s: ingest admitted from pods without the llm-cost-exporter/client label" % name)
    # ServiceMonitor -> metrics Service; its job label (the Service name) is the
    # job the rules select.
    sms = [o for o in objs if o["kind"] == "ServiceMonitor"]
    check(len(sms) == 1, "%s: %d ServiceMonitors" % (name, len(sms)))
    with open(os.path.join(repo, "prometheus", "mixin", "config.yml")) as f:
        job = yaml.safe_load(f)["selectors"]["exporter_job"]
    for sm in sms:
        svcs = [o for o in objs if o["kind"] == "Service" and all(
            o["metadata"].get("labels", {}).get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())]
        check(len(svcs) == 1, "%s: ServiceMonitor selects %d Services" % (name, len(svcs)))
        if svcs:
            check(job == 'job="%s"' % svcs[0]["metadata"]["name"] and not sm["spec"].get("jobLabel"),
                  "%s: scrape job %s, rules select %s" % (name, svcs[0]["metadata"]["name"], job))
            names = {p["name"] for p in svcs[0]["spec"]["ports"]}
            check(all(e["port"] in names for e in sm["spec"]["endpoints"]), "%s: ServiceMonitor port" % name)
    # PrometheusRules = prometheus/rules/*.yml; dashboards = grafana/dashboards/*.json.
    rules = {os.path.basename(p)[:-4]: load_docs(p)[0] for p in glob.glob(os.path.join(repo, "prometheus", "rules", "*.yml"))}
    got = {o["metadata"]["name"][len("llm-cost-exporter-"):]: o["spec"] for o in objs if o["kind"] == "PrometheusRule"}
    check(got == rules, "%s: PrometheusRules %s differ from prometheus/rules %s" % (name, sorted(got), sorted(rules)))
    dashboards = {}
    for p in glob.glob(os.path.join(repo, "grafana", "dashboards", "*.json")):
        with open(p) as f:
            dashboards[os.path.basename(p)] = json.load(f)
    seen = {}
    for o in objs:
        if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            for k, v in o["data"].items():
                seen[k] = json.loads(v)
    check(seen == dashboards, "%s: dashboard ConfigMaps %s differ from grafana/dashboards %s" % (
        name, sorted(seen), sorted(dashboards)))
    for o in objs:
        if o["kind"] == "ConfigMap":
            size = sum(len(v.encode()) for v in o["data"].values())
            check(size < 1_000_000, "%s: ConfigMap %s is %d bytes (limit 1 MiB)" % (name, o["metadata"]["name"], size))


def main():
    repo = sys.argv[1]
    overlays = sorted(glob.glob(os.path.join(repo, "deploy", "kubernetes", "overlays", "*")))
    check(len(overlays) == 2, "overlays: %s" % overlays)
    rendered = {}
    kubectl = shutil.which("kubectl")
    for ov in overlays:
        name = os.path.basename(ov)
        ours = render(ov)
        if kubectl:
            r = subprocess.run([kubectl, "kustomize", ov], capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, "%s: kubectl kustomize failed: %s" % (name, r.stderr[-1000:]))
            theirs = [d for d in yaml.safe_load_all(r.stdout) if d]
            a = sorted((json.dumps(o, sort_keys=True) for o in strip_hash(theirs)))
            b = sorted((json.dumps(o, sort_keys=True) for o in strip_hash(ours)))
            check(a == b, "%s: kubectl kustomize and the test's renderer differ: %s" % (
                name, sorted(set(map(key, theirs)) ^ set(map(key, ours)))))
            rendered[name] = theirs
            print("kubernetes: %s: %d objects (kubectl kustomize, %s)" % (
                name, len(theirs), subprocess.run([kubectl, "version", "--client"], capture_output=True,
                                                   text=True).stdout.split("\n")[1].strip()), flush=True)
        else:
            rendered[name] = ours
            print("kubernetes: %s: %d objects (no kubectl: the test's kustomize renderer)" % (name, len(ours)))
        check_overlay(name, rendered[name], repo)

    npm = shutil.which("npm")
    check(npm is not None, "npm not found (Debian packages nodejs + npm)")
    if npm:
        env = dict(os.environ, npm_config_audit="false", npm_config_fund="false",
                   npm_config_update_notifier="false")
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, env=env, capture_output=True,
                           text=True, timeout=300)
        check(r.returncode == 0, "npm ci failed: %s" % r.stderr[-1500:])
        if r.returncode == 0:
            for name, objs in rendered.items():
                v = subprocess.run(["node", os.path.join(HERE, "validate.js")], input=json.dumps(objs),
                                   capture_output=True, text=True, timeout=120, cwd=HERE)
                for line in v.stdout.splitlines():
                    if "INVALID" in line or "no schema" in line:
                        print("kubernetes: %s: %s" % (name, line))
                check(v.returncode == 0, "%s: schema validation failed" % name)
                print("kubernetes: %s: %d objects valid against the schemas" % (
                    name, v.stdout.count(": valid")), flush=True)
        # A planted defect must be caught (the validator can fail).
        bad = copy.deepcopy([o for o in rendered[next(iter(rendered))] if o["kind"] == "ServiceMonitor"])
        bad[0]["spec"]["endpoints"][0]["interval"] = 15
        v = subprocess.run(["node", os.path.join(HERE, "validate.js")], input=json.dumps(bad),
                           capture_output=True, text=True, timeout=60, cwd=HERE)
        check(v.returncode != 0, "validator accepted a ServiceMonitor with interval: 15 (a number)")
    print("kubernetes: %d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
