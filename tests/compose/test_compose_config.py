"""The Debian docker-compose (1.29) client validates docker-compose.yml with the
shipped .env.example, and without any .env (first run) with the documented local
defaults: Grafana admin password "admin", anonymous access off, no Slack or
PagerDuty; the traffic generator is in the demo profile. The project name is fixed
in the file (`name:`), never by .env, so copying .env.example renames nothing.
(1.29's `config --services` lists every service whatever the profile, so that
traffic is demo-only is checked in test_compose_static.)"""
import os
import tempfile

from harness import SOURCE_DIR, compose_rendered, compose_v1, fail

example = os.path.join(SOURCE_DIR, ".env.example")
res = compose_v1(example, "config", "-q")
if res.returncode != 0:
    fail("docker-compose config rejected the file:\n" + res.stderr)
res = compose_v1(example, "--profile", "demo", "config", "--services")
if sorted(res.stdout.split()) != ["alert-log", "alertmanager", "exporter", "grafana", "prometheus", "traffic"]:
    fail("with --profile demo: " + res.stdout + res.stderr)
env_keys = [l.split("=", 1)[0] for l in open(example).read().splitlines() if "=" in l and not l.startswith("#")]
if "COMPOSE_PROJECT_NAME" in env_keys:
    fail(".env.example must not set COMPOSE_PROJECT_NAME: the compose file's `name:` is the project name")
if "name: llm-cost\n" not in open(os.path.join(SOURCE_DIR, "docker-compose.yml")).read():
    fail("docker-compose.yml must set `name: llm-cost` (the documented volume names are llm-cost_*)")
with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
    first, later = compose_rendered(empty.name), compose_rendered(example)
    grafana_env = first["services"]["grafana"]["environment"]
    if grafana_env.get("GF_SECURITY_ADMIN_PASSWORD") != "admin":
        fail("without .env the documented local default admin password is 'admin': %r" % grafana_env)
    if str(grafana_env.get("GF_AUTH_ANONYMOUS_ENABLED")).lower() != "false":
        fail("anonymous access must be off by default: %r" % grafana_env)
    am_env = first["services"]["alertmanager"].get("environment", {})
    if any(am_env.get(k) for k in ("ALERTMANAGER_SLACK_WEBHOOK_URL", "ALERTMANAGER_PAGERDUTY_ROUTING_KEY")):
        fail("Slack and PagerDuty must be off without .env: %r" % am_env)
    # Same volumes and network before and after .env appears.
    for key in ("volumes", "networks"):
        if first.get(key) != later.get(key):
            fail("%s differ with and without .env: %r vs %r" % (key, first.get(key), later.get(key)))
print("ok: docker-compose config")
