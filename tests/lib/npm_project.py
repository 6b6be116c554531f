"""The npm side of the live tests that run real JavaScript clients (tests/otlp's
OpenTelemetry SDK, tests/claude_code's Claude Code CLI): `npm ci` from the folder's
committed lock file, offline-friendly settings, one place. Also runs one of the
folder's node scripts with a JSON spec on stdin."""
import json
import os
import shutil
import subprocess


class NpmError(Exception):
    pass


def npm_ci(folder, timeout=300):
    """npm ci in `folder` (its package-lock.json pins every version); returns the
    folder's node_modules/.bin. Raises NpmError with npm's output on failure."""
    npm = shutil.which("npm")
    if not npm:
        raise NpmError("npm not found (Debian packages nodejs + npm)")
    env = dict(os.environ, npm_config_audit="false", npm_config_fund="false", npm_config_update_notifier="false")
    res = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise NpmError("npm ci failed: " + res.stderr[-2000:])
    return os.path.join(folder, "node_modules", ".bin")


def run_node(folder, script, spec, timeout=60):
    """node <folder>/<script> with `spec` as JSON on stdin; returns the CompletedProcess."""
    return subprocess.run(["node", os.path.join(folder, script)], input=json.dumps(spec), cwd=folder,
                          capture_output=True, text=True, timeout=timeout)
