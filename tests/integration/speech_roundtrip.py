#!/usr/bin/python3
"""Speech round trip through the relay.

Makes speech with espeak-ng and sox, has the relay loop it (--input-file),
records 5 s of the floor channel with puente-listen --wav, and checks:
packets arrived, no sequence gaps, and the decoded audio is the source
speech: the normalised cross-correlation of a 1 s speech-bearing window of
the recording against the looped source, at the best lag over one loop
period, is at least 0.9.

Usage: speech_roundtrip.py --relay PATH --listen PATH
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

LISTEN_SECONDS = 5
MIN_NCC = 0.9


def test(args):
    with harness.tempdir("puente-speech-") as tmp:
        speech = audio.make_speech(tmp)
        out = os.path.join(tmp, "out.wav")
        source = audio.read_wav(speech)

        with harness.Relay(args.relay, ["--input-file", speech], cwd=tmp) as relay:
            r = harness.run([args.listen, "--url", relay.url(), "--seconds", str(LISTEN_SECONDS),
                             "--wav", out], LISTEN_SECONDS + 20, cwd=tmp)
            sys.stderr.write(r.stderr)
            check(r.returncode == 0, f"puente-listen exited {r.returncode}")
            summary = harness.parse_summary(r.stdout)

        print("summary: " + " ".join(f"{k}={v}" for k, v in summary.items()))
        packets, gaps = int(summary["packets"]), int(summary["gaps"])
        check(packets > 0, "no audio packets arrived")
        check(gaps == 0, f"{gaps} sequence gap(s)")
        check(summary["channel"] == "floor", f"summary names channel {summary['channel']!r}")

        rec = audio.read_wav(out)
        check(len(rec) >= 0.8 * LISTEN_SECONDS * audio.RATE,
              f"recording holds {len(rec) / audio.RATE:.2f} s, expected about {LISTEN_SECONDS} s")
        audio.check_match(rec, source, "decoded audio", MIN_NCC)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--relay", required=True, help="the puente binary")
    p.add_argument("--listen", required=True, help="the puente-listen binary")
    args = p.parse_args()
    args.relay, args.listen = os.path.abspath(args.relay), os.path.abspath(args.listen)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
