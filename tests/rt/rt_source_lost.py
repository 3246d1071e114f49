#!/usr/bin/python3
"""rt_source_lost (RELIABILITY.md row 28): the JACK server dies mid-stream.

--fault kill (rt_source_lost): jackd is SIGKILLed, then a new jackd with the
same name and a new jack_tone start. --fault stall (rt_source_stalled): jackd
is SIGSTOPped for the same time, then SIGCONTed; the first jack_tone stays
and connects again to the relay's reopened PortAudio client.

jackd -> jack_tone -> puente --input <JACK device> -> listener probe.
After 2 s of tone the fault hits. Asserted:
 - within 1 s the listener gets core.source {state: lost};
 - packets keep coming (flag 0x02 SILENCE) at the frame rate, and the seq
   runs on with no gap over the whole session;
 - the relay stays responsive while the device is gone (core.ping ->
   core.pong within 1 s, HTTP answers);
then the server is back (new jackd, or SIGCONT):
 - the relay reopens (backoff 0.5 -> 8 s) and the listener gets
   core.source {state: ok} within 15 s, after which the tone is back
   (packets without SILENCE that decode to 1 kHz near -23 dBFS);
 - the relay exits 0 within 5 s of SIGTERM.
When puente-listen is built it listens too, and must report both notices
on its stderr.
"""
import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtlib  # noqa: E402
from rtlib import check, log  # noqa: E402

FRAME_S = 0.020
OK_WAIT = 20  # s from the new jackd to core.source ok (backoff tops at 8 s)


def source_events(probe):
    return [(t, e["state"]) for t, k, e in probe.snapshot()
            if k == "json" and e.get("type") == "core.source"]


def audio_events(probe, since=0.0):
    return [(t, d) for t, k, d in probe.snapshot() if k == "audio" and t >= since]


