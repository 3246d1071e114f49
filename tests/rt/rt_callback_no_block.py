#!/usr/bin/python3
"""rt_callback_no_block: the relay's PortAudio callbacks never allocate,
lock or block while the relay runs with a real JACK server.

The plain relay runs under noblock_preload.so (LD_PRELOAD) capturing the
JACK device and playing the floor back to it (--output), with jack_tone
feeding the capture and a WebSocket listener taking the packets, for ~3 s;
SIGTERM; the preload's report must show > 100 capture and > 100 playback
callbacks and no violation.

So that it cannot pass vacuously, the detector is shown to detect:
 1. the same relay run with NOBLOCK_SELFTEST=1 (the trampoline allocates,
    locks and sleeps once inside the flagged region) reports those calls;
 2. noblock_bad_cb, a PortAudio program whose own callback allocates and
    locks, reports violations in every callback, first=malloc.
"""
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtlib  # noqa: E402
from rtlib import check, log  # noqa: E402

RUN_SECONDS = 3


def read_report(path):
    check(os.path.exists(path), "the preload wrote its report %s" % os.path.basename(path))
    with open(path) as f:
        line = f.read().strip()
    log("report: " + line)
    rep = dict(kv.split("=", 1) for kv in line.split())
    for k in ("callbacks", "capture", "playback", "streams", "violations"):
        rep[k] = int(rep[k])
    rep["by"] = {} if rep["by"] == "-" else {
        s.rsplit(":", 1)[0]: int(s.rsplit(":", 1)[1]) for s in rep["by"].split(",")}
    return rep


def run_relay(h, args, dev, tag, seconds, selftest):
    report = os.path.join(h.dir, "report-%s.txt" % tag)
    if os.path.exists(report):
        os.unlink(report)
    env = {"LD_PRELOAD": args.preload, "NOBLOCK_REPORT": report}
    if selftest:
        env["NOBLOCK_SELFTEST"] = "1"
    relay = rtlib.Relay(h, args.puente, ["--input", dev, "--output", dev], env=env,
                        name="puente-" + tag)
    relay.wait_listening()
    err = relay.proc.stderr()
    check(re.search(r"capturing from '%s' \(JACK Audio Connection Kit\)" % re.escape(dev), err),
          "[%s] relay captures from the JACK device" % tag)
    check(re.search(r"playing to '%s' \(JACK Audio Connection Kit\)" % re.escape(dev), err),
          "[%s] relay plays to the JACK device" % tag)
    tone = rtlib.Proc(h, "jack_tone-" + tag,
                      [args.jack_tone, "--seconds", "0", "--connect-timeout", "10"])
    check(rtlib.wait_until(lambda: "connected" in tone.stderr() or tone.poll() is not None, 12),
          "[%s] jack_tone connected" % tag)
    probe = rtlib.WsProbe(relay.port)
    time.sleep(seconds)
    probe.close()
    audio = [e for e in probe.snapshot() if e[1] == "audio"]
    check(len(audio) >= seconds * 50 * 0.7,
          "[%s] audio flowed to a listener meanwhile (%d packets)" % (tag, len(audio)))
    t0 = time.monotonic()
    relay.proc.signal(signal.SIGTERM)
    rc = relay.proc.wait(5)
    check(rc == 0, "[%s] relay exits 0 within 5 s of SIGTERM (exit %s after %.2f s)"
          % (tag, rc, time.monotonic() - t0))
    tone.stop()
    check("input lost" not in relay.proc.stderr(), "[%s] the relay never lost its input" % tag)
    return read_report(report)


def body(h, args):
    rtlib.JackServer(h).start()
    dev = rtlib.jack_input_device(h, args.puente)

    rep = run_relay(h, args, dev, "clean", RUN_SECONDS, selftest=False)
    check(rep["streams"] >= 2, "both streams went through the trampoline (%d)" % rep["streams"])
    check(rep["capture"] > 100, "capture callbacks %d > 100" % rep["capture"])
    check(rep["playback"] > 100, "playback callbacks %d > 100" % rep["playback"])
    check(rep["violations"] == 0, "no allocation, lock or blocking call in %d callbacks "
          "(violations=%d first=%s by=%s)" % (rep["callbacks"], rep["violations"],
                                               rep["first"], rep["by"]))

    # The detector detects, in the very same relay process set-up.
    rep = run_relay(h, args, dev, "selftest", 1.5, selftest=True)
    check(rep["callbacks"] > 50, "self-test run had callbacks (%d)" % rep["callbacks"])
    for sym in ("malloc", "free", "pthread_mutex_lock", "nanosleep"):
        check(rep["by"].get(sym, 0) >= 1, "self-test: %s inside a callback is caught (%s)"
              % (sym, rep["by"].get(sym, 0)))
    check(rep["violations"] >= 4 and rep["first"] == "malloc",
          "self-test: violations=%d >= 4, first=%s" % (rep["violations"], rep["first"]))

    # ... and sees a program's own callback, as it would the relay's.
    report = os.path.join(h.dir, "report-bad_cb.txt")
    bad = rtlib.Proc(h, "noblock_bad_cb", [args.bad_cb, dev, "1.5"],
                     env={"LD_PRELOAD": args.preload, "NOBLOCK_REPORT": report})
    rc = bad.wait(20)
    check(rc == 0, "noblock_bad_cb ran (exit %s)" % rc)
    rep = read_report(report)
    check(rep["callbacks"] > 50, "bad callback ran %d times" % rep["callbacks"])
    check(rep["first"] == "malloc" and rep["by"].get("malloc", 0) >= rep["callbacks"] - 1
          and rep["by"].get("pthread_mutex_lock", 0) >= rep["callbacks"] - 1,
          "bad callback: malloc and pthread_mutex_lock caught in every call (%s)" % rep["by"])


def main():
    args = rtlib.common_args(sys.argv[1:], [("--preload", {"required": True}),
                                            ("--bad-cb", {"required": True})])
    h = rtlib.Harness(args.workdir, args.deadline)
    return h.run(lambda hh: body(hh, args))


if __name__ == "__main__":
    sys.exit(main())
