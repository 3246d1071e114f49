#!/usr/bin/python3
"""The tools with personal links, against a relay that admits invitees only.

1. puente-listen gets in with the token given each way (--token,
   --token-file, a personal link as --url, PUENTE_TOKEN, ?t= in a ws URL)
   and hears the test tone; the token is in none of its output.
2. No token, a bad one, a revoked one: exit 1 and one line with the HTTP
   status and what to do (401, 403); bad usage (both --token and
   --token-file, a malformed token) exits 2 without echoing the token.
3. puente-meter with a technician's link, puente-caption --help and
   puente-booth --help mention the token options.
4. TLS: with --cert/--key, an https personal link becomes wss and gets in
   when PUENTE_CA_FILE names the self-signed certificate, and fails with a
   TLS message when it does not.

Usage: tools_access.py --relay PATH --listen PATH --meter PATH --caption PATH --booth PATH
"""

import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

BAD_TOKEN = "AAAAAAAAAAAAAAAAAAAAAA"


def tool(cmd, env=None, timeout=30):
    """Runs a tool with PUENTE_TOKEN and PUENTE_CA_FILE only as given."""
    full = {k: v for k, v in os.environ.items() if k not in ("PUENTE_TOKEN", "PUENTE_CA_FILE")}
    full.update(env or {})
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=full)
    except subprocess.TimeoutExpired as e:
        name = os.path.basename(cmd[0])
        raise harness.TestFailure(f"{name} still running after {timeout} s") from e


def heard(r, what, secrets):
    check(r.returncode == 0, f"{what}: exit {r.returncode}: {r.stderr}")
    summary = harness.parse_summary(r.stdout)
    check(int(summary["packets"]) > 10, f"{what}: audio arrived: {summary}")
    for s in secrets:
        check(s not in r.stdout and s not in r.stderr, f"{what}: the token is not printed")
    print(f"ok {what}: {summary['packets']} packets")


def refused(r, what, status, advice, secrets=()):
    check(r.returncode == 1, f"{what}: exit {r.returncode} (expected 1): {r.stderr}")
    lines = [l for l in r.stderr.splitlines() if "cannot connect" in l]
    check(len(lines) == 1 and f"HTTP {status}" in lines[0] and advice in lines[0],
          f"{what}: one line with HTTP {status} and '{advice}': {r.stderr!r}")
    for s in secrets:
        check(s not in r.stdout and s not in r.stderr, f"{what}: the token is not printed")
    print(f"ok {what}: {lines[0]}")


def make_cert(tmp):
    return harness.self_signed_cert(tmp)


def test(args):
    listen = [args.listen, "--seconds", "1.5"]
    with harness.tempdir("puente-tools-access-") as tmp:
        with harness.Relay(args.relay, ["--tone"], anonymous=False) as relay:
            inv = relay.invitations
            base = f"http://127.0.0.1:{relay.port}"
            ws = relay.url()
            token = inv.token("listener", 0)
            secrets = [token]

            # 1. Every way in.
            heard(tool(listen + ["--url", ws, "--token", token]), "--token", secrets)
            token_file = os.path.join(tmp, "token")
            with open(token_file, "w", encoding="utf-8") as f:
                f.write(token + "\r\n")
            heard(tool(listen + ["--url", ws, "--token-file", token_file]), "--token-file",
                  secrets)
            heard(tool(listen + ["--url", f"{base}/#t={token}"]), "a personal link as --url",
                  secrets)
            heard(tool(listen + ["--url", f"{base}/interpretation/?t={token}"]),
                  "a link with ?t= on another page", secrets)
            heard(tool(listen + ["--url", ws], env={"PUENTE_TOKEN": token}), "PUENTE_TOKEN",
                  secrets)
            heard(tool(listen + ["--url", relay.url(role="listener")]), "?t= in a ws URL",
                  secrets)
            # --token wins over the environment's.
            heard(tool(listen + ["--url", ws, "--token", token],
                       env={"PUENTE_TOKEN": BAD_TOKEN}), "--token over PUENTE_TOKEN", secrets)

            # 2. Refusals and bad usage.
            refused(tool(listen + ["--url", ws]), "no token", 401, "check your personal link")
            refused(tool(listen + ["--url", f"{base}/#t={BAD_TOKEN}"]), "an unknown token", 401,
                    "check your personal link", [BAD_TOKEN])
            revoked = inv.token("listener", 1)
            inv.revoke("listener-1", int(time.time()) - 1)
            # The relay re-reads the store when it changes, within about a second.
            for _ in range(20):
                r = tool(listen + ["--url", ws, "--token", revoked])
                if r.returncode != 0:
                    break
                time.sleep(0.5)
            refused(r, "a revoked token", 403, "ask the organisers for a new one", [revoked])

            r = tool([args.listen, "--token", token, "--token-file", token_file])
            check(r.returncode == 2 and "exclude each other" in r.stderr and token not in r.stderr,
                  f"--token with --token-file: {r.returncode} {r.stderr!r}")
            r = tool([args.listen, "--url", f"{base}/#t=secret!token"])
            check(r.returncode == 2 and "bad --url" in r.stderr and "secret" not in r.stderr,
                  f"a malformed link: {r.returncode} {r.stderr!r}")
            r = tool([args.listen, "--token", "secret token"])
            check(r.returncode == 2 and "bad --token" in r.stderr and "secret" not in r.stderr,
                  f"a malformed --token: {r.returncode} {r.stderr!r}")
            print("ok bad usage: exit 2, the token never echoed")

            # 3. The other tools.
            tech = inv.token("technician", 0)
            r = tool([args.meter, "--once", "--url", f"{base}/levels/#t={tech}"])
            check(r.returncode in (0, 1) and "cannot connect" not in r.stderr
                  and tech not in r.stdout + r.stderr,
                  f"puente-meter with a technician's link got in: {r.returncode} {r.stderr!r}")
            print("ok puente-meter with a technician's link")
            for t in (args.listen, args.meter, args.caption, args.booth):
                h = tool([t, "--help"]).stdout
                check("--token TOKEN" in h and "--token-file" in h and "PUENTE_TOKEN" in h,
                      f"{os.path.basename(t)} --help mentions the token options")
            print("ok every tool's --help mentions --token, --token-file and PUENTE_TOKEN")

        # 4. TLS.
        cert, key = make_cert(tmp)
        with harness.Relay(args.relay, ["--tone", "--cert", cert, "--key", key],
                           anonymous=False) as relay:
            token = relay.invitations.token("listener", 0)
            link = f"https://127.0.0.1:{relay.port}/#t={token}"
            heard(tool(listen + ["--url", link], env={"PUENTE_CA_FILE": cert}),
                  "an https link over wss with PUENTE_CA_FILE", [token])
            r = tool(listen + ["--url", link])
            check(r.returncode == 1 and "TLS handshake failed" in r.stderr
                  and "PUENTE_CA_FILE" in r.stderr and token not in r.stderr,
                  f"a self-signed relay without PUENTE_CA_FILE: {r.returncode} {r.stderr!r}")
            print("ok a certificate not trusted: exit 1, a TLS message")


def main():
    p = argparse.ArgumentParser()
    for name in ("relay", "listen", "meter", "caption", "booth"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
