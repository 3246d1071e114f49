#!/usr/bin/python3
"""puente-listen against a scripted fake relay: what a real relay rarely does.

1. Lost and skipped audio, hostile input: packets with a sequence gap, a
   DISCONT skip, a 20 s media-time jump; malformed binary and text
   messages, audio for another channel, a fragmented message with a
   terminal escape, then a text message over PUENTE_MAX_MESSAGE. Expects:
   the handshake in protocol order, the client closing with 1009, exit 0,
   exact packet/gap/discont counts, every loss named on stderr, and a WAV
   that stays on the room clock (gaps concealed, the long jump not).
2. Bundles (include/puente/protocol.h) with --bundle 2: core.hello says
   "bundle": 2 (and without --bundle has no "bundle"); plain packets and
   bundles of 1, 2 and 3 mixed, three malformed bundles and a bundle with
   one bad item. Expects every packet counted and decoded in order (no gap,
   the WAV exactly their length), each malformed bundle and the bad item
   once in bad_audio; a bad --bundle value is bad usage (exit 2).
3. An unknown channel: exit 2, the room's channels listed, close 1000.
4. Nobody listening on the port: exit 1, one clear line.

Usage: listen_fake_relay.py --listen PATH
"""

import argparse
import math
import os
import socket
import subprocess
import sys
import time
import wave

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402
from wsfake import (OP_CLOSE, OP_CONT, OP_TEXT, FakeRelay, OpusEncoder, audio_frame,  # noqa: E402
                    bundle)

FRAME = 960
DISCONT = 0x01
WELCOME = {
    "type": "core.welcome", "protocol": 1, "server": "fake relay", "client": 1,
    "room": {"name": "test", "channels": [
        {"id": 0, "name": "floor", "label": "Floor", "lang": ""},
        {"id": 1, "name": "es", "label": "Español", "lang": "es"}]},
    "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1, "frame_ms": 20},
    "limits": {"max_message": 16384}, "source": {"state": "ok"},
}


def start_listen(listen, url, tmp, *extra):
    return subprocess.Popen([listen, "--url", url, "--seconds", "20", *extra], cwd=tmp,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=15):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        raise harness.TestFailure(f"puente-listen still running after {timeout} s")
    sys.stderr.write(err)
    return proc.returncode, out, err


def greet(fake, channel, bundle_size=None):
    """Welcome; then hello (asking for bundle_size, or not at all) and
    subscribe must follow, in that order."""
    req = fake.accept()
    check(req["path"] == "/ws", f"requested path {req['path']!r}")
    proto = req["headers"].get("sec-websocket-protocol")
    check(proto == "puente.v1", f"subprotocol {proto!r}")
    fake.send_json(WELCOME)
    hello = fake.recv_json()
    check(hello.get("type") == "core.hello" and hello.get("role") == "listener"
          and str(hello.get("agent", "")).startswith("puente-listen/")
          and hello.get("bundle") == bundle_size, f"hello was {hello}")
    sub = fake.recv_json()
    check(sub == {"type": "core.subscribe", "channel": channel}, f"subscribe was {sub}")


def tone_packets(n):
    enc = OpusEncoder()
    pkts = []
    for i in range(n):
        pcm = [int(9000 * math.sin(2 * math.pi * 440 * (i * FRAME + k) / 48000))
               for k in range(FRAME)]
        pkts.append(enc.encode(pcm))
    enc.close()
    return pkts


