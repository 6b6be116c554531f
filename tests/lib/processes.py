"""Child processes of the tests: started with their output in a log file, waited
for on an HTTP readiness endpoint, stopped by process id.

Every child gets PR_SET_PDEATHSIG(SIGKILL) through setpriv (util-linux), so it
dies with the thread that started it even when the test itself is killed (a ctest
timeout); setpriv execs the command, so the pid is the command's. Tests still stop
every child by pid in try/finally or a context manager.
"""
import signal
import subprocess
import time

from http_client import http

SETPRIV = "/usr/bin/setpriv"


def with_pdeathsig(argv):
    """argv run through setpriv so that the child gets SIGKILL when the thread that
    started it dies (no preexec_fn, which is unsafe with threads)."""
    return [SETPRIV, "--pdeathsig", "KILL", "--"] + list(argv)


def popen(args, **kw):
    """subprocess.Popen of with_pdeathsig(args)."""
    return subprocess.Popen(with_pdeathsig(args), **kw)


def tail(path, lines=40):
    """The last `lines` lines of a log file ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


class Process(subprocess.Popen):
    """A child process (a Popen: pid, poll, send_signal, wait) whose stdout and
    stderr are appended to log_path; named in every failure message."""

    def __init__(self, name, argv, log_path, cwd=None, env=None):
        self.name, self.log_path = name, log_path
        with open(log_path, "ab") as log:  # the child keeps its own descriptor
            super().__init__(with_pdeathsig(argv), stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env)

    def log_tail(self, lines=40):
        return tail(self.log_path, lines)

    def check_alive(self):
        """Raises RuntimeError, with the log tail, if the process has exited."""
        if self.poll() is not None:
            raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.returncode, self.log_tail()))

    def wait_ready(self, url, timeout, interval=0.1, request_timeout=1, **http_options):
        """Polls GET url until it answers 200. Raises RuntimeError with the log tail
        if the process exits first or `timeout` seconds pass (the process is then
        left running: the caller stops it). http_options go to http_client.http
        (headers, context)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if http("GET", url, timeout=request_timeout, **http_options)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(interval)
        self.check_alive()
        raise RuntimeError("%s not ready within %ss (%s):\n%s" % (self.name, timeout, url, self.log_tail()))

    @classmethod
    def start_ready(cls, name, argv, log_path, url, timeout, interval=0.1, cwd=None, env=None, **http_options):
        """Starts the process and waits until url answers 200 (wait_ready). On failure
        the process is stopped by pid and the RuntimeError (with its log tail) raised."""
        proc = cls(name, argv, log_path, cwd=cwd, env=env)
        try:
            proc.wait_ready(url, timeout, interval=interval, **http_options)
        except BaseException:
            stop_all([proc])
            raise
        return proc

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig to the pid and returns the exit code. A process still running
        after `timeout` seconds is killed (SIGKILL) and RuntimeError is raised."""
        if self.poll() is not None:
            return self.returncode
        self.send_signal(sig)
        try:
            return self.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.wait(timeout=5)
            raise RuntimeError("%s did not stop within %ss after signal %s" % (self.name, timeout, sig))


def stop_all(processes, timeout=10):
    """SIGTERM to every process of `processes` still running (None entries are
    skipped), then waits up to `timeout` seconds for each and kills (SIGKILL) any
    that is left. Never raises: for finally blocks."""
    live = [p for p in processes if p is not None and p.poll() is None]
    for p in live:
        p.send_signal(signal.SIGTERM)
    for p in live:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

