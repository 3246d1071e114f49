"""Shared parts of the caption tests (captions_*.py): the relay with the
captions plugin and the caption URLs it logs, puente-listen --captions with
its caption lines timed as they arrive, curl against the HTTP caption API, a
small WebSocket client for what the tools never send, and the room clock.

Everything runs on 127.0.0.1 with real processes; every wait is bounded;
children are stopped by pid and die with the test (PR_SET_PDEATHSIG).
Run with /usr/bin/python3.
"""

import argparse
import calendar
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rt"))
import harness  # noqa: E402
from harness import check  # noqa: E402
from rtlib import WsProbe  # noqa: E402

RATE = 48000
URL_RE = re.compile(r"caption URL for (\S+) \(([^)]*)\): (/captions/api\?token=[0-9A-Za-z]+)")
ARCHIVE_RE = re.compile(r"archive downloads: /captions/files/\S+\?token=([0-9A-Za-z]+)")
CAPTION_RE = re.compile(r"^caption lang=(\S+) seq=(\S+) start=(\S+) end=(\S+) final=([01]) "
                        r"text=(.*)$")
STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")


def parse_args(doc, relay=True):
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    if relay:
        p.add_argument("--relay", required=True, help="the puente binary")
        p.add_argument("--listen", required=True, help="the puente-listen binary")
        p.add_argument("--plugin-dir", required=True, help="the folder of captions.so")
    p.add_argument("--caption", required=True, help="the puente-caption binary")
    args = p.parse_args()
    for k in ("relay", "listen", "plugin_dir", "caption"):
        if getattr(args, k, None):
            setattr(args, k, os.path.abspath(getattr(args, k)))
    return args


