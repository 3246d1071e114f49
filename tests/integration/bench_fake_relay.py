#!/usr/bin/python3
"""puente-bench's WebSocket client against a scripted relay (wsfake.py).

One listener. The fake relay checks the upgrade (path, puente.v1), sends
core.welcome in two fragments, reads core.subscribe, answers with a clock
anchor set 100 ms in the past, pings (the bench must pong with the same
payload), sends a 65536-byte core.clock (a 64-bit frame length), then 20 ms
audio packets with one seq gap and one DISCONT, paced on their media time. The bench
must count gaps=1 discont=1, a delay of at least the anchor's 100 ms less
one frame (the formula counts the packet's last sample), and close with 1000.

Usage: bench_fake_relay.py --bench PATH
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import wsfake  # noqa: E402
from harness import check  # noqa: E402

FRAME_SAMPLES = 960  # 20 ms
ANCHOR_AGO_US = 100000
PACKETS = 150  # 3 s: longer than the bench's window
GAP_AT, DISCONT_AT = 20, 40


def script(fake):
    req = fake.accept()
    check(req["path"] == "/ws", f"upgrade path {req['path']!r}")
    check(req["headers"].get("sec-websocket-protocol") == "puente.v1",
          f"subprotocol {req['headers'].get('sec-websocket-protocol')!r}")
    welcome = json.dumps({"type": "core.welcome", "protocol": 1, "client": 1,
                          "room": {"name": "t", "channels": [{"id": 0, "name": "floor"}]},
                          "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1,
                                    "frame_ms": 20}}).encode()
    fake.send_frame(wsfake.OP_TEXT, welcome[:10], fin=False)
    fake.send_frame(wsfake.OP_CONT, welcome[10:])
    sub = fake.recv_json()
    check(sub == {"type": "core.subscribe", "channel": "floor"}, f"subscribe {sub!r}")
    anchor = time.time_ns() // 1000 - ANCHOR_AGO_US
    fake.send_json({"type": "core.subscribed", "channel": "floor", "id": 0,
                    "clock": {"media_time": 0, "unix_us": anchor}})
    fake.send_frame(wsfake.OP_PING, b"are you there")
    op, fin, data = fake.recv_frame()
    check(op == wsfake.OP_PONG and fin and data == b"are you there", f"pong {op} {data!r}")
    clock = json.dumps({"type": "core.clock", "media_time": 0, "unix_us": anchor})
    clock = clock[:-1] + ', "pad": "' + "x" * (65536 - len(clock) - 11) + '"}'
    check(len(clock) == 65536, f"padded core.clock is {len(clock)} bytes")
    fake.send_frame(wsfake.OP_TEXT, clock.encode())
    start = time.monotonic()
    seq = 0
    for i in range(PACKETS):
        seq += 2 if i == GAP_AT else 1
        flags = 0x01 if i in (0, DISCONT_AT) else 0
        # Paced on the room clock: packet i leaves when its media time is due.
        time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
        try:
            fake.send_frame(wsfake.OP_BINARY, wsfake.audio_frame(
                seq, i * FRAME_SAMPLES, b"\xf8\xff\xfe", flags=flags))
        except OSError:
            return  # the bench hung up after its window
    code, _ = fake.recv_close()
    check(code == 1000, f"close code {code}")


def test(args):
    fake = wsfake.FakeRelay()
    try:
        proc = subprocess.Popen([args.bench, "--url", fake.url(), "--listeners", "1",
                                 "--seconds", "1.5", "--warmup", "0"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            script(fake)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    finally:
        fake.close()
    print(out, end="")
    check(proc.returncode == 0, f"puente-bench exited {proc.returncode}: {err}")
    s = harness.parse_summary(out)
    check(s["joined"] == "1", f"joined={s['joined']}")
    check(s["gaps"] == "1" and s["discont"] == "1",
          f"gaps={s['gaps']} discont={s['discont']}, expected 1 and 1")
    low = (ANCHOR_AGO_US - FRAME_SAMPLES * 1e6 / 48000) / 1000 - 0.5
    # Packet i ends at anchor + (i + 1) * 20 ms and leaves no earlier than
    # anchor + 100 ms + i * 20 ms; the upper bound only catches a formula gone wrong.
    check(low <= float(s["delay_ms_p50"]) < 5000,
          f"delay_ms_p50={s['delay_ms_p50']}, expected at least {low}")
    print("ok fragments, ping, 64-bit length, gap, DISCONT, delay and close")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
