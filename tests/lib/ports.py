"""Free loopback ports for the processes the tests start.

A port is checked free and then handed to a process that binds it a moment later.
Ports the kernel picks (bind to port 0) come from the ephemeral range, which is also
where every outgoing connection's source port comes from: with several live tests
at once (ctest -j3), a scrape or HTTP client could take the port in that moment and
the server would fail to start. So ports are drawn at random from below the
ephemeral range, where the kernel never assigns one, and never twice in a process."""
import random
import socket

_handed_out = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _free_for_tcp_and_udp(port):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def free_port():
    """A port on 127.0.0.1 that is free for TCP and for UDP (the exporter's ingest
    listens on both). Bounded attempts; raises RuntimeError when none is found."""
    low = 10000
    high = _ephemeral_low() - 1
    rng = random.SystemRandom()  # each test process draws independently
    for _ in range(200):
        port = rng.randint(low, high) if high > low + 1000 else 0
        if port in _handed_out:
            continue
        if port == 0:  # an unusual port range: fall back to the kernel's choice
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", 0))
                port = t.getsockname()[1]
        if _free_for_tcp_and_udp(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port on 127.0.0.1")