class CaptionRelay(harness.Relay):
    """The relay with the interpretation and captions plugins over the
    embedded default room (floor, es, en) and the test tone; its archive goes
    into cwd/captions. urls: {captioner name: (langs, path?token=...)};
    organiser: the archive token."""

    def __init__(self, args, cwd, extra=()):
        super().__init__(args.relay, ["--tone", "--plugins", "interpretation,captions",
                                      "--plugin-dir", args.plugin_dir, *extra], cwd=cwd)
        self.urls = {}
        self.organiser = None

    def start(self):
        super().start()
        with self._lock:
            lines = list(self.lines)
        for line in lines:
            m = URL_RE.search(line)
            if m:
                self.urls[m.group(1)] = (m.group(2), m.group(3))
            m = ARCHIVE_RE.search(line)
            if m:
                self.organiser = m.group(1)
        if not self.urls or not self.organiser:
            self.dump_log()
            raise harness.TestFailure("the relay did not log its caption URLs and archive "
                                      f"token (got {self.urls}, {self.organiser})")

    def http(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def caption_url(self, name):
        return self.http(self.urls[name][1])

    def token(self, name):
        return self.urls[name][1].split("token=", 1)[1]


def caption_line(line):
    """A puente-listen caption line as a dict, or None."""
    m = CAPTION_RE.match(line)
    if not m:
        return None
    lang, seq, start, end, final, text = m.groups()
    return {"lang": lang, "seq": int(seq), "start": int(start), "end": int(end),
            "final": final == "1", "text": text}


def unescape(text):
    """puente-listen's escaping undone: \\\\, \\n, \\r, \\t, \\xHH, \\uHHHH."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n in "\\nrt":
            out.append({"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}[n])
            i += 2
        elif n == "x":
            out.append(chr(int(text[i + 2:i + 4], 16)))
            i += 4
        elif n == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Listener:
    """puente-listen [--captions LANG] running until stop(); every stdout line
    is kept with its wall-clock arrival time (time.time())."""

    def __init__(self, args, url, cwd, name, lang=None, seconds=80, extra=()):
        self.name = name
        cmd = [args.listen, "--url", url, "--seconds", str(seconds), *extra]
        if lang:
            cmd += ["--captions", lang]
        self.out, self.err = [], []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=harness._die_with_parent)
        self._threads = [threading.Thread(target=self._drain, args=(self.proc.stdout, self.out),
                                          daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stderr, self.err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _drain(self, pipe, into):
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                into.append((time.time(), line))

    def wait_err(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(needle in l for _, l in self.err):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.dump()
        raise harness.TestFailure(f"{self.name} did not print {needle!r} within {timeout} s")

    def captions(self):
        """[(arrival_wall_s, cue dict)] so far."""
        with self._lock:
            lines = list(self.out)
        return [(t, c) for t, c in ((t, caption_line(l)) for t, l in lines) if c]

    def wait_captions(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.captions()) >= count:
                return self.captions()
            time.sleep(0.02)
        self.dump()
        raise harness.TestFailure(f"{self.name}: {len(self.captions())} of {count} captions "
                                  f"within {timeout} s: {[c for _, c in self.captions()]}")

    def stop(self, timeout=10):
        """SIGTERM; returns (exit status, summary dict, caption cues)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise harness.TestFailure(f"{self.name} still running {timeout} s after SIGTERM")
        for t in self._threads:
            t.join(5)
        with self._lock:
            other = [l for _, l in self.out if not caption_line(l)]
        summary = harness.parse_summary("\n".join(other))
        print(f"{self.name}: exit {status}; " + " ".join(f"{k}={v}" for k, v in summary.items()))
        return status, summary, [c for _, c in self.captions()]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def dump(self, tail=30):
        with self._lock:
            lines = [l for _, l in self.err] + [l for _, l in self.out]
        print(f"--- {self.name} output ---", file=sys.stderr)
        for line in lines[-tail:]:
            print(line, file=sys.stderr)
        print(f"--- end {self.name} ---", file=sys.stderr)


class Group:
    """Listeners of a test: killed and dumped if it fails."""

    def __init__(self):
        self.all = []

    def add(self, proc):
        self.all.append(proc)
        return proc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for p in self.all:
            if exc_type is not None and p.proc.poll() is None:
                p.dump()
            p.kill()
        return False


def curl(url, body=None, ctype="text/plain; charset=utf-8", method=None, timeout=10):
    """One request with curl; returns (status, body bytes). body: bytes or None (GET)."""
    harness.need_programs("curl")
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
    if method:
        cmd += ["-X", method]
    if body is not None:
        cmd += ["--data-binary", "@-"]
        if ctype is not None:
            cmd += ["-H", f"Content-Type: {ctype}"]
    cmd.append(url)
    r = subprocess.run(cmd, input=body if body is not None else b"", capture_output=True,
                       timeout=timeout + 5)
    check(r.returncode == 0, f"curl {url} failed: {r.stderr.decode(errors='replace').strip()}")
    payload, _, code = r.stdout.rpartition(b"\n")
    return int(code), payload


def post(relay, name, seq, lang, text, ctype="text/plain; charset=utf-8", token=None,
         extra=""):
    """POSTs one caption as captioner name; returns (status, body, (wall time
    before curl started, wall time after it ended))."""
    tok = token if token is not None else relay.token(name)
    url = relay.http(f"/captions/api?token={tok}&seq={seq}&lang={lang}{extra}")
    body = text if isinstance(text, bytes) else text.encode()
    t0 = time.time()
    status, answer = curl(url, body, ctype)
    t1 = time.time()
    check_answer_stamp(answer, f"POST seq={seq} lang={lang}")
    return status, answer, (t0, t1)


def check_answer_stamp(answer, what):
    """README: every answer's body starts with the server time on its own line."""
    first = answer.split(b"\n", 1)[0].decode(errors="replace")
    check(STAMP_RE.match(first), f"{what}: the answer does not start with the server's time "
                                 f"(YYYY-MM-DDTHH:MM:SS.mmm): {answer[:80]!r}")
    stamp = calendar.timegm(time.strptime(first[:19], "%Y-%m-%dT%H:%M:%S"))
    check(abs(stamp + int(first[20:]) / 1000 - time.time()) < 5,
          f"{what}: server time {first} is not now (UTC)")


class Ws(WsProbe):
    """rtlib's stdlib WebSocket client, subscribed to nothing: records every
    JSON message and the close frame with their monotonic arrival times."""

    def __init__(self, port, path="/ws"):
        super().__init__(port, channel=None, path=path)

    def send_frame(self, opcode, payload):
        self._send(opcode, payload)

    def send(self, obj):
        self._send(1, json.dumps(obj, ensure_ascii=False).encode())

    def messages(self, type_=None):
        with self.lock:
            return [d for _, k, d in self.events
                    if k == "json" and (type_ is None or d.get("type") == type_)]

    def close_code(self):
        with self.lock:
            return next((d for _, k, d in self.events if k == "close"), None)

    def wait(self, pred, timeout=10, what="a message"):
        """The first JSON message for which pred(msg)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages():
                if pred(m):
                    return m
            if self.closed.is_set():
                break
            time.sleep(0.02)
        raise harness.TestFailure(f"no {what} within {timeout} s; got {self.messages()[-6:]}")

    def wait_count(self, pred, count, timeout=10, what="messages"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for m in self.messages() if pred(m)]
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise harness.TestFailure(f"{len(got)} of {count} {what} within {timeout} s")

    def hello(self, role):
        self.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
        self.send({"type": "core.hello", "role": role, "agent": "captions-test"})
        m = self.wait(lambda m: m.get("type") in ("core.hello", "core.error"), what="hello")
        check(m.get("type") == "core.hello" and m.get("role") == role,
              f"core.hello as {role}: {m}")



class RoomClock:
    """The room clock from a subscribed probe's core.subscribed anchor: the
    media time (ms) at a wall-clock time (time.time())."""

    def __init__(self, port):
        self.ws = Ws(port)
        self.ws.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
        self.ws.send({"type": "core.subscribe", "channel": "floor"})
        m = self.ws.wait(lambda m: m.get("type") == "core.subscribed", what="core.subscribed")
        self.media_time = m["clock"]["media_time"]
        self.unix_us = m["clock"]["unix_us"]

    def ms_at(self, wall_s):
        return (self.media_time + (wall_s * 1e6 - self.unix_us) * RATE / 1e6) / (RATE / 1000)

    def close(self):
        self.ws.close()


def run_caption(args, cmd_args, stdin=b"", timeout=30, cwd=None):
    """puente-caption to completion; returns (status, summary dict, stderr)."""
    try:
        r = subprocess.run([args.caption, *cmd_args], input=stdin, capture_output=True,
                           timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise harness.TestFailure(f"puente-caption still running after {timeout} s") from e
    err = r.stderr.decode(errors="replace")
    summary = harness.parse_summary(r.stdout.decode(errors="replace"))
    print(f"puente-caption {' '.join(cmd_args[:4])}...: exit {r.returncode}; "
          + " ".join(f"{k}={v}" for k, v in summary.items()))
    return r.returncode, summary, err
