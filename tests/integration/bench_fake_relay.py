#!/usr/bin/python3
"""puente-bench's WebSocket client against a scripted relay (wsfake.py).

One listener. The fake relay checks the upgrade (path, puente.v1), sends
core.welcome in two fragments, reads core.subscribe (no core.hello before
it without --bundle), answers with a clock
anchor set 100 ms in the past, pings (the bench must pong with the same
payload), sends a 65536-byte core.clock (a 64-bit frame length), then 20 ms
audio packets with one seq gap and one DISCONT, paced on their media time. The bench
must count gaps=1 discont=1, a delay of at least the anchor's 100 ms less
one frame (the formula counts the packet's last sample), and close with 1000.

Then bundles (include/puente/protocol.h), twice: with --bundle 3 the bench
must say core.hello with "bundle": 3 before core.subscribe, and gets bundles
of 3, each sent when its last packet is due; with --bundle auto, "bundle":
"auto", and a mix of plain packets and bundles of 1, 2 and 3. After one
packet to join, everything falls in the window, so the bench must count
every packet of every bundle (exactly), 0 gaps, the one DISCONT flagged
inside a bundle, and each malformed bundle (count above its items, a
trailing byte, reserved not 0; their packets carry seqs that would be gaps)
once in bad_audio. With bundles of 3 the packets of one bundle are 80, 100
and 120 ms old on arrival: the median near 100 ms and the maximum near 120
ms show each packet timed on its own media time. A bad --bundle
value, or --bundle with --http, is bad usage (exit 2).

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
BUNDLED = 60         # packets after the joining one, all inside the window
PAUSE_FRAMES = 15    # 0.3 s after the joining packet: the window has started
BUNDLE_WINDOW = 2.5  # seconds: the bundled packets end 1.5 s after the join
PAYLOAD = b"\xf8\xff\xfe"


def welcome_json():
    return {"type": "core.welcome", "protocol": 1, "client": 1,
            "room": {"name": "t", "channels": [{"id": 0, "name": "floor"}]},
            "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1, "frame_ms": 20}}


def script(fake):
    req = fake.accept()
    check(req["path"] == "/ws", f"upgrade path {req['path']!r}")
    check(req["headers"].get("sec-websocket-protocol") == "puente.v1",
          f"subprotocol {req['headers'].get('sec-websocket-protocol')!r}")
    welcome = json.dumps(welcome_json()).encode()
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


def groups(ask):
    """The sizes of the messages after the joining packet: 0 for a plain
    packet, else a bundle of that many; BUNDLED packets in all."""
    cycle = [3] if ask == 3 else [0, 1, 2, 0, 3, 3, 1, 0, 2]
    sizes = []
    while sum(max(n, 1) for n in sizes) < BUNDLED:
        sizes.append(cycle[len(sizes) % len(cycle)])
    check(sum(max(n, 1) for n in sizes) == BUNDLED, f"{sizes} does not make {BUNDLED}")
    return sizes


def malformed():
    """Bundles the bench must refuse whole; accepted, their seqs would be gaps."""
    two = [wsfake.audio_frame(5000 + k, 0, PAYLOAD) for k in range(2)]
    return [wsfake.bundle(two, count=3),
            wsfake.bundle(two) + b"\x00",
            wsfake.bundle(two, reserved=1)]


def script_bundles(fake, ask):
    fake.accept()
    fake.send_json(welcome_json())
    hello = fake.recv_json()
    check(hello.get("type") == "core.hello" and hello.get("role") == "listener"
          and hello.get("bundle") == ask and str(hello.get("agent")).startswith("puente-bench/"),
          f"hello {hello!r}")
    sub = fake.recv_json()
    check(sub == {"type": "core.subscribe", "channel": "floor"}, f"subscribe {sub!r}")
    anchor = time.time_ns() // 1000 - ANCHOR_AGO_US
    fake.send_json({"type": "core.subscribed", "channel": "floor", "id": 0,
                    "clock": {"media_time": 0, "unix_us": anchor}})
    start = time.monotonic()
    # Packet 0 joins, before the window; the pause is media time that never
    # comes (the bench follows seq, not media time, for gaps).
    fake.send_frame(wsfake.OP_BINARY, wsfake.audio_frame(0, 0, PAYLOAD, flags=0x01))
    bad = malformed()
    i = 1  # seq; packet i's media time is (i + PAUSE_FRAMES) frames
    for g, n in enumerate(groups(ask)):
        count = max(n, 1)
        last = i + count - 1 + PAUSE_FRAMES
        time.sleep(max(0.0, start + last * 0.02 - time.monotonic()))
        pkts = [wsfake.audio_frame(i + k, (i + k + PAUSE_FRAMES) * FRAME_SAMPLES, PAYLOAD,
                                   flags=0x01 if (g, k) == (4, 1) else 0)
                for k in range(count)]
        fake.send_frame(wsfake.OP_BINARY, wsfake.bundle(pkts) if n else pkts[0])
        if g % 6 == 2 and bad:
            fake.send_frame(wsfake.OP_BINARY, bad.pop())
        i += count
    check(not bad, "every malformed bundle went out")
    code, _ = fake.recv_close(timeout=BUNDLE_WINDOW + 10)
    check(code == 1000, f"close code {code}")


def run_bench(args, script_fn, extra, seconds):
    """Runs the bench against a fake relay playing script_fn; its summary."""
    fake = wsfake.FakeRelay()
    try:
        proc = subprocess.Popen([args.bench, "--url", fake.url(), "--listeners", "1",
                                 "--seconds", str(seconds), "--warmup", "0", *extra],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            script_fn(fake)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    finally:
        fake.close()
    print(out, end="")
    check(proc.returncode == 0, f"puente-bench exited {proc.returncode}: {err}")
    return harness.parse_summary(out)


def test_bundles(args, ask):
    s = run_bench(args, lambda fake: script_bundles(fake, ask), ["--bundle", str(ask)],
                  BUNDLE_WINDOW)
    what = f"--bundle {ask}"
    check(s["packets"] == str(BUNDLED), f"{what}: packets={s['packets']}, expected {BUNDLED}")
    check(s["gaps"] == "0" and s["discont"] == "1",
          f"{what}: gaps={s['gaps']} discont={s['discont']}, expected 0 and 1")
    check(s["bad_audio"] == str(len(malformed())),
          f"{what}: bad_audio={s['bad_audio']}, expected {len(malformed())}")
    if ask == 3:
        p50, top = float(s["delay_ms_p50"]), float(s["delay_ms_max"])
        # Arrival is never before due, so load only adds: timed all on the
        # first packet the median would be >= 120, on the last ~80.
        check(95 <= p50 < 117 and top >= 115,
              f"{what}: delay_ms_p50={p50} delay_ms_max={top}: expected the middle "
              f"packet's ~100 ms and the first's ~120 ms")
    print(f"ok {what}: every packet of every bundle, malformed bundles in bad_audio")


def test(args):
    s = run_bench(args, script, [], 1.5)
    check(s["joined"] == "1", f"joined={s['joined']}")
    check(s["gaps"] == "1" and s["discont"] == "1",
          f"gaps={s['gaps']} discont={s['discont']}, expected 1 and 1")
    low = (ANCHOR_AGO_US - FRAME_SAMPLES * 1e6 / 48000) / 1000 - 0.5
    # Packet i ends at anchor + (i + 1) * 20 ms and leaves no earlier than
    # anchor + 100 ms + i * 20 ms; the upper bound only catches a formula gone wrong.
    check(low <= float(s["delay_ms_p50"]) < 5000,
          f"delay_ms_p50={s['delay_ms_p50']}, expected at least {low}")
    print("ok fragments, ping, 64-bit length, gap, DISCONT, delay and close")
    test_bundles(args, 3)
    test_bundles(args, "auto")
    for bad in ("0", "4", "2x", "AUTO", ""):
        r = harness.run([args.bench, "--listeners", "1", "--seconds", "1", "--bundle", bad], 10)
        check(r.returncode == 2 and "bad --bundle" in r.stderr,
              f"--bundle {bad!r}: exit {r.returncode}, {r.stderr!r}")
    r = harness.run([args.bench, "--http", "http://127.0.0.1:1/x", "--listeners", "1",
                     "--seconds", "1", "--bundle", "1"], 10)
    check(r.returncode == 2, f"--http with --bundle: exit {r.returncode}")
    print("ok a bad --bundle is bad usage")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
