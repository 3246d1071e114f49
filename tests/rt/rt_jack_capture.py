#!/usr/bin/python3
"""rt_jack_capture: the relay captures a real JACK server through PortAudio.

jackd (dummy driver) -> jack_tone (1 kHz, -20 dBFS peak) -> PortAudio:in_0
-> puente --input <JACK device> -> WebSocket -> listener (puente-listen when
built, else the harness's own probe) for 4 s. Asserts: >= 150 packets, no
seq gaps, the decoded audio is the tone (1000 +- 20 Hz, RMS -23 +- 2 dBFS on
a steady stretch), the relay says it captures from the JACK device (not the
test signal) and never lost its input, and it exits 0 within 5 s of SIGTERM.
With PUENTE_JACK_RATE=44100 the device cannot do 48 kHz: the relay resamples,
and the tone must still decode at 1000 Hz.
"""
import os
import re
import signal
import sys
import time
import wave

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtlib  # noqa: E402
from rtlib import check, log  # noqa: E402

LISTEN_SECONDS = 4


def listen_with_tool(h, relay, tool):
    wav = os.path.join(h.dir, "out.wav")
    p = rtlib.Proc(h, "puente-listen", [tool, "--url", relay.url, "--seconds",
                                        str(LISTEN_SECONDS), "--wav", wav])
    rc = p.wait(LISTEN_SECONDS + 15)
    if rc is None:
        raise rtlib.TestFailure("puente-listen did not finish within %d s" % (LISTEN_SECONDS + 15))
    out = p.stdout()
    log("puente-listen exit %s: %s" % (rc, out.strip().splitlines()[-1:] if out.strip() else ""))
    check(rc == 0, "puente-listen exits 0 (got %s)" % rc)
    m_p = re.search(r"\bpackets=(\d+)", out)
    m_g = re.search(r"\bgaps=(\d+)", out)
    check(m_p and m_g, "puente-listen prints a 'packets=N gaps=N' summary")
    x, rate = rtlib.read_wav(wav)
    return int(m_p.group(1)), int(m_g.group(1)), x, rate


def listen_with_probe(h, relay):
    probe = rtlib.WsProbe(relay.port)
    time.sleep(LISTEN_SECONDS)
    probe.close()
    dec = rtlib.OpusDecoder()
    pcm, packets, gaps, last = [], 0, 0, None
    for _, kind, data in probe.snapshot():
        if kind != "audio":
            continue
        flags, seq, _, payload = data
        if last is not None and not flags & 0x01 and seq != (last + 1) & 0xFFFFFFFF:
            gaps += 1
        last = seq
        packets += 1
        pcm.extend(dec.decode(payload))
    import numpy as np
    x = np.asarray(pcm)
    wav = os.path.join(h.dir, "out.wav")
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    log("probe: packets=%d gaps=%d samples=%d" % (packets, gaps, len(x)))
    return packets, gaps, x, 48000


def body(h, args):
    rtlib.JackServer(h).start()
    dev = rtlib.jack_input_device(h, args.puente)
    relay = rtlib.Relay(h, args.puente, ["--input", dev])
    relay.wait_listening()
    err = relay.proc.stderr()
    check(re.search(r"capturing from '%s' \(JACK Audio Connection Kit\) at %d Hz"
                    % (re.escape(dev), rtlib.JACK_RATE), err),
          "relay captures from the JACK device '%s' at %d Hz" % (dev, rtlib.JACK_RATE))
    check("test signal" not in err and "source: audio device" in err,
          "relay did not fall back to the test signal")

    tone = rtlib.Proc(h, "jack_tone", [args.jack_tone, "--seconds", "0", "--connect-timeout", "10"])
    check(rtlib.wait_until(lambda: "connected" in tone.stderr() or tone.poll() is not None, 12),
          "jack_tone connected to PortAudio:in_0")
    check(tone.poll() is None, "jack_tone is running")
    time.sleep(0.3)

    if args.listen:
        packets, gaps, x, rate = listen_with_tool(h, relay, args.listen)
    else:
        log("puente-listen is not built: listening with the harness's probe")
        packets, gaps, x, rate = listen_with_probe(h, relay)

    check(packets >= 150, "packets=%d >= 150 in %d s" % (packets, LISTEN_SECONDS))
    check(gaps == 0, "gaps=%d == 0" % gaps)
    check(rate == 48000, "decoded WAV at 48 kHz (got %d)" % rate)
    check(len(x) >= rate * 3, "decoded %.2f s >= 3 s" % (len(x) / rate))
    # Steady stretch: skip the first 0.5 s (encoder start), take 2 s.
    seg = x[rate // 2: rate // 2 + 2 * rate]
    freq, db = rtlib.tone_figures(seg, rate)
    log("decoded tone: %.2f Hz, RMS %.2f dBFS" % (freq, db))
    check(abs(freq - 1000) <= 20, "dominant frequency %.2f Hz is 1000 +- 20" % freq)
    check(abs(db - (-23.0)) <= 2.0, "RMS %.2f dBFS is -23 +- 2" % db)
    # Every 100 ms window carries the tone: no dropouts inside the stretch.
    win = rate // 10
    lows = [i for i in range(0, len(seg) - win + 1, win)
            if rtlib.tone_figures(seg[i:i + win], rate)[1] < -29]
    check(not lows, "no 100 ms window below -29 dBFS (dropouts at %s)" % lows[:5])

    err = relay.proc.stderr()
    check("input lost" not in err, "the relay never lost its input")
    t0 = time.monotonic()
    relay.proc.signal(signal.SIGTERM)
    rc = relay.proc.wait(5)
    check(rc == 0, "relay exits 0 within 5 s of SIGTERM (exit %s after %.2f s)"
          % (rc, time.monotonic() - t0))
    tone.stop()


def main():
    args = rtlib.common_args(sys.argv[1:], [("--listen", {"default": None})])
    h = rtlib.Harness(args.workdir, args.deadline)
    return h.run(lambda hh: body(hh, args))


if __name__ == "__main__":
    sys.exit(main())
