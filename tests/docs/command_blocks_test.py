"""Every shell command block (```sh / ```bash) of README.md and
docs/quickstart-compose.md runs as written, in order, from the checkout, unless the
doc marks it. A marker is an HTML comment on the line before the block:

  <!-- docs-test: skip: <reason> -->       not run here (Docker, your own Prometheus...);
                                           the reason is printed
  <!-- docs-test: background: <URL> [note] -->  a server: started, and the next blocks run
  <!-- docs-test: background: output "X" -->   once <URL> answers 200 (or its output shows
                                           X); stopped (SIGTERM to its process group, by
                                           pid) when the next background block starts or
                                           at the end of the document. Lines after the
                                           server's command in the block never run.
  <!-- docs-test: install -->              `sudo cmake --install build`: run as
                                           `DESTDIR=<tmp> cmake --install <build dir>`; later
                                           blocks get <tmp>/usr/local/bin first on PATH and
                                           /etc/llm-cost-exporter/ read as <tmp>/etc/...

Unmarked blocks must exit 0 within 120 s. Everything runs in a private network
namespace (unshare --net, loopback only), so the documented ports 10429/10430 are
used as written and never clash with anything else on the machine. Blocks that name
the default build directory (build/, scripts/build) are run only when the tests'
build directory is <checkout>/build (as in CI); otherwise they are skipped, saying so.
Needs root (unshare)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_DIR = os.path.realpath(os.environ.get("SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.path.realpath(os.environ.get("BINARY_DIR", os.path.join(SOURCE_DIR, "build")))
DOCS = ["README.md", "docs/quickstart-compose.md"]
SHELLS = {"sh", "bash", "shell"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|background|install)\s*:?\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*$")
FOREGROUND_TIMEOUT, BACKGROUND_TIMEOUT = 120, 600


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def blocks(path):
    """[(line number, marker kind or None, marker argument, language, text)]"""
    lines = open(os.path.join(SOURCE_DIR, path)).read().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mk = MARKER.search(prev)
        out.append((start + 1, mk.group(1) if mk else None, mk.group(2) if mk else "", lang,
                    "\n".join(lines[start + 1:j]) + "\n"))
        i = j + 1
    return out


class Background:
    def __init__(self, script, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        # Own session: the block's shell and its children are one process group.
        self.proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=SOURCE_DIR, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def output(self):
        return open(self.log_path, errors="replace").read()

    def wait_ready(self, what):
        deadline = time.monotonic() + BACKGROUND_TIMEOUT
        url = None if what.startswith("output") else what.split()[0]
        needle = what.split('"')[1] if url is None else None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited %s before it was ready:\n%s" % (self.proc.returncode, self.output()[-3000:])
            if url:
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            return None
                except OSError:
                    pass
            elif needle in self.output():
                return None
            time.sleep(0.2)
        return "not ready within %s s (%s):\n%s" % (BACKGROUND_TIMEOUT, what, self.output()[-3000:])

    def stop(self):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def run_doc(doc, tmp):
    env = dict(os.environ, BUILD_DIR=BINARY_DIR)
    etc_map = None
    background, problems, counts = [], [], {"ran": 0, "skipped": 0, "background": 0, "other": 0}
    default_build = BINARY_DIR == os.path.join(SOURCE_DIR, "build")
    try:
        for line, kind, arg, lang, text in blocks(doc):
            where = "%s:%d" % (doc, line)
            if lang not in SHELLS:
                counts["other"] += 1
                continue
            if kind == "skip":
                print("%s: skipped: %s" % (where, arg or "no reason given"), flush=True)
                if not arg:
                    problems.append(where + ": a skip marker must give its reason")
                counts["skipped"] += 1
                continue
            if not default_build and re.search(r"(^|[\s/])(build/|scripts/build)", text):
                print("%s: skipped: names build/, and the tests' build dir is %s" % (where, BINARY_DIR), flush=True)
                counts["skipped"] += 1
                continue
            if kind == "install":
                dest = os.path.join(tmp, "destdir-" + os.path.basename(doc))
                res = subprocess.run(["cmake", "--install", BINARY_DIR], env=dict(env, DESTDIR=dest),
                                     capture_output=True, text=True, timeout=120)
                if res.returncode != 0:
                    problems.append("%s: cmake --install failed: %s" % (where, res.stderr[-2000:]))
                    break
                env["PATH"] = os.path.join(dest, "usr", "local", "bin") + os.pathsep + env["PATH"]
                etc_map = os.path.join(dest, "etc", "llm-cost-exporter") + "/"
                print("%s: installed with DESTDIR=%s" % (where, dest), flush=True)
                counts["ran"] += 1
                continue
            script = text.replace("/etc/llm-cost-exporter/", etc_map) if etc_map else text
            if kind == "background":
                for old in background:
                    old.stop()  # one server at a time: the next one may use the same ports
                bg = Background(script, env, os.path.join(tmp, "bg-%d.log" % line))
                background.append(bg)
                err = bg.wait_ready(arg)
                if err:
                    problems.append("%s: background block %s" % (where, err))
                    break
                print("%s: running in the background (%s)" % (where, arg), flush=True)
                counts["background"] += 1
                continue
            t0 = time.monotonic()
            try:
                res = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=SOURCE_DIR, env=env,
                                     capture_output=True, text=True, timeout=FOREGROUND_TIMEOUT,
                                     start_new_session=True)
            except subprocess.TimeoutExpired:
                problems.append("%s: did not finish within %s s" % (where, FOREGROUND_TIMEOUT))
                continue
            out = (res.stdout + res.stderr).strip()
            print("%s: exit %d in %.1f s%s" % (where, res.returncode, time.monotonic() - t0,
                                               (": " + out.splitlines()[-1][:160]) if out else ""), flush=True)
            if res.returncode != 0:
                problems.append("%s: exit %d:\n%s\n%s" % (where, res.returncode, text, out[-3000:]))
            counts["ran"] += 1
        for bg in background[-1:]:
            if bg.proc.poll() is not None:
                problems.append("%s: a background block exited early (%s):\n%s"
                                % (doc, bg.proc.returncode, bg.output()[-2000:]))
    finally:
        for bg in reversed(background):
            bg.stop()
    return problems, counts


def main():
    if os.environ.get("DOCS_TEST_NETNS") != "1":
        if os.geteuid() != 0 or not shutil.which("unshare"):
            print("SKIP: needs root and unshare (a private network namespace for the documented ports)")
            sys.exit(77)
        # Re-run this script in a new network namespace with loopback up.
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)],
                   dict(os.environ, DOCS_TEST_NETNS="1"))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    problems, summary = [], []
    with tempfile.TemporaryDirectory(prefix="llm-docs-test-") as tmp:
        for doc in DOCS:
            p, counts = run_doc(doc, tmp)
            problems += p
            summary.append("%s: %s" % (doc, ", ".join("%d %s" % (v, k) for k, v in counts.items())))
    print("\n".join(summary))
    if problems:
        fail("\n\n".join(problems))
    print("ok: every runnable shell block ran")


if __name__ == "__main__":
    main()
