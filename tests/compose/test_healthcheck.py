"""The HEALTHCHECK of the Dockerfile and of the compose exporter service (a bash
/dev/tcp probe, as the slim image has no curl) must pass against the real exporter
and fail when nothing listens."""
import json
import os
import re

import yaml

from harness import SOURCE_DIR, Exporter, fail, free_port, run_bounded

dockerfile = open(os.path.join(SOURCE_DIR, "Dockerfile")).read().replace("\\\n", " ")
m = re.search(r"^HEALTHCHECK\b.*?CMD\s+(\[.*\])\s*$", dockerfile, re.M)
if not m:
    fail("no exec-form HEALTHCHECK CMD in the Dockerfile")
probes = {"Dockerfile": json.loads(m.group(1))}
compose = yaml.safe_load(open(os.path.join(SOURCE_DIR, "docker-compose.yml")))
test = compose["services"]["exporter"]["healthcheck"]["test"]
if test[0] != "CMD":
    fail("compose exporter healthcheck should be exec form [CMD, ...]")
probes["docker-compose.yml"] = test[1:]

with Exporter() as ex:
    for where, cmd in probes.items():
        if "10429" not in " ".join(cmd):
            fail(f"{where}: the probe does not target port 10429")
        live = [c.replace("10429", str(ex.web_port)) for c in cmd]
        res = run_bounded(live, 15)
        if res.returncode != 0:
            fail(f"{where}: health probe failed against a healthy exporter: {res.stderr}")
        dead = [c.replace("10429", str(free_port())) for c in cmd]
        if run_bounded(dead, 15).returncode == 0:
            fail(f"{where}: health probe passed with nothing listening")
print("ok: health probes")
