"""Free loopback ports for the processes the tests start."""
import socket


def free_port():
    """A port on 127.0.0.1 that is free for TCP and for UDP (the exporter's ingest
    listens on both). Bounded attempts; raises RuntimeError when none is found."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port on 127.0.0.1")
