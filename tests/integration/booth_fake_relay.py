#!/usr/bin/python3
"""puente-booth against a scripted fake relay: the console's side of the
interpretation protocol, without the plugin.

1. A whole session driven through the console's standard input: welcome,
   hello as interpreter, the booth derived from interpretation.state, join,
   source, claim (--live), then a command typed before the join (it waits
   for the join); audio only while live: the 16-byte header
   (version 1, kind 1, the output channel's index, seq +1 per packet,
   media_time +960, no DISCONT: a pause is not a loss), paced at
   50 packets/s from a WAV file, decoding to the file's speech (ncc >= 0.9);
   mute, cough, direction (the header's channel follows the state),
   handover accept (off air once the partner is live), a partner's
   pre-roll while its handover request is pending, a refusal counted, quit
   releasing the channel and closing 1000; the summary line.
2. An output channel the relay does not have: exit 2, the channels listed.
3. A relay without the plugin (core.error unknown_type on join): exit 1;
   a booth it does not have (bad_field on join): exit 2.

Usage: booth_fake_relay.py --booth PATH
"""

import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rt"))
import numpy as np  # noqa: E402

import audio  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402
from rtlib import OpusDecoder  # noqa: E402
from wsfake import OP_BINARY, OP_CLOSE, OP_TEXT, FakeRelay  # noqa: E402

ME, PARTNER = 7, 9
FLOOR, ES, EN = 0, 1, 2
DISCONT = 0x01
WELCOME = {
    "type": "core.welcome", "protocol": 1, "server": "fake relay", "client": ME,
    "room": {"name": "test", "channels": [
        {"id": 0, "name": "floor", "label": "Floor", "lang": ""},
        {"id": 1, "name": "es", "label": "Español", "lang": "es"},
        {"id": 2, "name": "en", "label": "English", "lang": "en"}]},
    "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1, "frame_ms": 20},
    "limits": {"max_message": 16384}, "source": {"state": "ok"},
}


def state(live=None, direction=None, partners=(ME,), pending=None, muted=False):
    return {"type": "interpretation.state", "floor_language": "es", "suggested_floor": None,
            "booths": [{"id": "es-en", "channels": ["es", "en"], "live": live,
                        "direction": direction, "muted": muted, "pending": pending,
                        "partners": list(partners)}]}


class Session:
    """The fake relay's side of one connection: every audio frame is kept."""

    def __init__(self, fake):
        self.fake = fake
        self.audio = []  # (t_mono, channel, flags, seq, media_time, payload)
        self.closed = None

    def _frame(self, deadline):
        op, fin, data = self.fake.recv_frame(max(0.01, deadline - time.monotonic()))
        check(fin, "a fragmented message from the console")
        if op == OP_BINARY:
            check(len(data) > 16, f"audio message of {len(data)} bytes")
            check(data[0] == 1 and data[1] == 1, f"header version/kind {data[0]}/{data[1]}")
            self.audio.append((time.monotonic(), data[2], data[3],
                               int.from_bytes(data[4:8], "big"),
                               int.from_bytes(data[8:16], "big"), data[16:]))
            return None
        if op == OP_CLOSE:
            self.closed = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            return {"type": "(close)", "code": self.closed}
        check(op == OP_TEXT, f"unexpected opcode {op}")
        import json
        return json.loads(data)

    def expect(self, want, timeout=5):
        """Reads until one JSON message; it must equal want (a dict)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self._frame(deadline)
            except (TimeoutError, OSError):
                break
            if msg is not None:
                check(msg == want, f"console sent {msg}, expected {want}")
                return msg
        raise harness.TestFailure(f"no {want} from the console within {timeout} s")

    def pump(self, seconds):
        """Collects audio for seconds; any JSON message is a failure."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = self._frame(deadline)
            except (TimeoutError, OSError):
                continue
            check(msg is None, f"unexpected message {msg}")

    def mark(self):
        return len(self.audio)


