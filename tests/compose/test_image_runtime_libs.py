"""The final image installs only `scripts/install-deps --runtime` on a bookworm-slim
base. Check, from the binaries actually built, that every shared library they load
comes from a package in that list, its dependencies, or the slim base (the required
packages and apt, whose closure brings libc6, libstdc++6, libgcc-s1): a missing one
would only show up as a container that fails to start."""
import os
import re
import subprocess

from harness import EXPORTER, SOURCE_DIR, TRAFFIC_GEN, fail, run_bounded

deps_script = open(os.path.join(SOURCE_DIR, "scripts", "install-deps")).read()
m = re.search(r"runtime_pkgs=\(([^)]*)\)", deps_script)
if not m:
    fail("no runtime_pkgs=( ... ) in scripts/install-deps")
runtime = m.group(1).split()


def query(fmt, *pkgs):
    res = run_bounded(["dpkg-query", "-W", "-f", fmt, *pkgs], 60)
    return res.stdout


_installed = {}


def installed(name):
    if name not in _installed:
        res = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", name], capture_output=True, text=True, timeout=30)
        _installed[name] = res.returncode == 0 and res.stdout.endswith(" installed")
    return _installed[name]


def closure(roots):
    """Installed packages reachable through Depends/Pre-Depends (first installed alternative)."""
    seen, todo = set(), list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for dep in filter(None, (d.strip() for d in query("${Depends}, ${Pre-Depends}", pkg).split(","))):
            for alt in dep.split("|"):
                name = alt.strip().split()[0].split(":")[0]
                if installed(name):
                    todo.append(name)
                    break
    return seen


required = [p for p in query("${Package} ${Priority}\n").splitlines() if p.endswith(" required")]
base = closure([p.split()[0] for p in required] + ["apt"])
allowed = closure(runtime) | base

problems = []
for binary in (EXPORTER, TRAFFIC_GEN):
    if not os.access(binary, os.X_OK):
        fail("not built: " + binary)
    ldd = run_bounded(["ldd", binary], 30).stdout
    for lib in re.findall(r"=>\s+(/\S+)", ldd):
        owner = run_bounded(["dpkg-query", "-S", os.path.realpath(lib)], 30)
        if owner.returncode != 0:
            owner = run_bounded(["dpkg-query", "-S", lib], 30)
        pkg = owner.stdout.split(":")[0].strip()
        if not pkg:
            problems.append(f"{os.path.basename(binary)}: {lib} belongs to no package")
        elif pkg not in allowed:
            problems.append(f"{os.path.basename(binary)}: {lib} comes from {pkg}, which install-deps --runtime does not install")
if problems:
    fail("\n  " + "\n  ".join(sorted(set(problems))))
print(f"ok: every shared library of the exporter and llm-traffic-gen is in the runtime package set ({len(runtime)} roots)")
