"""Integration-test harness: real processes on 127.0.0.1, every wait bounded.

Relay starts the relay binary on a free port (--port 0), learns the port
from its "listening on http://127.0.0.1:PORT/" log line, keeps draining its
stderr (so it can never block on a full pipe) and stops it by pid with
SIGTERM, checking it exits 0. Jackd runs a private JACK server with the dummy
driver for PortAudio clients; private_shm() isolates it from every other
JACK server on the machine. run() and parse_summary() run a tool and read
its one-line key=value summary. Children die with the harness
(PR_SET_PDEATHSIG). Run with /usr/bin/python3 (Debian's numpy).
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import invitations  # noqa: E402

START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
LISTEN_RE = re.compile(r"listening on https?://127\.0\.0\.1:(\d+)/")


def _die_with_parent():
    """preexec_fn: the kernel sends SIGTERM to the child when this harness
    dies, so a killed test (ctest timeout) leaves no relay or jackd behind."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class TestFailure(Exception):
    """A check failed; the message says which and with what figures."""


def check(cond, message):
    if not cond:
        raise TestFailure(message)


class Relay:
    """One relay process. Use as a context manager: stop() runs on exit."""

    def __init__(self, binary, args=(), cwd=None, env=None, anonymous=True):
        self.binary = os.path.abspath(binary)
        self.args = list(args)
        # Invitations: a store with known tokens (see tests/lib/invitations.py).
        self._store_dir = tempfile.mkdtemp(prefix="puente-invites-")
        extra, self.invitations = invitations.store_args(self.args, self._store_dir,
                                                         anonymous=anonymous)
        self.args += extra
        self.cwd = cwd
        self.env = env
        self.proc = None
        self.port = None
        self.lines = []
        self._lock = threading.Lock()
        self._port_seen = threading.Event()
        self._reader = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
            self.dump_log()
        return False

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            m = LISTEN_RE.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._port_seen.set()

    def start(self):
        cmd = [self.binary, "--bind", "127.0.0.1", "--port", "0"] + self.args
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._port_seen.wait(0.05):
                return
            if self.proc.poll() is not None:
                break
        self.kill()
        self._reader.join(STOP_TIMEOUT_S)
        self.dump_log()
        raise TestFailure("relay did not report 'listening on http://127.0.0.1:PORT/' within "
                          f"{START_TIMEOUT_S} s (exit status {self.proc.returncode})")

    def url(self, path="/ws", role=None, n=0):
        """The WebSocket URL; with role, carrying that role's n-th personal token."""
        if role is None:
            return f"ws://127.0.0.1:{self.port}{path}"
        return f"ws://127.0.0.1:{self.port}{path}?t={self.invitations.token(role, n)}"

    def ws_path(self, role, n=0):
        """The WebSocket path with that role's n-th personal token, for WsProbe."""
        return f"/ws?t={self.invitations.token(role, n)}"

    def stop(self):
        """SIGTERM by pid; the relay must exit 0 within STOP_TIMEOUT_S."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            self.dump_log()
            raise TestFailure(f"relay still running {STOP_TIMEOUT_S} s after SIGTERM")
        self._reader.join(STOP_TIMEOUT_S)
        if status != 0:
            self.dump_log()
            raise TestFailure(f"relay exited with status {status} after SIGTERM")
        shutil.rmtree(self._store_dir, ignore_errors=True)

    def wait_log(self, text, count=1, timeout=5.0):
        """Waits until text appears count times in the relay's stderr, which a
        thread reads: a line logged a moment ago may not be in self.lines yet."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = "\n".join(self.lines).count(text)
            if seen >= count:
                return seen
            if time.monotonic() >= deadline:
                raise TestFailure(f"the relay's log has '{text}' {seen} time(s), "
                                  f"expected {count}")
            time.sleep(0.05)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def dump_log(self):
        with self._lock:
            lines = list(self.lines)
        print("--- relay stderr ---", file=sys.stderr)
        for line in lines[-60:]:
            print(line, file=sys.stderr)
        print("--- end relay stderr ---", file=sys.stderr)


def run(cmd, timeout, cwd=None):
    """Runs cmd to completion within timeout seconds; returns CompletedProcess."""
    try:
        return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, text=True)
    except subprocess.TimeoutExpired as e:
        raise TestFailure(f"{os.path.basename(cmd[0])} still running after {timeout} s") from e


