#!/usr/bin/python3
"""Caption refusals, over HTTP and WebSocket, and captions that keep flowing.

With the captions plugin loaded (default captioners cart-es:es, cart-en:en,
max_chars 5000), a puente-listen --captions en and a listener probe that
chose en watch everything. Then:

HTTP (curl; every answer's body starts with the server time):
  5000 code points 200 (the limit) / 5001 code points 413, non-UTF-8 422,
  no token 401, wrong token 403, no seq / seq "abc" / seq -1 400, lang "xx"
  / no lang 400, Content-Type application/json 415, cart-en captioning es
  403; en-US is accepted as en (200); GET .../seq returns the last accepted
  seq; a refused caption does not use up its seq.
WebSocket:
  5001 code points: core.error too_long (ref captions.cue), also through
  puente-caption (refused=1, exit 1); a listener sending captions.cue:
  forbidden; lang "xx": bad_field; a text frame that is not UTF-8: close
  1007; puente-caption skips a non-UTF-8 input line itself and sends the next.
Then valid captions still reach the listeners, exactly the accepted ones
in order, and the archive: GET /captions/files/en.vtt with the organiser
token is 200 WebVTT holding the final cues (.srt and .txt too), and 401
without a token, 403 with a wrong one or a captioner's. Last, a history
larger than 16 KiB reaches a puente-listen that chooses en late.

Usage: captions_refusals.py --relay PATH --listen PATH --caption PATH --plugin-dir DIR
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import captions_common as cc  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

MAX_CHARS = 5000
BURST = 30  # cues sent at once by one captioner (the default burst is 20)
PACED = 30  # lines piped at once into puente-caption, which paces them
ARCHIVE_WAIT_S = 10


def expect(what, got, status):
    check(got[0] == status, f"{what}: {got[0]} {got[1][:120]!r}, expected {status}")
    return got


def ws_error(ws, before, what):
    """The first core.error after the first `before` messages."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        errs = [m for m in ws.messages()[before:] if m.get("type") == "core.error"]
        if errs:
            return errs[0]
        time.sleep(0.02)
    raise harness.TestFailure(f"{what}: no core.error within 10 s")


def http_refusals(relay, accepted):
    """Every HTTP refusal; appends the captions it expects shown to accepted."""
    base = relay.http("/captions/api")
    tok = relay.token("cart-en")
    text = "An English caption."

    limit = "é" * MAX_CHARS  # 2 bytes each: counted in code points, not bytes
    expect("POST 5000 code points", cc.post(relay, "cart-en", 1, "en", limit), 200)
    accepted.append(limit)
    expect("POST 5001 code points", cc.post(relay, "cart-en", 2, "en", limit + "é"), 413)
    expect("POST not UTF-8", cc.post(relay, "cart-en", 2, "en", b"caf\xe9 \xff\xfe"), 422)
    expect("POST without token", cc.curl(f"{base}?seq=2&lang=en", text.encode()), 401)
    expect("POST with an empty token", cc.curl(f"{base}?token=&seq=2&lang=en", text.encode()),
           401)
    expect("POST with a wrong token",
           cc.curl(f"{base}?token=0123456789abcdef0123456789abcdef&seq=2&lang=en",
                   text.encode()), 403)
    expect("POST with the organiser token",
           cc.curl(f"{base}?token={relay.organiser}&seq=2&lang=en", text.encode()), 403)
    expect("POST without seq", cc.curl(f"{base}?token={tok}&lang=en", text.encode()), 400)
    for seq in ("abc", "-1", "1.5", "", "1234567890123456789"):
        expect(f"POST seq={seq!r}", cc.post(relay, "cart-en", seq, "en", text), 400)
    expect("POST lang=xx", cc.post(relay, "cart-en", 2, "xx", text), 400)
    expect("POST lang=<script>", cc.post(relay, "cart-en", 2, "%3Cscript%3E", text), 400)
    expect("POST without lang", cc.curl(f"{base}?token={tok}&seq=2", text.encode()), 400)
    expect("POST application/json",
           cc.post(relay, "cart-en", 2, "en", text, ctype="application/json"), 415)
    expect("POST text/plain; charset=latin1",
           cc.post(relay, "cart-en", 2, "en", text, ctype="text/plain; charset=iso-8859-1"),
           415)
    expect("POST without Content-Type", cc.post(relay, "cart-en", 2, "en", text, ctype=None),
           415)
    expect("POST es as cart-en", cc.post(relay, "cart-en", 2, "es", text), 403)

    # After all that seq 2 is still free: none of the refusals took it.
    expect("POST seq=2", cc.post(relay, "cart-en", 2, "en", "Second, after the refusals."),
           200)
    accepted.append("Second, after the refusals.")
    expect("POST seq=3 lang=en-US", cc.post(relay, "cart-en", 3, "en-US", "Via en-US."), 200)
    accepted.append("Via en-US.")
    status, body = expect("GET seq", cc.curl(relay.http(f"/captions/api/seq?token={tok}")), 200)
    cc.check_answer_stamp(body, "GET seq")
    lines = body.decode().split("\n")
    check(len(lines) >= 2 and lines[1].strip() == "3", f"GET seq answered {body!r}, expected 3")
    expect("GET seq without token", cc.curl(relay.http("/captions/api/seq")), 401)
    expect("GET seq with a wrong token",
           cc.curl(relay.http("/captions/api/seq?token=0123456789abcdef0123")), 403)
    status, body = cc.curl(relay.http(f"/captions/api/seq?token={relay.token('cart-es')}"))
    check(status == 200 and body.decode().split("\n")[1].strip() == "0",
          f"cart-es GET seq: {status} {body!r}, expected 0")


