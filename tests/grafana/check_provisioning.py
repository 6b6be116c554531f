#!/usr/bin/python3
"""Checks grafana/provisioning/ against what the dashboards and the stack need.

    check_provisioning.py SOURCE_DIR

- datasources.yml: apiVersion 1; one default Prometheus at http://prometheus:9090
  and an Alertmanager (type alertmanager, implementation prometheus) at
  http://alertmanager:9093; unique names and uids; the Prometheus -> Alertmanager
  link points at the provisioned Alertmanager uid; the Prometheus timeInterval
  equals the scrape interval of prometheus/prometheus.yml when that file exists
  (Grafana's $__rate_interval is derived from it).
- dashboards.yml: one file provider whose path is absolute and not the
  provisioning folder, and every dashboard JSON is a file the provider will load.
- If docker-compose.yml exists: it mounts grafana/dashboards at the provider path
  and grafana/provisioning at /etc/grafana/provisioning.
Uses python3-yaml.
"""
import glob
import os
import sys

import yaml

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def main():
    src = os.path.abspath(sys.argv[1])
    prov = os.path.join(src, "grafana", "provisioning")

    ds_doc = load(os.path.join(prov, "datasources", "datasources.yml"))
    check(ds_doc.get("apiVersion") == 1, "datasources.yml: apiVersion must be 1")
    dss = ds_doc.get("datasources") or []
    names = [d.get("name") for d in dss]
    uids = [d.get("uid") for d in dss]
    check(len(set(names)) == len(names), f"datasource names not unique: {names}")
    check(len(set(uids)) == len(uids) and all(uids), f"datasource uids missing/not unique: {uids}")
    check(sum(1 for d in dss if d.get("isDefault")) == 1, "exactly one default datasource")
    proms = [d for d in dss if d.get("type") == "prometheus"]
    ams = [d for d in dss if d.get("type") == "alertmanager"]
    if check(len(proms) == 1, "need exactly one prometheus datasource"):
        p = proms[0]
        check(p.get("url") == "http://prometheus:9090", f"prometheus url {p.get('url')}")
        check(p.get("access") == "proxy", "prometheus access must be proxy (server)")
        check(p.get("isDefault") is True, "prometheus must be the default datasource")
        jd = p.get("jsonData") or {}
        if ams:
            check(jd.get("alertmanagerUid") == ams[0].get("uid"),
                  "prometheus jsonData.alertmanagerUid must name the provisioned alertmanager")
        prom_yml = os.path.join(src, "prometheus", "prometheus.yml")
        if os.path.exists(prom_yml):
            scrape = ((load(prom_yml) or {}).get("global") or {}).get("scrape_interval", "1m")
            check(jd.get("timeInterval") == scrape,
                  f"prometheus jsonData.timeInterval {jd.get('timeInterval')} != "
                  f"scrape_interval {scrape} in prometheus/prometheus.yml")
        else:
            print("note: prometheus/prometheus.yml not present; timeInterval not cross-checked")
    if check(len(ams) == 1, "need exactly one alertmanager datasource"):
        a = ams[0]
        check(a.get("url") == "http://alertmanager:9093", f"alertmanager url {a.get('url')}")
        check((a.get("jsonData") or {}).get("implementation") == "prometheus",
              "alertmanager jsonData.implementation must be prometheus")

    db_doc = load(os.path.join(prov, "dashboards", "dashboards.yml"))
    check(db_doc.get("apiVersion") == 1, "dashboards.yml: apiVersion must be 1")
    providers = db_doc.get("providers") or []
    path = None
    if check(len(providers) == 1, "need exactly one dashboard provider"):
        pv = providers[0]
        check(pv.get("type") == "file", "provider type must be file")
        path = (pv.get("options") or {}).get("path", "")
        check(path.startswith("/") and not path.startswith("/etc/grafana/provisioning"),
              f"provider path {path!r} must be absolute and outside the provisioning dir")
        check(bool(pv.get("folderUid")), "provider needs a fixed folderUid")
    dashboards = glob.glob(os.path.join(src, "grafana", "dashboards", "*.json"))
    check(len(dashboards) >= 4, f"expected the 4 dashboards, found {len(dashboards)}")

    compose = os.path.join(src, "docker-compose.yml")
    if os.path.exists(compose) and path:
        doc = load(compose) or {}
        vols = []
        for svc in (doc.get("services") or {}).values():
            if "grafana" in str(svc.get("image", "")):
                vols = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}"
                        for v in svc.get("volumes") or []]
        mounts = {}
        for v in vols:
            parts = v.split(":")
            if len(parts) >= 2:
                mounts[os.path.normpath(parts[1])] = os.path.normpath(parts[0])
        check(mounts.get(os.path.normpath(path)) in ("grafana/dashboards", "./grafana/dashboards"),
              f"docker-compose.yml must mount ./grafana/dashboards at {path} (mounts: {vols})")
        check(mounts.get("/etc/grafana/provisioning") in ("grafana/provisioning",
                                                          "./grafana/provisioning"),
              f"docker-compose.yml must mount ./grafana/provisioning at "
              f"/etc/grafana/provisioning (mounts: {vols})")
    else:
        print("note: docker-compose.yml not present; mounts not cross-checked")

    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
