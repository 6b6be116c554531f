"""The Debian docker-compose (1.29) client validates docker-compose.yml with the
shipped .env.example, and without any .env (first run) with the documented local
defaults: Grafana admin password "admin", anonymous access off; the traffic
generator is in the demo profile. (1.29's `config --services` lists every service
whatever the profile, so that traffic is demo-only is checked in test_compose_static.)"""
import os
import shutil
import tempfile

from harness import SOURCE_DIR, fail, run_bounded

exe = shutil.which("docker-compose")
if not exe:
    fail("docker-compose not found (Debian package docker-compose)")
# The caller's environment must not fill in what .env.example is supposed to provide.
env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAFANA_", "PROMETHEUS_", "DEMO_", "COMPOSE_"))}
base = [exe, "--project-directory", SOURCE_DIR, "-f", os.path.join(SOURCE_DIR, "docker-compose.yml")]


def compose(env_file, *args):
    return run_bounded([*base, "--env-file", env_file, *args], 60, env=env)


res = compose(os.path.join(SOURCE_DIR, ".env.example"), "config", "-q")
if res.returncode != 0:
    fail("docker-compose config rejected the file:\n" + res.stderr)
res = compose(os.path.join(SOURCE_DIR, ".env.example"), "--profile", "demo", "config", "--services")
if sorted(res.stdout.split()) != ["alertmanager", "exporter", "grafana", "prometheus", "traffic"]:
    fail("with --profile demo: " + res.stdout + res.stderr)
with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
    res = compose(empty.name, "config")
    if res.returncode != 0:
        fail("`docker compose up` must work without a .env file:\n" + res.stderr)
    import yaml
    grafana_env = yaml.safe_load(res.stdout)["services"]["grafana"]["environment"]
    if grafana_env.get("GF_SECURITY_ADMIN_PASSWORD") != "admin":
        fail("without .env the documented local default admin password is 'admin': %r" % grafana_env)
    if str(grafana_env.get("GF_AUTH_ANONYMOUS_ENABLED")).lower() != "false":
        fail("anonymous access must be off by default: %r" % grafana_env)
print("ok: docker-compose config")
