#!/usr/bin/python3
"""puente-bench against the relay with the test tone: correctness only.

50 listeners for 3 s against a relay with anonymous listeners: every one
joins, packets arrive (at least one per listener in the window), and none
is lost (gaps=0); exit 0 and one summary line. Speed is never asserted:
the machine is shared. Then a URL that is not on this machine is bad
usage (exit 2), before any connection.

Usage: bench_smoke.py --relay PATH --bench PATH
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

LISTENERS = 50
SECONDS = 3
KEYS = ("listeners", "joined", "packets", "gaps", "discont", "delay_ms_p50", "delay_ms_p99",
        "delay_ms_max", "join_ms_p50", "join_ms_p99", "relay_cpu_pct", "relay_rss_kb",
        "seconds")


def test(args):
    with harness.tempdir("puente-bench-smoke-") as tmp:
        with harness.Relay(args.relay, ["--tone", "--anonymous-listeners", "yes"], cwd=tmp) as relay:
            csv = os.path.join(tmp, "bench.csv")
            r = harness.run([args.bench, "--url", relay.url(), "--listeners", str(LISTENERS),
                             "--seconds", str(SECONDS), "--warmup", "1", "--csv", csv], 90)
            print(r.stdout, end="")
            check(r.returncode == 0, f"puente-bench exited {r.returncode}: {r.stderr}")
            s = harness.parse_summary(r.stdout)
            for key in KEYS:
                check(key in s, f"the summary has {key}: {s!r}")
            check(int(s["listeners"]) == LISTENERS, f"listeners={s['listeners']}")
            check(int(s["joined"]) == LISTENERS, f"joined={s['joined']}, expected {LISTENERS}")
            check(int(s["packets"]) >= LISTENERS, f"packets={s['packets']} for {LISTENERS} listeners")
            check(int(s["packets_min"]) > 0, f"a listener got no packet: {s!r}")
            check(int(s["gaps"]) == 0, f"gaps={s['gaps']}")
            check(int(s["bad_audio"]) == 0, f"bad_audio={s['bad_audio']}")
            check(int(s["relay_pid"]) == relay.proc.pid,
                  f"relay_pid={s['relay_pid']}, the relay is {relay.proc.pid}")
            with open(csv) as f:
                rows = f.read().splitlines()
            check(len(rows) == 2 and rows[0].startswith("listeners,joined,"),
                  f"a header and one row in the CSV: {rows!r}")
            print(f"ok {LISTENERS} joined, packets={s['packets']}, gaps=0")

    r = harness.run([args.bench, "--url", "ws://192.0.2.1:8080/ws", "--listeners", "1",
                     "--seconds", "1"], 30)
    check(r.returncode == 2, f"a non-loopback URL: exit {r.returncode}, expected 2: {r.stderr}")
    check(r.stdout == "", f"nothing on stdout for bad usage: {r.stdout!r}")
    print("ok non-loopback URL refused with exit 2")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    p.add_argument("--bench", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
