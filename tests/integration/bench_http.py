#!/usr/bin/python3
"""puente-bench --http against a scripted HTTP stream server.

The server answers GET /floor.opus with a 200 head split over two writes
(the second carrying the first body bytes), a burst like Icecast's, then
100 bytes every 20 ms (5000 B/s); any other path gets a 404. Five
listeners must all join and be at full rate near 5000 B/s (the expected
rate measured by the reference listener, not given); three listeners on
the missing path must all fail, with exit status 1.

Usage: bench_http.py --bench PATH
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

BURST = 8192
CHUNK, PERIOD = 100, 0.02
SERVE_S = 30  # a listener is never served longer than this


def serve_one(conn):
    with conn:
        conn.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        try:
            if not head.startswith(b"GET /floor.opus "):
                conn.sendall(b"HTTP/1.0 404 Not Found\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.0 200")
            time.sleep(0.01)
            conn.sendall(b" OK\r\nContent-Type: audio/ogg\r\n\r\n" + b"\0" * BURST)
            start = time.monotonic()
            for i in range(int(SERVE_S / PERIOD)):
                time.sleep(max(0.0, start + i * PERIOD - time.monotonic()))
                conn.sendall(b"\1" * CHUNK)
        except OSError:
            return  # the bench hung up


def serve(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return  # closed at the end of the test
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def bench(args, url, n):
    r = subprocess.run([args.bench, "--http", url, "--listeners", str(n), "--seconds", "2",
                        "--warmup", "1"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    print(r.stdout, end="")
    return r, harness.parse_summary(r.stdout)


def test(args):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
    try:
        r, s = bench(args, f"http://127.0.0.1:{port}/floor.opus", 5)
        check(r.returncode == 0, f"puente-bench exited {r.returncode}: {r.stderr}")
        check(s["joined"] == "5" and s["failed"] == "0",
              f"joined={s['joined']} failed={s['failed']}")
        check(4500 <= float(s["expect_bps"]) <= 5500, f"expect_bps={s['expect_bps']}")
        check(s["full_rate"] == "5", f"full_rate={s['full_rate']}")
        check(4500 <= float(s["rate_min"]) <= 5500,
              f"rate_min={s['rate_min']} (the burst counted?)")
        r, s = bench(args, f"http://127.0.0.1:{port}/missing", 3)
        check(r.returncode == 1, f"puente-bench exited {r.returncode} on a 404")
        check(s["joined"] == "0" and s["failed"] == "3",
              f"joined={s['joined']} failed={s['failed']}")
    finally:
        sock.close()
    print("ok split head, burst outside the window, full rate, 404")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