def ping(probe, relay, n):
    """core.ping answered within 1 s, and the HTTP side answers too."""
    t0 = time.monotonic()
    probe.send_json({"type": "core.ping", "id": n})
    got = rtlib.wait_until(lambda: [t for t, k, e in probe.snapshot()
                                    if k == "json" and e.get("type") == "core.pong"
                                    and e.get("id") == n], 1.0, 0.01)
    check(got, "core.ping %d answered in %.0f ms" % (n, ((got[0] if got else time.monotonic())
                                                         - t0) * 1000))
    with socket.create_connection(("127.0.0.1", relay.port), timeout=2) as s:
        s.settimeout(2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        check(s.recv(16).startswith(b"HTTP/1.1 200"), "HTTP / answers 200")


def check_seq(audio, what):
    gaps, last = [], None
    for t, (flags, seq, mt, _) in audio:
        if last is not None and not flags & 0x01 and seq != (last + 1) & 0xFFFFFFFF:
            gaps.append((last, seq))
        last = seq
    check(not gaps, "%s: %d packets, no seq gap (gaps: %s)" % (what, len(audio), gaps[:5]))


def check_rate(audio, t_from, t_to, what):
    n = len([1 for t, _ in audio if t_from <= t < t_to])
    want = (t_to - t_from) / FRAME_S
    check(n >= want * 0.8, "%s: %d packets in %.1f s (>= 80%% of %d)" % (what, n, t_to - t_from,
                                                                       want))


def body(h, args):
    jack = rtlib.JackServer(h, "jackd-a").start()
    dev = rtlib.jack_input_device(h, args.puente)
    relay = rtlib.Relay(h, args.puente, ["--input", dev])
    relay.wait_listening()
    check(re.search(r"capturing from '%s' \(JACK" % re.escape(dev), relay.proc.stderr()),
          "relay captures from the JACK device '%s'" % dev)
    tone = rtlib.Proc(h, "jack_tone-a", [args.jack_tone, "--seconds", "0",
                                         "--connect-timeout", "10"])
    check(rtlib.wait_until(lambda: "connected" in tone.stderr() or tone.poll() is not None, 12),
          "jack_tone connected")
    probe = rtlib.WsProbe(relay.port)
    listen = None
    if args.listen:
        listen = rtlib.Proc(h, "puente-listen", [args.listen, "--url", relay.url,
                                                 "--seconds", "60"])
    time.sleep(2.0)
    ping(probe, relay, 1)
    before = audio_events(probe)
    check(len(before) >= 70 and all(not d[0] & 0x02 for _, d in before[-50:]),
          "tone flowing before the fault (%d packets, last 50 not SILENCE)" % len(before))

    # ---- the device dies ----
    t_kill = time.monotonic()
    if args.fault == "kill":
        jack.kill()
    else:
        log("SIGSTOP jackd pid %d" % jack.proc.pid)
        jack.proc.signal(signal.SIGSTOP)
    lost = rtlib.wait_until(lambda: [t for t, s in source_events(probe) if s == "lost"], 3.0, 0.01)
    check(lost, "listener told core.source lost")
    lat = lost[0] - t_kill
    log("core.source lost %.0f ms after the fault" % (lat * 1000))
    check(lat <= 1.0, "core.source lost within 1 s of the fault (%.0f ms)" % (lat * 1000))
    time.sleep(0.5)
    ping(probe, relay, 2)
    time.sleep(2.5)
    ping(probe, relay, 3)
    t_out = time.monotonic()
    outage = audio_events(probe, lost[0] + 0.1)
    check(outage and all(d[0] & 0x02 for _, d in outage),
          "packets during the outage are flagged SILENCE (%d, %d unflagged)"
          % (len(outage), len([1 for _, d in outage if not d[0] & 0x02])))
    check_rate(outage, lost[0] + 0.1, t_out, "outage")
    check(relay.proc.poll() is None, "relay still running during the outage")

    # ---- the device comes back ----
    if args.fault == "kill":
        rtlib.JackServer(h, "jackd-b").start()
        tone2 = rtlib.Proc(h, "jack_tone-b", [args.jack_tone, "--seconds", "0",
                                              "--connect-timeout", "25"])
    else:
        log("SIGCONT jackd pid %d" % jack.proc.pid)
        jack.proc.signal(signal.SIGCONT)
        tone2 = tone
        n_conn = tone.stderr().count("connected")
    t_back = time.monotonic()
    ok = rtlib.wait_until(lambda: [t for t, s in source_events(probe) if s == "ok" and t > t_kill],
                          OK_WAIT, 0.02)
    if not ok:
        h.soft_fail("listener told core.source ok within %d s of the server's return" % OK_WAIT)
        log("relay log:\n" + "\n".join(l for l in relay.proc.stderr().splitlines()
                                        if "ALSA lib" not in l))
        h.backtrace(relay.proc)
        # Still a relay: silence keeps flowing and it answers.
        outage = audio_events(probe, lost[0] + 0.1)
        check_rate(outage, lost[0] + 0.1, time.monotonic(), "outage, still lost")
        check(all(d[0] & 0x02 for _, d in outage), "still flagged SILENCE")
        ping(probe, relay, 4)
    else:
        log("core.source ok %.2f s after the server was back (%.2f s after the fault)"
            % (ok[0] - t_back, ok[0] - t_kill))
        check(ok[0] - t_back <= 15.0, "core.source ok within 15 s (%.2f s)" % (ok[0] - t_back))
        if args.fault == "kill":
            conn = lambda: "connected" in tone2.stderr()  # noqa: E731
        else:
            conn = lambda: tone.stderr().count("connected") > n_conn  # noqa: E731
        check(rtlib.wait_until(lambda: conn() or tone2.poll() is not None, 10),
              "jack_tone connected to the reopened PortAudio:in_0")
        t_conn = time.monotonic()
        time.sleep(2.5)
        ping(probe, relay, 4)
        after = audio_events(probe, t_conn + 0.5)
        check_rate(after, t_conn + 0.5, time.monotonic(), "after reopen")
        check(after and all(not d[0] & 0x02 for _, d in after),
              "packets after the reopen are not SILENCE (%d unflagged of %d)"
              % (len([1 for _, d in after if not d[0] & 0x02]), len(after)))

    probe.close()
    allaudio = audio_events(probe)
    check_seq(allaudio, "whole session")
    if ok:
        # Decode everything in order; the tone must be back at the end.
        dec = rtlib.OpusDecoder()
        import numpy as np
        tail = []
        for t, (flags, seq, mt, payload) in allaudio:
            pcm = dec.decode(payload)
            if t >= t_conn + 0.5:
                tail.extend(pcm)
        check(len(tail) >= 48000, "decoded %.2f s after the reopen" % (len(tail) / 48000))
        freq, db = rtlib.tone_figures(np.asarray(tail[:96000]), 48000)
        log("after reopen: %.2f Hz, %.2f dBFS" % (freq, db))
        check(abs(freq - 1000) <= 20 and abs(db + 23) <= 2,
              "the tone is back: %.2f Hz (1000 +- 20), %.2f dBFS (-23 +- 2)" % (freq, db))

    check(relay.proc.stderr().count("input lost") == 1, "the relay logged exactly one loss")
    t0 = time.monotonic()
    relay.proc.signal(signal.SIGTERM)
    rc = relay.proc.wait(5)
    check(rc == 0, "relay exits 0 within 5 s of SIGTERM (exit %s after %.2f s)"
          % (rc, time.monotonic() - t0))
    if listen:
        listen.stop()
        lerr = listen.stderr()
        check(re.search(r"\bsource lost\b", lerr), "puente-listen reported the source lost")
        if ok:
            check(re.search(r"\bsource ok\b", lerr), "puente-listen reported the source ok")
    tone2.stop()


def main():
    args = rtlib.common_args(sys.argv[1:], [("--listen", {"default": None}),
                                            ("--fault", {"choices": ["kill", "stall"],
                                                         "default": "kill"})])
    h = rtlib.Harness(args.workdir, args.deadline)
    return h.run(lambda hh: body(hh, args))


if __name__ == "__main__":
    sys.exit(main())
