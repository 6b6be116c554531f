"""The project's Dockerfile, built and run without a Docker engine (issue 11).

Builds the Dockerfile with Debian's podman (`--isolation=chroot`) from a bookworm
base made by `debootstrap --variant=minbase`, then runs the image's own entrypoint
and command (listen addresses moved to free loopback ports) with
`buildah run --isolation=chroot`. `podman run` cannot run here: crun's setrlimit
of RLIMIT_NOFILE is refused in this kind of sandbox, so buildah's chroot runner
stands in for a container runtime (host network, the image's USER and files).

Checks: the build succeeds; the image config keeps its non-root USER, entrypoint,
command and HEALTHCHECK; `--version` shows the checkout's git revision (REVISION
build argument); the shipped price table and config are the repository's files; the
running exporter's process has uid 10429, answers ready, prices an HTTP and a UDP
event from the shipped table, exposes the shipped budgets and build revision, and
stops on SIGTERM with exit 0, leaving its state file in the image's volume dir.

The debootstrap'ed base is cached outside the repository, in
$LLM_COST_EXPORTER_IMAGE_CACHE (default /var/cache/llm-cost-exporter), and rebuilt
when older than 7 days; podman keeps its layer cache in its own storage (reclaim
with `podman image prune`). Needs root (podman's rootful storage, chroot)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import exporter_process  # noqa: E402
import yaml  # noqa: E402

SOURCE_DIR = os.environ.get("SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
CACHE_DIR = os.environ.get("LLM_COST_EXPORTER_IMAGE_CACHE", "/var/cache/llm-cost-exporter")
BASE_TAR = os.path.join(CACHE_DIR, "bookworm-minbase.tar")
BASE_IMAGE = "localhost/llm-cost-exporter-test-base:bookworm"
IMAGE = "localhost/llm-cost-exporter:image-test"
BASE_MAX_AGE_S = 7 * 86400
UID = 10429
SKIP = 77  # ctest SKIP_RETURN_CODE


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def step(msg, t0=[time.monotonic()]):
    print("[%5.1fs] %s" % (time.monotonic() - t0[0], msg), flush=True)


def run(args, timeout, check=True, **kw):
    """subprocess.run, bounded; the child is killed by pid on expiry."""
    try:
        res = subprocess.run(args, timeout=timeout, capture_output=True, text=True, **kw)
    except subprocess.TimeoutExpired:
        fail("%s did not finish within %s s" % (" ".join(args[:3]), timeout))
    if check and res.returncode != 0:
        fail("%s exited %s:\n%s%s" % (" ".join(args), res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
    return res


def ensure_base():
    """The bookworm minbase tarball (cached) imported as BASE_IMAGE."""
    fresh = os.path.exists(BASE_TAR) and time.time() - os.path.getmtime(BASE_TAR) < BASE_MAX_AGE_S
    if not fresh:
        step("debootstrap --variant=minbase bookworm (cache: %s)" % BASE_TAR)
        os.makedirs(CACHE_DIR, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="rootfs-") as tmp:
            root = os.path.join(tmp, "rootfs")
            run(["debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian"], 900)
            run(["tar", "-C", root, "-cf", os.path.join(tmp, "base.tar"), "."], 300)
            os.replace(os.path.join(tmp, "base.tar"), BASE_TAR)  # atomic: never a half-written cache
    if not fresh or run(["podman", "image", "exists", BASE_IMAGE], 60, check=False).returncode != 0:
        step("podman import " + BASE_TAR)
        run(["podman", "import", BASE_TAR, BASE_IMAGE], 300)


def git_revision():
    res = run(["git", "-C", SOURCE_DIR, "rev-parse", "--short=12", "HEAD"], 30, check=False)
    if res.returncode != 0 or not res.stdout.strip():
        fail("not a git checkout: the image test needs the revision to pass as REVISION")
    return res.stdout.strip()


class ImageExporter(exporter_process.Exporter):
    """The image's entrypoint + command under `buildah run --isolation=chroot`, on free
    loopback ports (chroot isolation shares the host's network). The exporter is the
    grandchild of buildah, which SIGKILLs it when itself is signalled, so a wrapper
    prints the exporter's pid (same pid namespace) and stop() signals that pid."""

    def __init__(self, container, entrypoint, cmd):
        super().__init__(entrypoint[0], None)
        self.container, self.entrypoint = container, entrypoint
        moved = {"--web.listen-address": "127.0.0.1:%d" % self.web_port,
                 "--ingest.listen-address": "127.0.0.1:%d" % self.ingest_port,
                 "--udp.listen-address": "127.0.0.1:%d" % self.ingest_port}
        self.cmd = [a if a.split("=", 1)[0] not in moved else a.split("=", 1)[0] + "=" + moved[a.split("=", 1)[0]]
                    for a in cmd]
        # OTLP's default 127.0.0.1:4318 would be the host's (shared network): a free port instead.
        self.cmd.append("--otlp.listen-address=127.0.0.1:%d" % self.otlp_port)

    def args(self):
        return ["buildah", "run", "--isolation=chroot", self.container, "--",
                "bash", "-c", 'echo "exporter-pid $$"; exec "$@"', "bash", *self.entrypoint, *self.cmd]

    def pid(self):
        for line in self.read_log().splitlines():
            if line.startswith("exporter-pid "):
                return int(line.split()[1])
        fail("the wrapper did not print the exporter's pid:\n" + self.read_log()[-2000:])

    def stop(self, sig=signal.SIGTERM, timeout=10):
        os.kill(self.pid(), sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("the exporter did not stop within %s s of %s" % (timeout, sig))


def main():
    if os.geteuid() != 0:
        print("SKIP: the image test needs root (podman rootful storage, chroot isolation)")
        sys.exit(SKIP)
    for tool in ("podman", "buildah", "debootstrap", "git"):
        if not shutil.which(tool):
            fail(tool + " not found (scripts/install-deps installs podman, buildah, debootstrap)")
    revision = git_revision()
    ensure_base()

    step("podman build --isolation=chroot (REVISION=%s)" % revision)
    log = os.path.join(tempfile.gettempdir(), "llm-cost-exporter-image-build.log")
    with open(log, "w") as out:
        try:
            rc = subprocess.run(["podman", "build", "--isolation=chroot", "--format=docker", "--pull=never",
                                 "--build-arg", "DEBIAN_IMAGE=" + BASE_IMAGE, "--build-arg", "REVISION=" + revision,
                                 "-t", IMAGE, SOURCE_DIR], stdout=out, stderr=subprocess.STDOUT, timeout=1200).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout (1200 s)"
    if rc != 0:
        fail("podman build failed (%s); log %s:\n%s" % (rc, log, open(log).read()[-4000:]))
    step("built " + IMAGE)

    inspect = json.loads(run(["podman", "image", "inspect", IMAGE], 60).stdout)[0]
    config = inspect["Config"]
    if config.get("User") != "%d:%d" % (UID, UID):
        fail("image USER is %r, expected the numeric non-root %d:%d" % (config.get("User"), UID, UID))
    entrypoint, cmd = config.get("Entrypoint") or [], config.get("Cmd") or []
    if entrypoint != ["/usr/local/bin/llm-cost-exporter"]:
        fail("entrypoint %r" % entrypoint)
    shipped = {"--pricing.file": "/etc/llm-cost-exporter/prices.yml",
               "--config.file": "/etc/llm-cost-exporter/config.yml",
               "--storage.path": "/var/lib/llm-cost-exporter"}
    for flag, path in shipped.items():
        if flag + "=" + path not in cmd:
            fail("image command %r lacks %s=%s" % (cmd, flag, path))
    health = (inspect.get("Healthcheck") or {}).get("Test") or []
    if health[:1] != ["CMD"] or "127.0.0.1/10429" not in " ".join(health):
        fail("image lost its HEALTHCHECK on 10429 (needs --format=docker): %r" % inspect.get("Healthcheck"))

    container = "llm-cost-exporter-image-test-%d" % os.getpid()
    run(["buildah", "from", "--pull=never", "--name", container, IMAGE], 120)
    try:
        check_container(container, entrypoint, cmd, health[1:], revision)
    finally:
        run(["buildah", "rm", container], 120, check=False)
    print("ok: image builds from a debootstrap'ed bookworm base and runs as uid %d" % UID)


def in_container(container, *argv, timeout=60):
    return run(["buildah", "run", "--isolation=chroot", container, "--", *argv], timeout)


def check_container(container, entrypoint, cmd, health, revision):
    version = in_container(container, *entrypoint, "--version").stdout
    if "revision: %s)" % revision not in version:
        fail("--version shows %r, expected revision %s" % (version.strip(), revision))
    if in_container(container, "id", "-u").stdout.strip() != str(UID):
        fail("commands in the image do not run as uid %d" % UID)
    for repo_path, image_path in (("exporter/pricing/prices.yml", shipped_path(cmd, "--pricing.file")),
                                  ("exporter/config/llm-cost-exporter.yml", shipped_path(cmd, "--config.file"))):
        with open(os.path.join(SOURCE_DIR, repo_path)) as f:
            if in_container(container, "cat", image_path).stdout != f.read():
                fail("%s in the image is not the repository's %s" % (image_path, repo_path))
    prices = yaml.safe_load(open(os.path.join(SOURCE_DIR, "exporter/pricing/prices.yml")))
    budgets = yaml.safe_load(open(os.path.join(SOURCE_DIR, "exporter/config/llm-cost-exporter.yml")))["budgets"]
    rates = next(m for m in prices["models"] if m["model"] == "claude-sonnet-4-5")["usd_per_mtok"]

    ex = ImageExporter(container, entrypoint, cmd)
    try:
        step("buildah run: the image's entrypoint and command")
        ex.start(timeout=30)
        with open("/proc/%d/status" % ex.pid()) as f:
            uids = next(line.split()[1:] for line in f if line.startswith("Uid:"))
        if set(uids) != {str(UID)}:
            fail("the running exporter's uids are %s, expected %d" % (uids, UID))
        # The image's own HEALTHCHECK command, in the image, pointed at the moved port.
        probe = [a.replace("127.0.0.1/10429", "127.0.0.1/%d" % ex.web_port) for a in health]
        if run(["buildah", "run", "--isolation=chroot", container, "--", *probe], 30, check=False).returncode != 0:
            fail("the image's HEALTHCHECK command fails against the running exporter: %r" % probe)
        status, body = ex.post(json.dumps({"model": "claude-sonnet-4-5-20250929", "request_id": "msg_image_1",
                                           "usage": {"input_tokens": 1247, "output_tokens": 612},
                                           "labels": {"feature": "image-http", "tenant": "acme"}}))
        if status != 202:
            fail("HTTP ingest answered %s %s" % (status, body))
        ex.send_udp(json.dumps({"model": "claude-sonnet-4-5", "usage": {"input_tokens": 100, "cache_read_input_tokens": 2000},
                                "labels": {"feature": "image-udp", "tenant": "acme"}}))
        cost = exporter_process.total
        # The image runs with the default --web.zero-first-duration (30 s): new label sets
        # show their value only once that has passed since the first scrape showed them.
        s = ex.settle(lambda s: cost(s, "llm_cost_usd_total", feature="image-http") > 0
                      and cost(s, "llm_cost_usd_total", feature="image-udp") > 0, timeout=60)
        want_http = (1247 * float(rates["input"]) + 612 * float(rates["output"])) / 1e6
        want_udp = (100 * float(rates["input"]) + 2000 * float(rates["cache_read"])) / 1e6
        for feature, want in (("image-http", want_http), ("image-udp", want_udp)):
            got = cost(s, "llm_cost_usd_total", feature=feature)
            if abs(got - want) > 1e-9:
                fail("%s: cost %.9f USD, expected %.9f from the shipped prices.yml" % (feature, got, want))
        for key in s:
            if key[0] == "llm_exporter_build_info" and dict(key[1]).get("revision") != revision:
                fail("llm_exporter_build_info %s, expected revision %s" % (dict(key[1]), revision))
            if key[0] == "llm_exporter_pricing_info" and dict(key[1]).get("as_of") != prices["as_of"]:
                fail("llm_exporter_pricing_info %s: not the shipped table (as_of %s)" % (dict(key[1]), prices["as_of"]))
        for b in budgets:
            got = exporter_process.value(s, "llm_budget_usd", scope=b["scope"], period=b["period"])
            if got != float(b["usd"]):
                fail("llm_budget_usd{scope=%s,period=%s} = %s, expected %s from the shipped config"
                     % (b["scope"], b["period"], got, b["usd"]))
        rc = ex.stop()
        if rc != 0:
            fail("SIGTERM: exit %s:\n%s" % (rc, ex.read_log()[-2000:]))
    except RuntimeError as e:
        fail(str(e))
    finally:
        if ex.proc is not None and ex.proc.poll() is None:
            ex.proc.kill()
            ex.proc.wait(timeout=10)
        ex.tmp.cleanup()
    state = in_container(container, "find", shipped_path(cmd, "--storage.path"), "-type", "f", "-user", str(UID)).stdout
    if not state.strip():
        fail("no state file owned by uid %d in %s after SIGTERM" % (UID, shipped_path(cmd, "--storage.path")))
    step("stopped cleanly; state file " + state.strip().replace("\n", ", "))


def shipped_path(cmd, flag):
    return next(a.split("=", 1)[1] for a in cmd if a.startswith(flag + "="))


if __name__ == "__main__":
    main()