def start_booth(booth, url, tmp, *extra):
    return subprocess.Popen([booth, "--url", url, *extra], cwd=tmp, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def command(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def finish(proc, timeout=15):
    """Waits for the console to end; its stderr goes to ours either way."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
        sys.stderr.write(err)
        raise harness.TestFailure(f"puente-booth still running after {timeout} s")
    sys.stderr.write(err)
    return proc.returncode, out, err


def kill(proc):
    """After a failed check: stop the console at once and show what it said."""
    proc.kill()
    sys.stderr.write(proc.communicate(timeout=5)[1])


def check_run(frames, what, channel, first_discont):
    """frames: consecutive packets sent; header and pacing figures."""
    check(frames, f"{what}: no audio")
    seqs = [f[3] for f in frames]
    mts = [f[4] for f in frames]
    check(all(f[1] == channel for f in frames),
          f"{what}: channels {sorted(set(f[1] for f in frames))}, expected {channel}")
    check(all(b == (a + 1) & 0xFFFFFFFF for a, b in zip(seqs, seqs[1:])),
          f"{what}: seq not +1 per packet: {seqs[:8]}...")
    check(all(b - a == 960 for a, b in zip(mts, mts[1:])), f"{what}: media_time not +960")
    flags = [f[2] for f in frames]
    want = [DISCONT if first_discont else 0] + [0] * (len(frames) - 1)
    check(flags == want, f"{what}: flags {flags[:5]}..., expected "
          + ("DISCONT on the first only" if first_discont else "none"))


def decode(frames):
    dec = OpusDecoder()
    return np.concatenate([np.array(dec.decode(f[5])) for f in frames])


def scenario_session(booth, tmp, speech):
    source = audio.read_wav(speech)
    fake = FakeRelay()
    proc = start_booth(booth, fake.url(), tmp, "--output", "en", "--input-file", speech,
                       "--live", "--seconds", "60")
    try:
        req = fake.accept()
        check(req["headers"].get("sec-websocket-protocol") == "puente.v1", "subprotocol")
        s = Session(fake)
        command(proc, "handover")  # typed early: it waits for the join
        fake.send_json(WELCOME)
        deadline = time.monotonic() + 5
        hello = None
        while hello is None and time.monotonic() < deadline:
            hello = s._frame(deadline)
        check(hello and hello.get("type") == "core.hello" and hello.get("role") == "interpreter"
              and str(hello.get("agent", "")).startswith("puente-booth/"), f"hello {hello}")
        check(not s.audio, "audio before the console was live")
        fake.send_json({"type": "core.hello", "role": "interpreter"})
        fake.send_json(state(partners=()))
        s.expect({"type": "interpretation.join", "booth": "es-en"})
        fake.send_json(state())
        s.expect({"type": "interpretation.source", "channel": "floor"})
        s.expect({"type": "interpretation.claim", "channel": "en"})
        s.expect({"type": "interpretation.handover.request"})
        check(not s.audio, f"{len(s.audio)} audio packets before the console was live")

        # Live into en: 3 s of audio.
        fake.send_json(state(live=ME, direction="en"))
        s.pump(3.0)
        live1 = s.audio[:]
        check_run(live1, "live into en", EN, False)
        span = live1[-1][0] - live1[0][0]
        rate = (len(live1) - 1) / span
        print(f"live: {len(live1)} packets in {span:.2f} s = {rate:.2f}/s, "
              f"bytes/packet {np.mean([len(f[5]) for f in live1]):.0f}")
        check(140 <= len(live1) <= 155, f"{len(live1)} packets in 3 s, expected about 150")
        check(49.0 <= rate <= 51.0, f"pacing {rate:.2f} packets/s, expected 50")
        audio.check_match(decode(live1), source, "booth audio (decoded)", 0.9)

        # Mute: nothing; unmute: resumes, seq continuous, media_time moved on.
        command(proc, "mute")
        s.expect({"type": "interpretation.mute", "on": True})
        m = s.mark()
        s.pump(0.5)
        check(s.mark() == m, f"{s.mark() - m} packets while muted")
        command(proc, "unmute")
        s.expect({"type": "interpretation.mute", "on": False})
        m = s.mark()
        s.pump(0.5)
        after = s.audio[m:]
        check_run(after, "after unmute", EN, False)
        last = s.audio[m - 1]  # the last packet before mute
        check(after[0][3] == last[3] + 1, f"seq after unmute {after[0][3]}, "
              f"expected {last[3] + 1}")
        check(after[0][4] > last[4] + 960, "media_time did not move on while muted")

        # Cough: a toggle.
        command(proc, "cough")
        s.expect({"type": "interpretation.cough", "on": True})
        m = s.mark()
        s.pump(0.4)
        check(s.mark() == m, f"{s.mark() - m} packets while coughing")
        command(proc, "cough")
        s.expect({"type": "interpretation.cough", "on": False})
        s.pump(0.3)
        check(s.mark() > m, "no audio after the cough")

        # Direction: the header follows the relay's state, not the request.
        command(proc, "direction es")
        s.expect({"type": "interpretation.direction", "channel": "es"})
        s.pump(0.2)
        fake.send_json(state(live=ME, direction="es"))
        s.pump(0.3)  # packets in flight may still say en
        m = s.mark()
        s.pump(0.5)
        check_run(s.audio[m:], "after direction es", ES, False)

        # A refusal is counted.
        fake.send_json({"type": "core.error", "code": "busy", "message": "someone is live",
                        "ref": "interpretation.claim"})

        # Handover: the partner asks, this console accepts, the partner is live.
        fake.send_json(state(live=ME, direction="es", partners=(ME, PARTNER), pending=PARTNER))
        fake.send_json({"type": "interpretation.handover", "from": ME, "to": PARTNER,
                        "state": "requested"})
        command(proc, "accept")
        s.expect({"type": "interpretation.handover.accept"})
        fake.send_json(state(live=PARTNER, direction="es", partners=(ME, PARTNER)))
        fake.send_json({"type": "interpretation.handover", "from": ME, "to": PARTNER,
                        "state": "done"})
        s.pump(0.3)
        m = s.mark()
        s.pump(0.5)
        check(s.mark() == m, f"{s.mark() - m} packets after handing over")

        # Now the partner side: this console asks; it streams while pending, so
        # the relay has its packets the moment the swap happens.
        command(proc, "handover")
        s.expect({"type": "interpretation.handover.request"})
        m = s.mark()
        fake.send_json(state(live=PARTNER, direction="es", partners=(ME, PARTNER), pending=ME))
        s.pump(0.5)
        pre = s.mark()
        check(pre - m >= 20, f"only {pre - m} packets while pending (pre-roll)")
        fake.send_json(state(live=ME, direction="es", partners=(ME, PARTNER)))
        s.pump(0.5)
        check_run(s.audio[m:], "pending -> live", ES, False)

        command(proc, "quit")
        s.expect({"type": "interpretation.release"})
        deadline = time.monotonic() + 5
        while s.closed is None and time.monotonic() < deadline:
            s._frame(deadline)
        check(s.closed == 1000, f"console closed with {s.closed}, expected 1000")
        fake.send_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    except BaseException:
        kill(proc)
        fake.close()
        raise
    status, out, err = finish(proc)
    fake.close()
    check(status == 0, f"exit status {status}, expected 0")
    summary = harness.parse_summary(out)
    print("session: " + out.strip())
    check(int(summary["sent"]) == len(s.audio),
          f"sent={summary['sent']}, the relay got {len(s.audio)}")
    check(summary["refused"] == "1", f"refused={summary['refused']}, expected 1")
    check(summary["channel"] == "es", f"channel={summary['channel']}, expected es")
    check(5.0 <= float(summary["live_s"]) <= 30, f"live_s={summary['live_s']}")
    for needle in ("state: floor=es", "LIVE into 'en'", "handover requested: #7(you) -> #9",
                   "refused: busy on interpretation.claim", "off air"):
        check(needle in err, f"stderr lacks {needle!r}")


def scenario_unknown_output(booth, tmp, speech):
    fake = FakeRelay()
    proc = start_booth(booth, fake.url(), tmp, "--output", "fr", "--input-file", speech,
                       "--seconds", "20")
    try:
        fake.accept()
        fake.send_json(WELCOME)
        code, _ = fake.recv_close()
        check(code == 1000, f"console closed with {code}, expected 1000")
        fake.send_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    except BaseException:
        kill(proc)
        fake.close()
        raise
    status, out, err = finish(proc)
    fake.close()
    print(f"unknown output: exit {status}, {out.strip()}")
    check(status == 2, f"exit status {status}, expected 2")
    check("no channel 'fr'; its channels: floor, es, en" in err, "channel list missing")


def scenario_join_refused(booth, tmp, speech, what, code, status_want, needle):
    """--booth given: join straight after hello; the relay answers code."""
    fake = FakeRelay()
    proc = start_booth(booth, fake.url(), tmp, "--output", "en", "--booth", "es-en",
                       "--input-file", speech, "--seconds", "20")
    try:
        fake.accept()
        s = Session(fake)
        fake.send_json(WELCOME)
        s.expect({"type": "core.hello", "role": "interpreter",
                  "agent": "puente-booth/0.1.0"})
        fake.send_json({"type": "core.hello", "role": "interpreter"})
        s.expect({"type": "interpretation.join", "booth": "es-en"})
        fake.send_json({"type": "core.error", "code": code,
                        "message": "refused", "ref": "interpretation.join"})
        deadline = time.monotonic() + 5
        while s.closed is None and time.monotonic() < deadline:
            s._frame(deadline)
        fake.send_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    except BaseException:
        kill(proc)
        fake.close()
        raise
    status, out, err = finish(proc)
    fake.close()
    print(f"{what}: exit {status}, {out.strip()}")
    check(status == status_want, f"{what}: exit status {status}, expected {status_want}")
    check(needle in err, f"{what}: stderr lacks {needle!r}")


def test(args):
    with harness.tempdir("puente-booth-fake-") as tmp:
        speech = audio.make_speech(tmp)
        scenario_session(args.booth, tmp, speech)
        scenario_unknown_output(args.booth, tmp, speech)
        scenario_join_refused(args.booth, tmp, speech, "no plugin", "unknown_type", 1,
                              "is the interpretation plugin loaded?")
        scenario_join_refused(args.booth, tmp, speech, "unknown booth", "bad_field", 2,
                              "the relay has no booth 'es-en'")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--booth", required=True, help="the puente-booth binary")
    args = p.parse_args()
    args.booth = os.path.abspath(args.booth)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
