#!/usr/bin/python3
"""puente-meter against the relay with the levels plugin and the test tone.

The relay relays its 1 kHz test tone at -20 dBFS on the floor with the
interpretation, captions and levels plugins. `puente-meter --once` connects
as a technician and prints one snapshot as plain lines: the floor's line
must read peak -20.0 +- 0.5 dBFS, and it exits 0. Then `puente-meter
--seconds 2` with stdout not a terminal prints plain snapshots (about one a
second) and exits 0.

Usage: levels_meter.py --relay PATH --meter PATH --plugin-dir DIR
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

PEAK_DB = -20.0
TOLERANCE_DB = 0.5


def meter_lines(stdout, channel):
    out = []
    for line in stdout.splitlines():
        if not line.startswith("meter "):
            continue
        fields = dict(item.partition("=")[::2] for item in line.split()[1:])
        if fields.get("channel") == channel:
            out.append(fields)
    return out


def test(args):
    with harness.tempdir("puente-levels-meter-") as tmp:
        relay_args = ["--tone", "--plugins", "interpretation,captions,levels",
                      "--plugin-dir", args.plugin_dir]
        with harness.Relay(args.relay, relay_args, cwd=tmp) as relay:
            loaded = any("plugin levels" in l and "loaded" in l for l in relay.lines)
            time.sleep(1.0)  # the meters settle on the tone
            r = harness.run([args.meter, "--once", "--url", relay.url(role="technician")], 30)
            print(r.stdout, end="")
            check(r.returncode == 0, f"puente-meter --once exited {r.returncode}: {r.stderr}")
            floor = meter_lines(r.stdout, "floor")
            check(len(floor) == 1, f"one floor meter line from --once, got {floor!r}")
            peak = float(floor[0]["peak"])
            check(abs(peak - PEAK_DB) <= TOLERANCE_DB,
                  f"floor peak {peak} dBFS, expected {PEAK_DB} +- {TOLERANCE_DB}")
            for key in ("rms", "momentary", "short_term", "integrated", "clips", "listeners"):
                check(key in floor[0], f"the floor line has {key}: {floor[0]!r}")
            print(f"ok floor peak {peak} dBFS (levels plugin loaded line seen: {loaded})")

            r = harness.run([args.meter, "--seconds", "2", "--url", relay.url(role="technician")], 30)
            check(r.returncode == 0, f"puente-meter --seconds 2 exited {r.returncode}: {r.stderr}")
            snaps = meter_lines(r.stdout, "floor")
            check(len(snaps) >= 1, f"plain snapshots without a terminal: {r.stdout!r}")
            check("\033" not in r.stdout, "no ANSI escapes when stdout is not a terminal")
            print(f"ok {len(snaps)} plain floor snapshots in 2 s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    p.add_argument("--meter", required=True)
    p.add_argument("--plugin-dir", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
