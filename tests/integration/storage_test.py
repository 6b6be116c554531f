"""--storage.path and shutdown, through the real binary (issue 13 items 6, 8, 9;
issue 11 item 5): SIGTERM drains the UDP socket before the final checkpoint and
keeps the kernel drop counter; a batch is never split across a checkpoint by
kill -9; one instance per storage directory; the directory is created and checked
writable at start. Expected counts are what the test sent."""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, total, value  # noqa: E402
from http_client import http  # noqa: E402
from processes import Process  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")


def event(i, tenant="acme"):
    return {"model": "claude-haiku-4-5", "usage": {"input_tokens": 100 + i % 7, "output_tokens": 10},
            "labels": {"feature": "f%d" % (i % 3), "tenant": tenant}}


class StorageCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="llm-storage-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def exporter(self, *extra, ports_from=None, start=True):
        e = Exporter(BINARY, PRICES, None, ["--storage.path=" + self.dir] + list(extra))
        if ports_from is not None:
            e.web_port, e.ingest_port = ports_from.web_port, ports_from.ingest_port
        self.addCleanup(e.close)
        return e.start() if start else e


class ShutdownTest(StorageCase):
    SENT = 3000

    def queue_behind_sigstop(self, *extra):
        """Sends SENT datagrams while the exporter is stopped (SIGSTOP), so they wait
        in the socket queue; then SIGCONT and SIGTERM at once. Returns the restarted
        exporter's scrape."""
        a = self.exporter(*extra)
        a.settle()
        a.proc.send_signal(signal.SIGSTOP)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(self.SENT):
                    s.sendto(json.dumps(event(i)).encode(), ("127.0.0.1", a.ingest_port))
        finally:
            a.proc.send_signal(signal.SIGCONT)
            a.proc.send_signal(signal.SIGTERM)
        self.assertEqual(a.proc.wait(timeout=30), 0, a.read_log()[-2000:])
        b = self.exporter(ports_from=a)
        return a, b.settle()

    def test_sigterm_drains_datagrams_queued_behind_sigstop(self):
        a, s = self.queue_behind_sigstop("--udp.read-buffer-bytes=33554432")
        accepted = value(s, "llm_exporter_events_total", transport="udp", result="accepted")
        dropped = value(s, "llm_exporter_udp_receive_dropped_total")
        # Every accepted event is counted; nothing is unaccounted for: sent = accepted + kernel drops.
        self.assertEqual(total(s, "llm_requests_total"), accepted)
        self.assertEqual(accepted + dropped, self.SENT, "lost uncounted: %d" % (self.SENT - accepted - dropped))
        # A 32 MiB buffer holds them all (root sets it past rmem_max with SO_RCVBUFFORCE).
        if os.geteuid() == 0:
            self.assertEqual(accepted, self.SENT)
        self.assertIn("queued datagrams drained", a.read_log())

    def test_kernel_drops_are_counted_and_survive_the_restart(self):
        # A small buffer: most of the datagrams are dropped by the kernel while stopped.
        _, s = self.queue_behind_sigstop("--udp.read-buffer-bytes=65536")
        accepted = value(s, "llm_exporter_events_total", transport="udp", result="accepted")
        dropped = value(s, "llm_exporter_udp_receive_dropped_total")
        self.assertGreater(dropped, 0)
        self.assertEqual(total(s, "llm_requests_total"), accepted)
        self.assertEqual(accepted + dropped, self.SENT)


