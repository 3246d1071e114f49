#!/usr/bin/python3
"""The relay's room playback: --output plays a channel on an audio device.

A private jackd (dummy driver) stands in for the room's sound card. The
relay loops test speech into the floor channel and plays that channel on
the JACK device ("system") through its audio worker; jack_rec records
PortAudio's output port for 3 s. The recording must be the source speech
(normalised cross-correlation >= 0.9 over a 1 s window): decode -> SPSC
ring -> real-time output callback, end to end.

Usage: relay_output_jack.py --relay PATH
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

RECORD_SECONDS = 3
MIN_NCC = 0.9


def test(args):
    harness.need_programs("jack_rec")
    with harness.tempdir("puente-out-") as tmp, harness.Jackd() as jack:
        speech = audio.make_speech(tmp)
        rec_path = os.path.join(tmp, "rec.wav")
        with harness.Relay(args.relay, ["--input-file", speech, "--output", "system",
                                        "--output-channel", "floor"],
                           cwd=tmp, env=jack.env()) as relay:
            jack.wait_port("PortAudio:out_0", 5)
            time.sleep(0.5)
            jack.record("PortAudio:out_0", rec_path, RECORD_SECONDS, tmp)
            log = "\n".join(relay.lines)
            check("playing to 'system'" in log, "the relay says it plays to the JACK device")

        rec = audio.read_wav(rec_path)
        audio.check_match(rec, audio.read_wav(speech), "played audio", MIN_NCC)


def main():
    harness.private_shm()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--relay", required=True, help="the puente binary")
    args = p.parse_args()
    args.relay = os.path.abspath(args.relay)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
