"""`joulestat serve` for the integration tests: start it against sim/ (the
NVML simulator and the powercap simulator), find its port, scrape it, parse
the exposition, stop it."""
import re
import select
import signal
import socket
import subprocess
import time
import urllib.request

from common import binary

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port():
    """A TCP port free on the loopback now (for a server that cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def combined_env(nvml, powercap, **extra):
    """The environment for joulestat against both simulators at once."""
    env = nvml.env()
    env["JOULESTAT_SYSFS_ROOT"] = powercap.root
    env.update(extra)
    return env


class Exporter:
    """`joulestat serve --listen LISTEN ARGS` as a context manager; .url is its /metrics."""

    def __init__(self, env, *args, listen="127.0.0.1:0"):
        self.env = env
        self.args = list(args)
        self.listen = listen
        self.proc = None
        self.stderr = ""

    def __enter__(self):
        self.proc = subprocess.Popen([binary("JOULESTAT"), "serve", "--listen", self.listen]
                                     + self.args, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if r:
                line = self.proc.stderr.readline()
                self.stderr += line
                m = re.search(r"serving \d+ domains on (\S+)", line)
                if m:
                    self.url = m.group(1)
                    self.port = int(re.search(r":(\d+)/metrics", self.url).group(1))
                    return self
            if self.proc.poll() is not None:
                self.stderr += self.proc.stderr.read()
                raise AssertionError("joulestat serve exited (%s): %s"
                                     % (self.proc.returncode, self.stderr))
        self.stop()
        raise AssertionError("joulestat serve did not start: " + self.stderr)

    def stop(self):
        """SIGTERM; returns the exit status and the rest of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr += self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.returncode

    def __exit__(self, *exc):
        if self.proc.returncode is None:
            self.stop()
        return False

    def scrape(self, accept=None, context=None, auth=None):
        """(status, content type, body) of one GET /metrics."""
        req = urllib.request.Request(self.url)
        if accept:
            req.add_header("Accept", accept)
        if auth:
            import base64
            tok = base64.b64encode(("%s:%s" % auth).encode()).decode()
            req.add_header("Authorization", "Basic " + tok)
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as r:
                return r.status, r.headers["Content-Type"], r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()


def parse(body):
    """{(name, frozenset(labels.items())): value} of an exposition; comments skipped."""
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = dict(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), frozenset(labels.items()))
        assert key not in out, "duplicate series: %r" % line
        out[key] = float(m.group(4))
    return out


def series(samples, name, **labels):
    """{domain: value} of the samples of one metric matching labels."""
    want = set(labels.items())
    return {dict(k[1]).get("domain", dict(k[1]).get("backend")): v
            for k, v in samples.items() if k[0] == name and want <= set(k[1])}


class AuthFlood:
    """`conns` keep-alive connections from `source` to an exporter, each
    sending GET /metrics with basic auth user:password in a loop (a new
    password each request when `vary`, so no cache can answer it), until
    stopped; .responses counts the answers by status."""

    def __init__(self, port, user, password, conns, source="127.0.0.1", vary=False,
                 context=None, pause=0.01):
        import threading
        self.port, self.user, self.password = port, user, password
        self.conns, self.source, self.vary = conns, source, vary
        self.context, self.pause = context, pause
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.responses = {}
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(conns)]

    def _run(self, i):
        import base64
        import http.client
        n = 0
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None:
                    if self.context:
                        conn = http.client.HTTPSConnection(
                            "127.0.0.1", self.port, timeout=30, context=self.context,
                            source_address=(self.source, 0))
                    else:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                          source_address=(self.source, 0))
                pw = "%s%d.%d" % (self.password, i, n) if self.vary else self.password
                n += 1
                tok = base64.b64encode(("%s:%s" % (self.user, pw)).encode()).decode()
                conn.request("GET", "/metrics", headers={"Authorization": "Basic " + tok})
                r = conn.getresponse()
                r.read()
                with self.lock:
                    self.responses[r.status] = self.responses.get(r.status, 0) + 1
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            self.stopping.wait(self.pause)
        if conn is not None:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        return False


def timed_scrape(port, auth, source="127.0.0.2", context=None, timeout=30):
    """(seconds, status) of one GET /metrics from `source` on a new connection."""
    import base64
    import http.client
    t0 = time.monotonic()
    if context:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context,
                                           source_address=(source, 0))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                          source_address=(source, 0))
    tok = base64.b64encode(("%s:%s" % auth).encode()).decode()
    conn.request("GET", "/metrics", headers={"Authorization": "Basic " + tok})
    r = conn.getresponse()
    r.read()
    conn.close()
    return time.monotonic() - t0, r.status
