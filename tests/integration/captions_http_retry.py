#!/usr/bin/python3
"""puente-caption --http against a scripted caption API: retries, backoff,
duplicates, refusals and the clock offset.

A fake caption API on 127.0.0.1 (its clock 30 s ahead of ours) answers:

   1 GET  .../seq            200 "7"          -> the tool goes on from seq 8
   2 POST seq=8              connection closed, no answer (network error)
   3 GET  .../seq            200 "7"          -> not taken: post again
   4 POST seq=8              503
   5 POST seq=8              429, Retry-After: 1
   6 POST seq=8              200              -> "one" sent
   7 POST seq=9              connection closed (the caption was taken)
   8 GET  .../seq            200 "9"          -> "two" sent, a duplicate
   9 POST seq=10             413              -> "three" refused, the tool goes on
  10 POST seq=10             200              -> "four" sent (the seq was free)
  11 POST seq=11             403              -> "five" refused; the tool stops

Checks: that order of requests; exit status 2 with the 403 explained;
sent=3 refused=2 duplicates=1 failed=0; every retry of a seq carries the
same body; the backoff between attempts (0.25 s, 0.5 s, then Retry-After 1 s);
each body's first line stamps the caption in the API's clock (+30 s) within
0.5 s; Content-Type text/plain; charset=utf-8; token, seq and lang in the
query. Then an API that always answers 503: the tool gives up after 6
attempts (exit 1, failed=1) in about 7.75 s of backoff.

Usage: captions_http_retry.py --caption PATH
"""

import datetime
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import captions_common as cc  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

TOKEN = "00112233445566778899aabbccddeeff"
SKEW_S = 30.0  # the fake API's clock is this far ahead of ours


def stamp(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:23]


def parse_stamp(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class FakeApi:
    """Accepts connections one at a time; script: a list of answers, each
    (status, text, extra headers) or None to close without answering."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []  # (t_mono, method, path, query dict, headers dict, body bytes)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self):
        return f"http://127.0.0.1:{self.port}/captions/api?token={TOKEN}"

    def _read(self, conn):
        data = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (l.partition(":") for l in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        path, _, query = target.partition("?")
        return method, path, dict(urllib.parse.parse_qsl(query)), headers, body

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                try:
                    req = self._read(conn)
                except (OSError, ValueError):
                    continue
                if req is None:
                    continue
                self.requests.append((time.monotonic(), *req))
                answer = self.script.pop(0) if self.script else (500, "script over", {})
                if answer is None:
                    continue  # close without a word
                status, text, extra = answer
                body = f"{stamp(time.time() + SKEW_S)}\n{text}{chr(10) if text else ''}"
                head = [f"HTTP/1.1 {status} X", "Content-Type: text/plain; charset=utf-8",
                        f"Content-Length: {len(body.encode())}", "Connection: close",
                        *[f"{k}: {v}" for k, v in extra.items()]]
                conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body.encode())

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def scripted(args):
    api = FakeApi([(200, "7", {}), None, (200, "7", {}), (503, "busy", {}),
                   (429, "too many captions; slow down", {"Retry-After": "1"}), (200, "", {}),
                   None, (200, "9", {}), (413, "caption too long", {}), (200, "", {}),
                   (403, "wrong token", {})])
    try:
        t0 = time.time()
        rc, summary, err = cc.run_caption(
            args, ["--http", api.url(), "--lang", "en"],
            b"one\ntwo\nthree\nfour\nfive\nsix\n", timeout=40)
        t1 = time.time()
    finally:
        api.close()
    reqs = api.requests
    seen = [(m, p.rsplit("/", 1)[1], q.get("seq")) for _, m, p, q, _, _ in reqs]
    want = [("GET", "seq", None), ("POST", "api", "8"), ("GET", "seq", None),
            ("POST", "api", "8"), ("POST", "api", "8"), ("POST", "api", "8"),
            ("POST", "api", "9"), ("GET", "seq", None), ("POST", "api", "10"),
            ("POST", "api", "10"), ("POST", "api", "11")]
    check(seen == want, f"requests {seen}, expected {want}\n{err}")
    check(rc == 2, f"exit status {rc}, expected 2 (a 403 stops the tool)\n{err}")
    check("403" in err and "stopping" in err, f"the 403 is not explained: {err}")
    check(summary == {"sent": "3", "refused": "2", "duplicates": "1", "failed": "0"},
          f"summary {summary}\n{err}")

    posts = [(t, q, h, b) for t, m, _, q, h, b in reqs if m == "POST"]
    for t, q, h, b in posts:
        check(q.get("token") == TOKEN and q.get("lang") == "en", f"query {q}")
        check(h.get("content-type") == "text/plain; charset=utf-8", f"headers {h}")
        first, _, text = b.decode().partition("\n")
        sent = parse_stamp(first)
        check(t0 + SKEW_S - 0.5 <= sent <= t1 + SKEW_S + 0.5,
              f"caption {text!r} stamped {first}: not in the API's clock (+{SKEW_S} s)")
    bodies = {}
    for _, q, _, b in posts:
        bodies.setdefault(q["seq"], set()).add(b)
    check(len(bodies["8"]) == 1, f"retries of seq 8 carried different bodies: {bodies['8']}")
    texts = [b.decode().partition("\n")[2] for _, q, _, b in posts]
    check(texts == ["one"] * 4 + ["two", "three", "four", "five"], f"bodies {texts}")

    t = [r[0] for r in reqs]
    gaps = (t[2] - t[1], t[3] - t[2], t[4] - t[3], t[5] - t[4])
    check(0.23 <= gaps[0] + gaps[1] <= 1.0, f"backoff after the network error: {gaps[0]:.3f} s")
    check(0.45 <= gaps[2] <= 1.2, f"backoff after 503: {gaps[2]:.3f} s, expected 0.5 s")
    check(0.95 <= gaps[3] <= 1.7, f"wait after 429 Retry-After 1: {gaps[3]:.3f} s")
    print(f"scripted API: {len(reqs)} requests as expected; backoff "
          f"{gaps[0] + gaps[1]:.3f} / {gaps[2]:.3f} / {gaps[3]:.3f} s; "
          f"stamps within 0.5 s of the API's clock (+{SKEW_S:.0f} s)")


def always_busy(args):
    api = FakeApi([(200, "0", {})] + [(503, "busy", {})] * 10)
    try:
        t0 = time.monotonic()
        rc, summary, err = cc.run_caption(args, ["--http", api.url(), "--lang", "es",
                                                 "--quiet"], b"uno\ndos\n", timeout=40)
        took = time.monotonic() - t0
    finally:
        api.close()
    posts = [q.get("seq") for _, m, _, q, _, _ in api.requests if m == "POST"]
    check(posts == ["1"] * 6, f"posts {posts}, expected 6 attempts at seq 1")
    check(rc == 1 and summary["failed"] == "1" and summary["sent"] == "0",
          f"exit {rc}, {summary}\n{err}")
    check("giving up after 6 attempts" in err, f"no clear message: {err}")
    check(7.0 <= took <= 15.0, f"gave up after {took:.1f} s, expected about 7.75 s")
    print(f"always 503: gave up after 6 attempts in {took:.2f} s")


def main():
    args = cc.parse_args(__doc__, relay=False)
    harness.main(lambda: (scripted(args), always_busy(args)))


if __name__ == "__main__":
    main()