def ws_refusals(args, relay, accepted):
    url = relay.url(role="captioner", n=2)
    cap = cc.Ws(relay.port, relay.ws_path("captioner", 0))
    cap.hello("captioner")
    cap.send({"type": "captions.choose", "lang": "en"})
    cap.wait(lambda m: m.get("type") == "captions.history", what="captions.history")

    n = len(cap.messages())
    cap.send({"type": "captions.cue", "lang": "en", "text": "a" * (MAX_CHARS + 1),
              "final": True})
    err = ws_error(cap, n, "5001 code points over WebSocket")
    check(err.get("code") == "too_long" and err.get("ref") == "captions.cue",
          f"5001 code points over WebSocket: {err}")
    n = len(cap.messages())
    cap.send({"type": "captions.cue", "lang": "xx", "text": "x", "final": True})
    err = ws_error(cap, n, "lang xx over WebSocket")
    check(err.get("code") == "bad_field" and err.get("ref") == "captions.cue",
          f"lang xx over WebSocket: {err}")
    n = len(cap.messages())
    cap.send({"type": "captions.cue", "lang": "en", "text": "From the probe.", "final": True,
              "id": "probe-1"})
    echo = cap.wait(lambda m: m.get("type") == "captions.cue" and m.get("id") == "probe-1",
                    what="the probe's own cue")
    check(echo["text"] == "From the probe." and echo["final"] is True, f"echo: {echo}")
    accepted.append("From the probe.")

    # A burst past the rate: the extra cues are refused rate_limited, the rest arrive.
    burst = cc.Ws(relay.port, relay.ws_path("captioner", 1))
    burst.hello("captioner")
    burst.send({"type": "captions.choose", "lang": "en"})
    burst.wait(lambda m: m.get("type") == "captions.history", what="captions.history")
    for i in range(BURST):
        burst.send({"type": "captions.cue", "lang": "en", "text": f"Burst {i + 1}.",
                    "final": True, "id": f"burst-{i + 1}"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msgs = burst.messages()
        echoed = [m["text"] for m in msgs if m.get("type") == "captions.cue"]
        limited = [m for m in msgs if m.get("type") == "core.error"]
        if len(echoed) + len(limited) >= BURST:
            break
        time.sleep(0.05)
    check(len(echoed) + len(limited) == BURST,
          f"burst of {BURST}: {len(echoed)} echoed + {len(limited)} refused")
    check(limited and all(e.get("code") == "rate_limited" and e.get("ref") == "captions.cue"
                          for e in limited), f"burst of {BURST}: refusals {limited[:3]}")
    check(len(echoed) >= 15, f"burst of {BURST}: only {len(echoed)} accepted")
    check(echoed == [f"Burst {i + 1}." for i in range(len(echoed))],
          f"burst: accepted out of order: {echoed}")
    accepted.extend(echoed)
    burst.close()
    print(f"burst of {BURST} cues at once: {len(echoed)} accepted, {len(limited)} rate_limited")

    lst = cc.Ws(relay.port)
    lst.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
    lst.send({"type": "captions.cue", "lang": "en", "text": "not mine", "final": True})
    err = ws_error(lst, 0, "a listener's captions.cue")
    check(err.get("code") == "forbidden" and err.get("ref") == "captions.cue",
          f"a listener's captions.cue: {err}")
    lst.close()

    # Invalid UTF-8 in a text frame: lws validates it and closes with 1007.
    cap.send_frame(1, b'{"type":"captions.cue","lang":"en","text":"caf\xe9","final":true}')
    check(cap.closed.wait(5), "a non-UTF-8 text frame did not close the connection")
    close = cap.close_code()
    check(close and close[0] == 1007, f"a non-UTF-8 text frame: close {close}, expected 1007")
    cap.close()

    rc, summary, err = cc.run_caption(args, ["--url", url, "--lang", "en", "--quiet"],
                                      ("b" * (MAX_CHARS + 1) + "\nAfter the long one.\n").encode())
    check(rc == 1 and summary["refused"] == "1" and summary["sent"] == "1",
          f"puente-caption with a 5001-character line: exit {rc}, {summary}")
    check("too_long" in err, f"puente-caption does not say too_long: {err}")
    accepted.append("After the long one.")
    rc, summary, err = cc.run_caption(args, ["--url", url, "--lang", "en", "--quiet"],
                                      b"caf\xe9 latin-1\nAnd UTF-8 again.\n")
    check(rc == 1 and summary["refused"] == "1" and summary["sent"] == "1",
          f"puente-caption with a non-UTF-8 line: exit {rc}, {summary}")
    check("not UTF-8" in err, f"puente-caption does not say 'not UTF-8': {err}")
    accepted.append("And UTF-8 again.")
    rc, summary, err = cc.run_caption(args, ["--url", url, "--lang", "xx"], b"x\n")
    check(rc == 2 and "refused the caption language" in err,
          f"puente-caption --lang xx: exit {rc}, {err}")
    rc, summary, err = cc.run_caption(
        args, ["--http", relay.http("/captions/api?token=0123456789abcdef0123"), "--lang",
               "en"], b"x\n")
    check(rc == 2 and "403" in err, f"puente-caption --http with a wrong token: exit {rc}, {err}")
    rc, summary, err = cc.run_caption(
        args, ["--http", relay.caption_url("cart-en"), "--lang", "es"], b"x\n")
    check(rc == 2 and "403" in err and summary["refused"] == "1",
          f"puente-caption --http cart-en --lang es: exit {rc}, {summary}, {err}")


def archive(relay, accepted):
    files = relay.http("/captions/files")
    org = relay.organiser
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    while True:  # the archive is written by the plugin's own thread
        status, body = cc.curl(f"{files}/en.vtt?token={org}")
        check(status == 200, f"GET en.vtt with the organiser token: {status} {body[:100]!r}")
        text = body.decode()
        if all(a in text for a in accepted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(text.startswith("WEBVTT"), f"en.vtt does not start with WEBVTT: {text[:60]!r}")
    missing = [a[:30] for a in accepted if a not in text]
    check(not missing, f"en.vtt lacks final cues {missing}")
    check("not mine" not in text and "é" * (MAX_CHARS + 1) not in text,
          "en.vtt holds a refused caption")
    for ext in ("srt", "txt"):
        status, body = cc.curl(f"{files}/en.{ext}?token={org}")
        check(status == 200 and "Via en-US." in body.decode(),
              f"GET en.{ext}: {status} {body[:100]!r}")
    expect("GET en.vtt without token", cc.curl(f"{files}/en.vtt"), 401)
    expect("GET en.vtt with a wrong token",
           cc.curl(f"{files}/en.vtt?token=0123456789abcdef0123456789abcdef"), 403)
    expect("GET en.vtt with a captioner's token",
           cc.curl(f"{files}/en.vtt?token={relay.token('cart-en')}"), 403)
    return len(text)


def big_history(args, relay, tmp, group):
    """A history larger than the relay's own 16 KiB message limit (README: up
    to ~70 KB) reaches a listener that chooses the language late."""
    for seq, ch in ((5, "á"), (6, "ñ"), (7, "ü")):
        status, body, _ = cc.post(relay, "cart-en", seq, "en", ch * MAX_CHARS)
        check(status == 200, f"POST seq={seq}: {status} {body!r}")
    probe = cc.Ws(relay.port)
    probe.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
    probe.send({"type": "captions.choose", "lang": "en"})
    hist = probe.wait(lambda m: m.get("type") == "captions.history", what="captions.history")
    probe.close()
    size = len(json.dumps(hist, ensure_ascii=False, separators=(",", ":")).encode())
    check(size > 16384, f"the history is only {size} bytes: not a test of large messages")
    late = group.add(cc.Listener(args, relay.url(), tmp, "listen-late-en", "en"))
    late.wait_err("captions in 'en'")
    late.wait_captions(len(hist["cues"]))
    status, summary, cues = late.stop()
    check(status == 0, f"listen-late-en exited {status} after a {size}-byte history")
    check([cc.unescape(c["text"]) for c in cues] == [c["text"] for c in hist["cues"]],
          "listen-late-en: the history differs from the probe's")
    print(f"a {size}-byte history ({len(cues)} cues) reached a late puente-listen")


def test(args):
    with harness.tempdir("puente-captions-refusals-") as tmp, \
            cc.CaptionRelay(args, tmp) as relay, cc.Group() as group:
        l_en = group.add(cc.Listener(args, relay.url(), tmp, "listen-en", "en"))
        l_en.wait_err("captions in 'en'")
        probe = cc.Ws(relay.port)
        probe.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
        probe.send({"type": "captions.choose", "lang": "en"})
        probe.wait(lambda m: m.get("type") == "captions.history", what="captions.history")

        accepted = []
        http_refusals(relay, accepted)
        ws_refusals(args, relay, accepted)

        # Still flowing after every refusal: HTTP and WebSocket.
        status, body, _ = cc.post(relay, "cart-en", 4, "en", "Still flowing over HTTP.")
        check(status == 200, f"POST seq=4 after the refusals: {status} {body!r}")
        accepted.append("Still flowing over HTTP.")
        rc, summary, err = cc.run_caption(args, ["--url", relay.url(role="captioner", n=3), "--lang", "en",
                                                 "--quiet"], b"Still flowing over WebSocket.\n")
        check(rc == 0 and summary["sent"] == "1", f"puente-caption at the end: {rc} {summary}")
        accepted.append("Still flowing over WebSocket.")
        lines = [f"Paced line {i + 1}." for i in range(PACED)]
        t0 = time.monotonic()
        rc, summary, err = cc.run_caption(args, ["--url", relay.url(role="captioner", n=3), "--lang", "en",
                                                 "--quiet"], ("\n".join(lines) + "\n").encode())
        took = time.monotonic() - t0
        check(rc == 0 and summary == {"sent": str(PACED), "refused": "0", "duplicates": "0",
                                      "failed": "0"},
              f"puente-caption with {PACED} lines at once: exit {rc}, {summary}: {err}")
        check(took >= (PACED - 15) / 5 - 0.5, f"{PACED} lines sent in {took:.2f} s: not paced")
        accepted.extend(lines)
        print(f"{PACED} lines piped at once: all sent in {took:.2f} s (paced at 5/s after 15)")

        cues = l_en.wait_captions(len(accepted), timeout=15)
        time.sleep(0.5)
        status, summary, cues = l_en.stop()
        check(status == 0, f"listen-en exited {status}")
        got = [cc.unescape(c["text"]) for c in cues]
        check(got == accepted, "listen-en: cues " + str([g[:30] for g in got]) +
              ", expected " + str([a[:30] for a in accepted]))
        check([c["seq"] for c in cues] == list(range(1, len(cues) + 1)),
              f"listen-en: seq {[c['seq'] for c in cues]}")
        probe_got = [m["text"] for m in probe.messages("captions.cue")]
        check(probe_got == accepted, f"probe: {len(probe_got)} cues, expected {len(accepted)}")
        probe.close()
        size = archive(relay, accepted)
        print(f"refusals: all answered as documented; {len(accepted)} accepted captions arrived "
              f"in order; en.vtt {size} bytes")
        big_history(args, relay, tmp, group)


def main():
    args = cc.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