def parse_summary(stdout):
    """The tools' one-line key=value summary: exactly one line, as a dict of strings."""
    lines = [l for l in stdout.splitlines() if l.strip()]
    check(len(lines) == 1, f"expected one summary line on stdout, got {lines!r}")
    fields = {}
    for item in lines[0].split():
        key, sep, value = item.partition("=")
        check(sep == "=" and key, f"malformed summary item {item!r} in {lines[0]!r}")
        fields[key] = value
    return fields


def self_signed_cert(tmp):
    """A certificate for 127.0.0.1 and its key, made by the openssl CLI in tmp."""
    need_programs("openssl")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, f"openssl req failed: {r.stderr.decode()[-300:]}")
    return cert, key


def need_programs(*names):
    missing = [n for n in names if shutil.which(n) is None]
    check(not missing, "missing programs (install them, see TESTING.md): " + ", ".join(missing))


def tempdir(prefix):
    return tempfile.TemporaryDirectory(prefix=prefix)


def main(test):
    """Runs test(); prints PASS or FAIL with the reason; exits 0 or 1."""
    name = os.path.basename(sys.argv[0])
    try:
        test()
    except TestFailure as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"PASS {name}")


def private_shm():
    """Re-executes this script in its own mount namespace with a fresh
    /dev/shm, when the system allows it (root, unshare), and returns only in
    that copy or when it cannot. JACK keeps its server registry, sockets and
    semaphores there, and the registry has 8 slots: servers killed with
    SIGKILL elsewhere on the machine keep theirs forever and then no new
    jackd starts ("Too many servers already active")."""
    if os.environ.get("PUENTE_PRIVATE_SHM") or shutil.which("unshare") is None:
        return
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, timeout=10)
    if probe.returncode != 0:
        return
    os.environ["PUENTE_PRIVATE_SHM"] = "1"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private", "sh", "-c",
                          'mount -t tmpfs tmpfs /dev/shm && exec "$@"', "sh",
                          sys.executable, "-B", *sys.argv])


class Jackd:
    """A private JACK server with the dummy driver (no sound card needed).

    PortAudio finds it through the environment from env(): JACK_DEFAULT_SERVER
    names this server and JACK_NO_START_SERVER stops clients from starting
    another. Start it before the client calls Pa_Initialize (TESTING.md).
    Call private_shm() first so other servers on the machine cannot matter.
    """

    def __init__(self, rate=48000, period=480):
        self.name = f"puente-test-{os.getpid()}"
        self.rate, self.period = rate, period
        self.proc = None
        self.log = None

    def env(self):
        e = dict(os.environ)
        e["JACK_DEFAULT_SERVER"] = self.name
        e["JACK_NO_START_SERVER"] = "1"
        return e

    def __enter__(self):
        need_programs("jackd", "jack_lsp")
        self.log = tempfile.TemporaryFile()
        # -R as root gives SCHED_FIFO; without it the dummy driver loses callbacks under load.
        rt = ["-R", "-P", "70"] if os.geteuid() == 0 else ["--no-realtime"]
        self.proc = subprocess.Popen(["jackd", "-n", self.name, *rt, "-d", "dummy", "-r",
                                      str(self.rate), "-p", str(self.period)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env(),
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"jackd exited with status {self.proc.returncode}: "
                                  + self.log_tail())
            if "system:playback_1" in self.ports():
                return self
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise TestFailure(f"jackd {self.name} not ready within {START_TIMEOUT_S} s: {tail}")

    def log_tail(self):
        self.log.seek(0)
        return " | ".join(self.log.read().decode("utf-8", "replace").splitlines()[-5:])

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def ports(self):
        r = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, text=True,
                           timeout=5)
        return r.stdout.split("\n") if r.returncode == 0 else []

    def wait_port(self, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port in self.ports():
                return
            time.sleep(0.05)
        raise TestFailure(f"JACK port {port} did not appear within {timeout} s")

    def record(self, port, path, seconds, cwd):
        """Records a JACK port to a 16-bit WAV file with jack_rec."""
        r = subprocess.run(["jack_rec", "-f", path, "-d", str(seconds), "-b", "16", port],
                           cwd=cwd, env=self.env(), capture_output=True, text=True,
                           timeout=seconds + 10)
        check(r.returncode == 0, f"jack_rec failed: {r.stderr.strip()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        if self.log:
            self.log.close()
            self.log = None