def scenario_hostile(listen, tmp):
    out_wav = os.path.join(tmp, "out.wav")
    fake = FakeRelay()
    proc = start_listen(listen, fake.url(), tmp, "--wav", out_wav)
    try:
        greet(fake, "floor")
        fake.send_json({"type": "core.subscribed", "channel": "floor", "id": 0,
                        "clock": {"media_time": 0, "unix_us": int(time.time() * 1e6)}})
        pkts = tone_packets(91)

        def send(seq, flags=0, media_time=None, channel=0):
            mt = seq * FRAME if media_time is None else media_time
            fake.send_frame(2, audio_frame(seq, mt, pkts[seq], flags, channel))

        send(0, DISCONT)                  # first packet: always flagged, never counted
        for seq in range(1, 50):
            send(seq)
        for seq in range(55, 60):         # 50..54 lost: a gap
            send(seq)
        send(70, DISCONT)                 # the relay skipped 60..69 and says so
        for seq in range(71, 80):
            send(seq)

        fake.send_frame(2, b"\x01\x01\x00")                                 # short
        fake.send_frame(2, audio_frame(80, 80 * FRAME, pkts[80], version=2))  # version
        fake.send_frame(2, audio_frame(80, 80 * FRAME, b""))                # no payload
        fake.send_frame(2, audio_frame(80, 80 * FRAME, b"\x03\x00"))        # bad Opus TOC
        fake.send_frame(2, audio_frame(7, 0, pkts[0], channel=3))           # other channel
        fake.send_frame(OP_TEXT, b"not json")
        fake.send_frame(OP_TEXT, b"[1, 2]")
        fake.send_frame(OP_TEXT, b'{"no": "type"}')
        fake.send_json({"type": "captions.cue", "text": "not for listeners"})
        fake.send_json({"type": "core.clock", "media_time": 48000,
                        "unix_us": int(time.time() * 1e6)})
        fake.send_frame(OP_TEXT, b'{"type": "core.source", ', fin=False)
        fake.send_frame(OP_CONT, b'"state": "lost", ', fin=False)
        fake.send_frame(OP_CONT, b'"detail": "\\u001b[31mmixer unplugged"}', fin=True)

        for seq in range(80, 90):
            send(seq)
        send(90, media_time=90 * FRAME + 20 * 48000)  # a 20 s jump: not filled
        fake.send_frame(OP_TEXT, b'"' + b"x" * 20000 + b'"')  # over PUENTE_MAX_MESSAGE

        code, reason = fake.recv_close()
        check(code == 1009, f"client closed with {code} {reason!r}, expected 1009")
        fake.send_frame(OP_CLOSE, (1009).to_bytes(2, "big"))
    finally:
        status, out, err = finish(proc)
        fake.close()

    check(status == 0, f"exit status {status}, expected 0")
    s = harness.parse_summary(out)
    print("hostile: " + out.strip())
    got = {k: s[k] for k in ("packets", "gaps", "discont", "channel")}
    want = {"packets": "76", "gaps": "1", "discont": "1", "channel": "floor"}
    check(got == want, f"summary {got}, expected {want}")
    for needle in ("missing_packets=5", "concealed_ms=300.0", "long_jumps=1", "bad_audio=4",
                   "bad_json=3", "other_channel=1", "source lost: ?[31mmixer unplugged",
                   "jumped by 20.0 s", "1009"):
        check(needle in err, f"stderr lacks {needle!r}")
    check("\x1b" not in err, "a terminal escape from the network reached stderr")
    with wave.open(out_wav, "rb") as w:
        frames = w.getnframes()
    # 0..89 on the room clock (gap and skip concealed), then packet 90 after the jump.
    check(frames == 91 * FRAME, f"WAV holds {frames} samples, expected {91 * FRAME}")


