"""What the Prometheus and Alertmanager launchers share: a server binary on a free
127.0.0.1 port with its files in one work dir, started as a processes.Process and
stopped by process id."""
import json
import os
import tempfile

from ports import free_port
from processes import Process, stop_all


class LoopbackServer:
    """A server binary listening on a free 127.0.0.1 port, with its config
    (<name>.yml), log (<name>.log) and data in one work dir: a temp dir of its own
    unless `workdir` is given. flags: extra command line flags. api_timeout:
    seconds for each API request. Subclasses set `name` and call _run()."""

    name = "server"

    def __init__(self, binary, workdir=None, flags=(), api_timeout=10):
        self.binary = binary
        self.flags = list(flags)
        self.api_timeout = api_timeout
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="llm-%s-test-" % self.name)
            workdir = self._tmp.name
        os.makedirs(workdir, exist_ok=True)
        self.dir = os.path.abspath(workdir)
        self.port = free_port()
        self.config_file = os.path.join(self.dir, self.name + ".yml")
        self.log_path = os.path.join(self.dir, self.name + ".log")
        self.proc = None  # a Process (a subprocess.Popen) once started

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "http://" + self.address

    def write_file(self, name, text):
        """Writes text to `name` below the work dir; returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _run(self, config, args, timeout):
        """Writes config (a dict, as JSON, which is YAML) to config_file, starts the
        binary with args and the extra flags, and waits up to `timeout` seconds for
        /-/ready. On failure the process is stopped and RuntimeError carries the
        log tail."""
        self.write_file(self.config_file, json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        self.proc = Process.start_ready(self.name, [self.binary] + list(args) + self.flags, self.log_path,
                                        self.url + "/-/ready", timeout)
        return self

    def log_tail(self, lines=40):
        return self.proc.log_tail(lines) if self.proc is not None else ""

    def stop(self, timeout=15):
        """Stops the server by pid (SIGTERM, SIGKILL after timeout); never raises."""
        stop_all([self.proc], timeout)

    def close(self, timeout=15):
        """stop(), then removes the work dir if it is a temp dir of its own."""
        self.stop(timeout)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