class BatchCheckpointTest(StorageCase):
    BATCH = 250

    def test_kill9_never_leaves_part_of_a_batch_counted(self):
        for attempt in range(3):
            a = self.exporter("--storage.checkpoint-interval=100ms", "--log.level=error")
            stop = threading.Event()
            body = json.dumps([event(i) for i in range(self.BATCH)]).encode()

            def send():
                while not stop.is_set():
                    try:
                        http("POST", a.ingest + "/v1/events", body, timeout=5)
                    except Exception:  # the connection dies with the process
                        return

            threads = [threading.Thread(target=send) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(1.5 + 0.3 * attempt)
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            stop.set()
            for t in threads:
                t.join(timeout=10)
            b = self.exporter(ports_from=a)
            n = total(b.scrape(), "llm_requests_total")
            self.assertGreater(n, 0)
            self.assertEqual(n % self.BATCH, 0, "a checkpoint held %d events: part of a batch" % n)
            self.assertEqual(b.stop(), 0)


class SharedStorageTest(StorageCase):
    def test_a_second_instance_on_the_same_directory_refuses_to_start(self):
        a = self.exporter()
        self.assertEqual(a.post(json.dumps([event(i) for i in range(10)]))[0], 202)
        b = self.exporter(start=False)  # other ports, same directory
        proc = Process("second", b.args(), b.log_path)
        self.assertEqual(proc.wait(timeout=10), 1)
        log = b.read_log()
        self.assertIn("--storage.path=" + self.dir, log)
        self.assertIn("in use by another llm-cost-exporter (pid %d)" % a.proc.pid, log)
        # The first one is untouched and writes its state alone.
        self.assertEqual(total(a.settle(), "llm_requests_total"), 10)
        self.assertEqual(a.stop(), 0)
        c = self.exporter(ports_from=a)  # the lock is free again
        self.assertEqual(total(c.scrape(), "llm_requests_total"), 10)
        self.assertEqual(value(c.scrape(), "llm_exporter_state_loads_total", result="restored"), 1)

    def test_a_planted_temporary_file_symlink_is_never_followed(self):
        target = os.path.join(tempfile.mkdtemp(prefix="llm-target-"), "precious")
        self.addCleanup(shutil.rmtree, os.path.dirname(target), True)
        with open(target, "w") as f:
            f.write("precious")
        os.symlink(target, os.path.join(self.dir, "llm-cost-exporter.state.tmp"))
        a = self.exporter("--storage.checkpoint-interval=100ms")
        a.post(json.dumps([event(i) for i in range(5)]))
        time.sleep(0.5)
        self.assertEqual(a.stop(), 0)
        with open(target) as f:
            self.assertEqual(f.read(), "precious")
        self.assertFalse(os.path.islink(os.path.join(self.dir, "llm-cost-exporter.state")))
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp" in n], [])
        b = self.exporter(ports_from=a)
        self.assertEqual(total(b.scrape(), "llm_requests_total"), 5)


class StoragePathTest(StorageCase):
    """--storage.path is created with its parents and must be writable; otherwise the
    exporter refuses to start, naming the flag and the reason."""

    def refused(self, path, expected_reason, unprivileged=False):
        e = Exporter(BINARY, PRICES, None, ["--storage.path=" + path])
        self.addCleanup(e.close)
        argv = e.args()
        if unprivileged and os.geteuid() == 0:
            # root writes anywhere: run as nobody so the permission bits apply.
            argv = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv
        proc = Process("exporter", argv, e.log_path)
        self.assertEqual(proc.wait(timeout=10), 1, e.read_log())
        log = e.read_log()
        self.assertIn('msg="cannot start"', log)
        self.assertIn("--storage.path=" + path + ": " + expected_reason, log)
        self.assertNotIn("started", log)

    def test_missing_parents_are_created(self):
        path = os.path.join(self.dir, "a", "b", "c")
        e = self.exporter_at(path)
        e.post(json.dumps([event(1)]))
        self.assertEqual(e.stop(), 0)
        self.assertTrue(os.path.isfile(os.path.join(path, "llm-cost-exporter.state")))

    def exporter_at(self, path):
        e = Exporter(BINARY, PRICES, None, ["--storage.path=" + path]).start()
        self.addCleanup(e.close)
        return e

    def test_a_file_in_the_way_is_refused(self):
        f = os.path.join(self.dir, "file")
        open(f, "w").close()
        self.refused(f, "exists and is not a directory")
        self.refused(os.path.join(f, "sub"), "cannot create the directory")

    def test_a_read_only_directory_is_refused(self):
        os.chmod(self.dir, 0o755)  # others may enter...
        ro = os.path.join(self.dir, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)  # ...but nobody may write here
        self.refused(ro, "not writable", unprivileged=True)
        self.refused(os.path.join(ro, "sub"), "cannot create the directory", unprivileged=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
