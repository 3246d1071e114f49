#!/usr/bin/python3
"""puente-booth on audio devices: a microphone and headphones through
PortAudio, on a private JACK server with the dummy driver.

The relay loads the interpretation plugin (booth es-en) and relays a
floor speech. puente-booth captures PortAudio's JACK device (--input
system), plays what it hears (--play system) and goes live into en. sox
plays English speech into PortAudio:in_0 through ALSA's JACK plugin (the
interpreter speaking); jack_rec records PortAudio:out_0 (the interpreter's
headphones). Checks: puente-listen on en receives the speech captured from
the microphone path (ncc >= 0.9, no sequence gap) and the headphones carry
the floor (ncc >= 0.9; both in their best loud 1 s window, see
interp.check_match_windows): callback -> SPSC ring -> encoder thread ->
relay, and relay -> decoder -> SPSC ring -> callback. The console ends
with 0 and reports its losses.

Usage: interp_booth_jack.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
import interp  # noqa: E402
from harness import check  # noqa: E402

LISTEN_SECONDS = 4
RECORD_SECONDS = 3
MIN_NCC = 0.9
# ALSA pcm "jackin": sox's samples into PortAudio's JACK input port.
ASOUNDRC = """pcm.jackraw {
  type jack
  playback_ports { 0 PortAudio:in_0 }
}
pcm.jackin {
  type plug
  slave.pcm "jackraw"
}
"""


def test(args):
    harness.need_programs("jack_rec", "sox")
    with harness.tempdir("puente-interp-jack-") as tmp, harness.Jackd() as jack:
        floor, floor_pcm = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        en, en_pcm = interp.speech(tmp, "en", interp.EN_TEXT, "en-us")
        ini = interp.config(tmp, "es-en")
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        with open(os.path.join(home, ".asoundrc"), "w") as f:
            f.write(ASOUNDRC)
        heard = os.path.join(tmp, "heard.wav")
        rec = os.path.join(tmp, "en.wav")

        os.environ.update({k: v for k, v in jack.env().items()
                           if k.startswith("JACK_")})  # the console's PortAudio finds it
        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            booth = booths.start(args, relay.url(role="interpreter"), tmp, "booth-mic", "--output", "en",
                                 "--input", "system", "--play", "system", "--live")
            booth.wait_line("LIVE into 'en'")
            jack.wait_port("PortAudio:in_0", 5)
            jack.wait_port("PortAudio:out_0", 5)
            sox = subprocess.Popen(["sox", "-q", en, "-t", "alsa", "jackin", "repeat", "3"],
                                   cwd=tmp, env=dict(jack.env(), HOME=home),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, preexec_fn=harness._die_with_parent)
            try:
                time.sleep(0.3)
                if sox.poll() is not None:
                    raise harness.TestFailure("sox could not play into PortAudio:in_0: "
                                              + sox.stderr.read().decode("utf-8", "replace"))
                lp = interp.listen(args, relay.url(), "en", LISTEN_SECONDS, rec, tmp)
                jack.record("PortAudio:out_0", heard, RECORD_SECONDS, tmp)
                summary = interp.listen_result(lp, LISTEN_SECONDS + 20)
            finally:
                sox.kill()
                _, sox_err = sox.communicate(timeout=5)
                sys.stderr.write(sox_err.decode("utf-8", "replace"))
            s = booth.quit()

        print("listen en: " + " ".join(f"{k}={v}" for k, v in summary.items()))
        losses = [line for _, line in booth.lines if "losses:" in line]
        print("console losses: " + (losses[0] if losses else "none"))
        check(int(summary["packets"]) >= 0.9 * LISTEN_SECONDS * 50,
              f"{summary['packets']} packets in {LISTEN_SECONDS} s")
        check(summary["gaps"] == "0", f"{summary['gaps']} sequence gap(s)")
        check(s["refused"] == "0" and s["channel"] == "en", f"console summary {s}")
        interp.check_match_windows(audio.read_wav(rec), en_pcm,
                                   "en channel vs the microphone's speech", MIN_NCC)
        # A playback underrun (packets or decoding late by more than the 60 ms
        # cushion on a loaded machine) leaves a silence in the recording: the
        # best of its loud windows shows what the headphones carry.
        interp.check_match_windows(audio.read_wav(heard), floor_pcm, "headphones vs the floor",
                                   MIN_NCC)


def main():
    harness.private_shm()
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
