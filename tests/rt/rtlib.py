"""Shared harness for the real-time tests in tests/rt (run with /usr/bin/python3).

- JackServer: a private jackd with the dummy driver (TESTING.md recipe), its
  own unique name, realtime first and --no-realtime as the fallback.
- Harness: every child process it starts is registered and stopped by pid
  (SIGTERM, then SIGKILL) on every exit path: normal end, exception,
  SIGTERM/SIGINT, an overall deadline. Children also get PR_SET_PDEATHSIG so
  a harness killed outright (ctest timeout) does not leave them behind.
- Relay: starts puente with --port 0 and reads its port from the log.
- WsProbe: a small stdlib WebSocket client that records every message with
  a monotonic timestamp (used where the test needs per-packet timing).
- Opus decoding through libopus (ctypes) and tone analysis with numpy.

Nothing here uses a fixed port or a fixed server name, so ctest -j is safe.
"""

import base64
import ctypes
import shutil
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import invitations  # noqa: E402
import wire  # noqa: E402

# PUENTE_JACK_RATE runs the server at another rate, so the relay must resample.
JACK_RATE = int(os.environ.get("PUENTE_JACK_RATE", "48000"))
JACK_PERIOD = 480


def log(msg):
    sys.stderr.write("[%s %.3f] %s\n" % (os.path.basename(sys.argv[0]), time.monotonic(), msg))
    sys.stderr.flush()


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)
    log("ok: " + what)