def scenario_bundles(listen, tmp):
    out_wav = os.path.join(tmp, "bundles.wav")
    fake = FakeRelay()
    proc = start_listen(listen, fake.url(), tmp, "--wav", out_wav, "--bundle", "2")
    n = 60
    try:
        greet(fake, "floor", 2)
        fake.send_json({"type": "core.subscribed", "channel": "floor", "id": 0,
                        "clock": {"media_time": 0, "unix_us": int(time.time() * 1e6)}})
        pkts = tone_packets(n)
        frames = [audio_frame(seq, seq * FRAME, pkts[seq], DISCONT if seq == 0 else 0)
                  for seq in range(n)]
        # Accepted, these would be gaps and a jump on the room clock.
        stray = [audio_frame(5000 + k, 5000 * FRAME, pkts[0]) for k in range(2)]
        bad = [bundle(stray, count=3), bundle(stray) + b"\x00", bundle(stray, reserved=1)]
        seq, sizes = 0, [0, 2, 3, 1, 0, 3, 2]
        for i in range(n):
            size = sizes[i % len(sizes)]
            group = frames[seq:seq + max(size, 1)]
            fake.send_frame(2, bundle(group) if size else group[0])
            seq += len(group)
            if i % 4 == 1 and bad:
                fake.send_frame(2, bad.pop())
            if seq == n:
                break
        check(not bad, "every malformed bundle went out")
        # One item with a bad Opus TOC (code 3, 0 frames): refused alone, its
        # neighbour decoded; together longer than one packet may be.
        fake.send_frame(2, bundle([audio_frame(n, n * FRAME, b"\x03" + bytes(1399)),
                                   audio_frame(n, n * FRAME, pkts[0])]))
        fake.send_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    finally:
        status, out, err = finish(proc)
        fake.close()
    print("bundles: " + out.strip())
    check(status == 0, f"exit status {status}, expected 0")
    s = harness.parse_summary(out)
    got = {k: s[k] for k in ("packets", "gaps", "discont")}
    want = {"packets": str(n + 1), "gaps": "0", "discont": "0"}
    check(got == want, f"summary {got}, expected {want}")
    check("bad_audio=4" in err, "stderr lacks bad_audio=4")
    with wave.open(out_wav, "rb") as w:
        frames = w.getnframes()
    check(frames == (n + 1) * FRAME, f"WAV holds {frames} samples, expected {(n + 1) * FRAME}")
    for bad in ("0", "4", "2x", "AUTO", ""):
        r = harness.run([listen, "--bundle", bad, "--seconds", "1"], 10, cwd=tmp)
        check(r.returncode == 2 and "bad --bundle" in r.stderr,
              f"--bundle {bad!r}: exit {r.returncode}, {r.stderr!r}")


def scenario_unknown_channel(listen, tmp):
    fake = FakeRelay()
    proc = start_listen(listen, fake.url(), tmp, "--channel", "klingon")
    try:
        greet(fake, "klingon")
        fake.send_json({"type": "core.error", "code": "unknown_channel",
                        "message": "no channel klingon", "ref": "core.subscribe"})
        code, _ = fake.recv_close()
        check(code == 1000, f"client closed with {code}, expected 1000")
        fake.send_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    finally:
        status, out, err = finish(proc)
        fake.close()
    print("unknown channel: exit %d, %s" % (status, out.strip()))
    check(status == 2, f"exit status {status}, expected 2")
    check("no channel 'klingon'; its channels: floor, es" in err, "channel list missing")
    check(harness.parse_summary(out)["packets"] == "0", "packets counted")


def scenario_refused(listen, tmp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    r = harness.run([listen, "--url", f"ws://127.0.0.1:{port}/ws", "--seconds", "5"], 15,
                    cwd=tmp)
    sys.stderr.write(r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.startswith("puente-listen:")]
    print(f"refused: exit {r.returncode}, {lines}")
    check(r.returncode == 1, f"exit status {r.returncode}, expected 1")
    check(len(lines) == 1 and "cannot connect" in lines[0], f"stderr {lines}")


def test(args):
    with harness.tempdir("puente-fake-") as tmp:
        scenario_hostile(args.listen, tmp)
        scenario_bundles(args.listen, tmp)
        scenario_unknown_channel(args.listen, tmp)
        scenario_refused(args.listen, tmp)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="the puente-listen binary")
    args = p.parse_args()
    args.listen = os.path.abspath(args.listen)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
