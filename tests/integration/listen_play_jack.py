#!/usr/bin/python3
"""puente-listen --play through PortAudio into a JACK dummy server.

The relay loops test speech; puente-listen plays the floor channel on the
JACK device ("system") of a private jackd with the dummy driver; jack_rec
records PortAudio's output port for 3 s. The recording must be the source
speech (normalised cross-correlation >= 0.9 over a 1 s window) and the
summary must show audio without sequence gaps. This exercises the decode
-> SPSC ring -> real-time callback path. Everything runs in a private
/dev/shm when the system allows (harness.private_shm).

Usage: listen_play_jack.py --relay PATH --listen PATH
"""

import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

LISTEN_SECONDS = 6
RECORD_SECONDS = 3
MIN_NCC = 0.9


def test(args):
    harness.need_programs("jack_rec")
    with harness.tempdir("puente-play-") as tmp, harness.Jackd() as jack:
        speech = audio.make_speech(tmp)
        rec_path = os.path.join(tmp, "rec.wav")
        with harness.Relay(args.relay, ["--input-file", speech], cwd=tmp) as relay:
            proc = subprocess.Popen([args.listen, "--url", relay.url(), "--seconds",
                                     str(LISTEN_SECONDS), "--play", "system"], cwd=tmp,
                                    env=jack.env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                jack.wait_port("PortAudio:out_0", 5)
                time.sleep(0.5)  # let the 60 ms cushion fill and playback start
                jack.record("PortAudio:out_0", rec_path, RECORD_SECONDS, tmp)
                out, err = proc.communicate(timeout=LISTEN_SECONDS + 15)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=5)
        # PortAudio's ALSA probing prints harmless lines; keep ours.
        sys.stderr.write("".join(l + "\n" for l in err.splitlines()
                                 if l.startswith("puente-listen")))
        check(proc.returncode == 0, f"puente-listen exited {proc.returncode}")
        summary = harness.parse_summary(out)
        print("summary: " + out.strip())
        check(int(summary["packets"]) > 0, "no audio packets arrived")
        check(summary["gaps"] == "0", f"{summary['gaps']} sequence gap(s)")

        rec = audio.read_wav(rec_path)
        audio.check_match(rec, audio.read_wav(speech), "played audio", MIN_NCC)


def main():
    harness.private_shm()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--relay", required=True, help="the puente binary")
    p.add_argument("--listen", required=True, help="the puente-listen binary")
    args = p.parse_args()
    args.relay, args.listen = os.path.abspath(args.relay), os.path.abspath(args.listen)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