def _pdeathsig():
    # Runs in the child between fork and exec: die with the harness.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def wait_until(pred, timeout, step=0.05):
    """Polls pred() until it is true or timeout seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class Proc:
    """A child process with its output in files under the harness's folder."""

    def __init__(self, harness, name, argv, env=None, stdout=True):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(harness.dir, name + ".out")
        self.err_path = os.path.join(harness.dir, name + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        full_env = dict(os.environ)
        full_env.update(harness.env)
        if env:
            full_env.update(env)
        log("start %s: %s" % (name, " ".join(argv)))
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                  stderr=self._err, env=full_env, preexec_fn=_pdeathsig,
                                  cwd=harness.dir)
        self.pid = self.p.pid
        harness.procs.append(self)

    def poll(self):
        return self.p.poll()

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace=3.0):
        """SIGTERM, then SIGKILL after grace seconds. Returns the exit status."""
        if self.p.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(grace) is None:
                log("%s (pid %d) ignored SIGTERM for %.1f s: SIGKILL" % (self.name, self.pid, grace))
                self.signal(signal.SIGKILL)
                self.wait(5)
        return self.p.poll()

    def _read(self, path):
        for f in (self._out, self._err):
            try:
                f.flush()
            except ValueError:
                pass
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        return self._read(self.out_path)

    def stderr(self):
        return self._read(self.err_path)

    def close_files(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except Exception:
                pass


class Harness:
    """Owns a work folder, the JACK server name, the children and cleanup."""

    def __init__(self, workdir, deadline):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.server = "puente-test-%d-%08x" % (os.getpid(), random.getrandbits(32))
        self.env = {"JACK_DEFAULT_SERVER": self.server, "JACK_NO_START_SERVER": "1"}
        self.procs = []
        self.jacks = []
        self.failures = []
        self._cleaned = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGALRM, self._on_deadline)
        signal.setitimer(signal.ITIMER_REAL, deadline)

    def _on_signal(self, sig, frame):
        log("signal %d: cleaning up" % sig)
        self.cleanup()
        os._exit(128 + sig)

    def _on_deadline(self, sig, frame):
        raise TestFailure("the test's own deadline passed")

    def cleanup(self):
        # Signal handlers run on the main thread: a flag is enough (no lock to deadlock on).
        if self._cleaned:
            return
        self._cleaned = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        # Clients first, servers last: jackd outlives the clients it serves.
        for p in reversed(self.procs):
            if all(p is not j.proc for j in self.jacks):
                p.stop(grace=3.0)
        for j in self.jacks:
            j.stop()
        for p in self.procs:
            p.close_files()
        self._remove_shm()

    def _remove_shm(self):
        """A SIGKILLed jackd leaves its socket and semaphores in /dev/shm: remove
        those of our own (unique) server name once none of our servers runs."""
        if any(j.proc and j.proc.poll() is None for j in self.jacks):
            return
        import glob
        for path in (glob.glob("/dev/shm/jack_%s_*" % glob.escape(self.server))
                     + glob.glob("/dev/shm/jack_sem.*_%s_*" % glob.escape(self.server))):
            try:
                os.unlink(path)
            except OSError:
                pass

    def soft_fail(self, what):
        """Records a failure and lets the test go on checking what it still can."""
        log("FAIL (continuing): " + what)
        self.failures.append(what)

    def backtrace(self, proc):
        """Every thread's stack of a live child (gdb), for a report on a hang."""
        if not shutil.which("gdb") or proc.poll() is not None:
            return
        try:
            r = subprocess.run(["gdb", "-p", str(proc.pid), "-batch", "-ex",
                                "thread apply all bt 12"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=60)
        except subprocess.TimeoutExpired:
            log("gdb did not finish")
            return
        lines = [l for l in r.stdout.decode("utf-8", "replace").splitlines()
                 if l.startswith("Thread ") or l.startswith("#")]
        sys.stderr.write("---- %s (pid %d): threads ----\n%s\n"
                         % (proc.name, proc.pid, "\n".join(lines)))

    def dump(self, tail=60):
        """Prints the end of every child's output, for a failed run."""
        for p in self.procs:
            for kind, text in (("stdout", p.stdout()), ("stderr", p.stderr())):
                lines = [l for l in text.splitlines() if not l.startswith("ALSA lib")]
                if lines:
                    sys.stderr.write("---- %s (pid %d) %s, last %d lines ----\n"
                                     % (p.name, p.pid, kind, min(tail, len(lines))))
                    sys.stderr.write("\n".join(lines[-tail:]) + "\n")

    def run(self, body):
        """Runs body(self); returns the process exit status (0 pass, 1 fail)."""
        rc = 1
        try:
            body(self)
            if self.failures:
                raise TestFailure("; ".join(self.failures))
            rc = 0
        except TestFailure as e:
            log("FAIL: %s" % e)
        except Exception:
            import traceback
            traceback.print_exc()
        finally:
            if rc:
                self.dump()
            self.cleanup()
        log("PASS" if rc == 0 else "FAILED (outputs in %s)" % self.dir)
        return rc

    def jack_lsp(self, timeout=2.0):
        """The server's port list, or None when it does not answer."""
        env = dict(os.environ)
        env.update(self.env)
        try:
            r = subprocess.run(["jack_lsp"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        return r.stdout.decode("utf-8", "replace").split("\n")


class JackServer:
    """A private jackd (dummy driver, JACK_RATE, 480-frame periods)."""

    def __init__(self, harness, tag="jackd"):
        self.h = harness
        self.tag = tag
        self.proc = None
        self.realtime = None
        harness.jacks.append(self)

    def start(self, answer_timeout=8.0):
        modes = [["-R", "-P", "70"], ["--no-realtime"]]
        if os.environ.get("PUENTE_JACK_NO_RT"):
            modes = modes[1:]
        for i, mode in enumerate(modes):
            argv = ["jackd", "-n", self.h.server] + mode + [
                "-d", "dummy", "-r", str(JACK_RATE), "-p", str(JACK_PERIOD)]
            self.proc = Proc(self.h, "%s%d" % (self.tag, i), argv)
            if wait_until(lambda: self.proc.poll() is not None or self.h.jack_lsp() is not None,
                          answer_timeout, 0.1) and self.proc.poll() is None:
                self.realtime = mode[0] == "-R"
                log("jackd '%s' up (pid %d, %s)" % (self.h.server, self.proc.pid,
                                                   "realtime" if self.realtime else "no-realtime"))
                return self
            log("jackd %s did not come up (exit %s); %s" % (
                " ".join(mode), self.proc.poll(),
                "trying --no-realtime" if i == 0 else "giving up"))
            self.proc.stop(grace=2.0)
        raise TestFailure("no JACK server could start (see %s)" % self.proc.err_path)

    def kill(self):
        """SIGKILL: the server dies as a crashed one would."""
        log("SIGKILL jackd pid %d" % self.proc.pid)
        self.proc.signal(signal.SIGKILL)
        self.proc.wait(5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.signal(signal.SIGCONT)  # a stalled (SIGSTOPped) server too
            self.proc.stop(grace=3.0)

    def ports(self):
        return [p for p in (self.h.jack_lsp() or []) if p]


def jack_input_device(h, puente):
    """Name of PortAudio's JACK input device, from puente --list-devices."""
    env = dict(os.environ)
    env.update(h.env)
    r = subprocess.run([puente, "--list-devices"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=20)
    text = r.stdout.decode("utf-8", "replace")
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+(.+?)\s{2,}JACK Audio Connection Kit\s+in\s+(\d+)", line)
        if m and int(m.group(3)) > 0:
            log("JACK input device: #%s '%s'" % (m.group(1), m.group(2)))
            return m.group(2)
    raise TestFailure("puente --list-devices shows no JACK input device:\n" + text)


class Relay:
    """puente on 127.0.0.1 with a port picked by the kernel."""

    def __init__(self, h, puente, args, env=None, name="puente", anonymous=True):
        # Invitations: a store with known tokens (see tests/lib/invitations.py).
        extra, self.invitations = invitations.store_args(list(args), h.dir, anonymous=anonymous)
        self.proc = Proc(h, name, [puente, "--bind", "127.0.0.1", "--port", "0"] + list(args)
                         + extra, env=env)
        self.port = None

    def wait_listening(self, timeout=15.0):
        def port():
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.proc.stderr())
            return int(m.group(1)) if m else None

        self.port = wait_until(lambda: self.proc.poll() is not None or port(), timeout, 0.05)
        if self.proc.poll() is not None or not port():
            raise TestFailure("the relay did not start listening (exit %s)" % self.proc.poll())
        self.port = port()
        # Our relay answers on that port (TESTING.md: check before use).
        with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
        if not head.startswith(b"HTTP/1.1"):
            raise TestFailure("port %d does not answer HTTP: %r" % (self.port, head))
        log("relay pid %d listening on %d" % (self.proc.pid, self.port))
        return self.port

    @property
    def url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def role_url(self, role, n=0):
        """The WebSocket URL carrying that role's n-th personal token."""
        return "%s?t=%s" % (self.url, self.invitations.token(role, n))

    def token(self, role, n=0):
        return self.invitations.token(role, n)


# ---- a minimal WebSocket client ----

def ws_handshake(sock, port, path):
    """Sends a puente.v1 upgrade request for path; returns (HTTP status,
    {lower-case header: value}, the bytes received after the head)."""
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: puente.v1\r\n\r\n" % (path, port, key))
    sock.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise TestFailure("WebSocket handshake: connection closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def ws_frame(opcode, payload):
    """One final client frame (masked, as RFC 6455 wants from a client)."""
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class WsProbe:
    """Connects, subscribes to a channel (unless channel is None) and records
    every message.

    events: list of (t_mono, kind, data): kind 'json' -> dict;
    'audio' -> (flags, seq, media_time, payload), one per packet, a bundle's
    one by one with the bundle's time; 'bad_audio' -> the bytes of what is
    not a packet (a malformed packet or bundle, a bad item of a bundle);
    'close' -> (code, reason).
    """

    def __init__(self, port, channel="floor", path="/ws"):
        self.events = []
        self.binary_messages = 0  # packets / binary_messages: the bundling
        self.lock = threading.Lock()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        status, _, self.buf = ws_handshake(self.sock, port, path)
        if status != 101:
            raise TestFailure("WebSocket handshake refused: HTTP %d" % status)
        self.sock.settimeout(None)
        self.closed = threading.Event()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()
        if channel is not None:
            self.send_json({"type": "core.subscribe", "channel": channel})

    def _send(self, opcode, payload):
        try:
            self.sock.sendall(ws_frame(opcode, payload))
        except OSError:
            pass

    def send_json(self, obj):
        self._send(1, json.dumps(obj).encode())

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _record(self, kind, data):
        with self.lock:
            self.events.append((time.monotonic(), kind, data))

    def _reader(self):
        msg, msg_op = b"", 0
        try:
            while True:
                b0, b1 = self._recv_exact(2)
                op, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._recv_exact(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._recv_exact(8))[0]
                if b1 & 0x80:
                    raise EOFError  # a server never masks
                payload = self._recv_exact(n)
                if op == 9:
                    self._send(10, payload)
                    continue
                if op == 10:
                    continue
                if op == 8:
                    code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self._record("close", (code, payload[2:].decode("utf-8", "replace")))
                    self._send(8, payload[:2])
                    break
                if op in (1, 2):
                    msg, msg_op = payload, op
                else:
                    msg += payload
                if not fin:
                    continue
                if msg_op == 1:
                    self._record("json", json.loads(msg.decode()))
                    continue
                with self.lock:
                    self.binary_messages += 1
                for pkt in wire.packets_of(msg):
                    h = wire.parse_header(pkt)
                    if h:
                        self._record("audio", self._audio(h))
                    else:
                        self._record("bad_audio", bytes(pkt))
        except (EOFError, OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def _audio(self, h):
        """The record of one packet from wire.parse_header."""
        _, flags, seq, mt, payload = h
        return flags, seq, mt, payload

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def close(self):
        self._send(8, struct.pack(">H", 1000))
        self.closed.wait(3)
        try:
            self.sock.close()
        except OSError:
            pass


# ---- Opus and signal analysis ----

class OpusDecoder:
    def __init__(self):
        self.lib = ctypes.CDLL("libopus.so.0")
        self.lib.opus_decoder_create.restype = ctypes.c_void_p
        self.lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int,
                                                 ctypes.POINTER(ctypes.c_int)]
        self.lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                               ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                               ctypes.c_int]
        self.lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        err = ctypes.c_int(0)
        self.dec = self.lib.opus_decoder_create(48000, 1, ctypes.byref(err))
        if not self.dec:
            raise TestFailure("opus_decoder_create: %d" % err.value)
        self.pcm = (ctypes.c_float * 5760)()

    def decode(self, packet):
        n = self.lib.opus_decode_float(self.dec, packet, len(packet), self.pcm, 5760, 0)
        if n < 0:
            raise TestFailure("opus_decode_float: %d" % n)
        return list(self.pcm[:n])

    def __del__(self):
        if getattr(self, "dec", None):
            self.lib.opus_decoder_destroy(self.dec)


def read_wav(path):
    """Mono float samples and the rate of a 16-bit or float PCM WAV."""
    import wave
    import numpy as np
    try:
        with wave.open(path, "rb") as w:
            rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
        if width != 2:
            raise TestFailure("%s: %d-byte samples, expected 16-bit" % (path, width))
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    except wave.Error:
        # Float WAV (format 3): find the data chunk by hand.
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
            raise TestFailure("%s is not a WAV file" % path)
        pos, fmt, x, rate, ch = 12, None, None, 0, 1
        while pos + 8 <= len(data):
            cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            body = data[pos + 8:pos + 8 + size]
            if cid == b"fmt ":
                fmt, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            elif cid == b"data":
                x = np.frombuffer(body[:len(body) // 4 * 4], dtype="<f4").astype(np.float64)
            pos += 8 + size + (size & 1)
        if x is None or fmt not in (3, 0xFFFE):
            raise TestFailure("%s: unsupported WAV format %s" % (path, fmt))
    if ch > 1:
        x = x[: len(x) // ch * ch].reshape(-1, ch).mean(axis=1)
    return x, rate


def tone_figures(x, rate):
    """(dominant frequency in Hz, RMS in dBFS) of a stretch of samples."""
    import numpy as np
    x = np.asarray(x, dtype=np.float64)
    win = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * win))
    spec[:3] = 0  # DC
    k = int(np.argmax(spec))
    # Parabolic interpolation of the peak bin.
    if 0 < k < len(spec) - 1:
        a, b, c = np.log(spec[k - 1] + 1e-30), np.log(spec[k] + 1e-30), np.log(spec[k + 1] + 1e-30)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)
    freq = k * rate / len(x)
    rms = float(np.sqrt(np.mean(x * x)))
    db = 20 * np.log10(rms) if rms > 0 else -200.0
    return float(freq), float(db)


def common_args(argv, extra=()):
    import argparse
    # JACK's 8-slot server registry lives in /dev/shm: give this test its own.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
    from harness import private_shm
    private_shm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--puente", required=True)
    ap.add_argument("--jack-tone", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--deadline", type=float, default=100.0,
                    help="seconds before the harness gives up on its own")
    for a, kw in extra:
        ap.add_argument(a, **kw)
    args = ap.parse_args(argv)
    # Children run in the work folder: make every path absolute.
    for k, v in vars(args).items():
        if isinstance(v, str) and k != "workdir" and os.path.sep in v:
            setattr(args, k, os.path.abspath(v))
    args.workdir = os.path.abspath(args.workdir)
    return args
