"""One HTTP request with the standard library, for the tests' HTTP APIs."""
import urllib.error
import urllib.request


def http(method, url, body=None, headers=None, timeout=10, context=None):
    """Returns (status, body bytes); HTTP error statuses are returned, not raised.
    Connection errors raise OSError (urllib.error.URLError is one). `context` is an
    ssl.SSLContext for https URLs."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
