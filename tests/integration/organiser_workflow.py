#!/usr/bin/env python3
"""The organiser's workflow end to end, with the real tools:

people.csv -> puente-token issue -> links.csv and invitees.json -> the
relay (--invitees, --attendance) -> people enter with their links, choose
channels and captions, the captioner's language grant holds, one opens her link on a second device, one is
revoked with puente-token revoke while connected -> puente-report.

A second run of the relay on the same log is killed (SIGKILL) while Eve
listens. The report must count what happened: 6 participants (the revoked
one included, the one on two devices once, Eve from the killed run), by
country and sector as in the CSV, a peak of 5 people, two runs of which one
crashed with every line readable, and minutes on es and with English captions.
"""

import argparse
import csv
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from access_common import Door, welcome  # noqa: E402
from harness import check  # noqa: E402

PEOPLE = """email,name,role,lang,country,sector,gender,booths,languages
ana@example.org,Ana Pérez,listener,es,CR,government,female,,
ben@example.org,"Ben Okafor, PhD",listener,en,BB,civil society,male,,
carla@example.org,Carla Díaz,listener,es,CR,academia,,,
dev@example.org,Dev Patel,captioner,en,AR,civil society,male,,en
eve@example.org,Eve Martin,listener,en,CO,government,female,,
gus@example.org,Gus Rojas,interpreter,es,CR,academia,male,es-en,
"""
CONFIG = """[plugin.interpretation]
booths = es-en
floor_language = en
"""


def tool(args, *argv):
    r = harness.run([args.token, *argv], 30)
    check(r.returncode == 0, f"puente-token {' '.join(argv)}: {r.returncode} "
          f"{r.stderr.strip()}")
    return r.stdout


def links_of(path):
    with open(path, encoding="utf-8") as f:
        return {row["email"]: row["link"].split("#t=", 1)[1] for row in csv.DictReader(f)}


def enter(port, token, channel=None, captions=None):
    d = Door(port, "/ws?t=" + token)
    check(d.status == 101, f"entering with a personal link: {d.status} {d.body}")
    welcome(d)
    if channel:
        d.send_json({"type": "core.subscribe", "channel": channel})
        d.wait_json(lambda m: m.get("type") == "core.subscribed", what="core.subscribed")
    if captions:
        d.send_json({"type": "captions.choose", "lang": captions})
        d.wait_json(lambda m: m.get("type") == "captions.history", what="captions.history")
    return d


def test(args):
    with harness.tempdir("puente-organiser-") as tmp:
        people = os.path.join(tmp, "people.csv")
        store = os.path.join(tmp, "invitees.json")
        links = os.path.join(tmp, "links.csv")
        attendance = os.path.join(tmp, "attendance.jsonl")
        ini = os.path.join(tmp, "relay.ini")
        with open(people, "w", encoding="utf-8") as f:
            f.write(PEOPLE)
        with open(ini, "w") as f:
            f.write(CONFIG)
        out = tool(args, "issue", "--invitees", people, "--store", store, "--links", links,
                   "--base-url", "http://127.0.0.1:8080", "--event", "Workflow test")
        print("puente-token:", out.strip())
        tok = links_of(links)
        check(len(tok) == 6, f"six links: {sorted(tok)}")

        with harness.Relay(args.relay, ["--tone", "--config", ini, "--invitees", store,
                                        "--anonymous-listeners", "no",
                                        "--attendance", attendance]) as relay:
            port = relay.port
            ana = enter(port, tok["ana@example.org"], "es", "en")
            ben = enter(port, tok["ben@example.org"], "floor")
            carla = enter(port, tok["carla@example.org"], "es")
            dev = enter(port, tok["dev@example.org"])
            # Dev's invitation grants captions in English only.
            dev.send_json({"type": "captions.cue", "lang": "es", "text": "Hola", "final": True})
            err = dev.wait_json(lambda m: m.get("type") == "core.error", what="the refusal")
            check(err.get("code") == "forbidden", f"Dev's Spanish cue: {err}")
            dev.send_json({"type": "captions.cue", "lang": "en", "text": "Hello all",
                           "final": True})
            cue = ana.wait_json(lambda m: m.get("type") == "captions.cue", what="Dev's cue")
            check(cue.get("text") == "Hello all", f"Ana reads Dev's English cue: {cue}")
            # Gus's invitation names his booth: the relay's state says so.
            gus = enter(port, tok["gus@example.org"])
            gus.send_json({"type": "interpretation.join", "booth": "es-en"})
            st = gus.wait_json(lambda m: m.get("type") == "interpretation.state"
                               and m.get("allowed_booths") is not None, what="his state")
            check(st["allowed_booths"] == ["es-en"], f"Gus's allowed booths: {st}")
            time.sleep(1.5)
            # Ana opens her link on a second device: the first is taken over.
            ana2 = enter(port, tok["ana@example.org"], "es", "en")
            code = ana.wait_close()
            check(code == (4409, "opened on another device"), f"Ana's first device: {code}")
            # Ben is revoked with the tool while he listens.
            tool(args, "revoke", "--store", store, "ben@example.org")
            code = ben.wait_close(timeout=5)
            check(code == (4403, "invitation revoked"), f"Ben after revoke: {code}")
            again = Door(port, "/ws?t=" + tok["ben@example.org"])
            check(again.status == 403, f"Ben's link after revoke: {again.status}")
            time.sleep(1.0)
            for d in (ana2, carla, dev, gus):
                d.close()
            log = "\n".join(relay.lines)
            for t in tok.values():
                check(t not in log, "a token in the relay's log")

        # A second run of the relay on the same log, killed while Eve listens:
        # her join was on disk before the crash.
        crashed = harness.Relay(args.relay, ["--tone", "--config", ini, "--invitees", store,
                                             "--anonymous-listeners", "no",
                                             "--attendance", attendance])
        crashed.start()
        eve = enter(crashed.port, tok["eve@example.org"], "en")
        time.sleep(1.0)
        crashed.kill()
        eve.sock.close()
        with open(store, encoding="utf-8") as f:
            eve_id = next(e["id"] for e in json.load(f)["invitees"]
                          if e["email"] == "eve@example.org")
        with open(attendance, encoding="utf-8") as f:
            last = json.loads(f.read().splitlines()[-1])
        check(last.get("who") == eve_id and last.get("ev") in ("join", "channel"),
              f"the killed run's last line is Eve's ({eve_id}): {last}")

        r = harness.run([args.report, "--log", attendance, "--store", store, "--format", "csv"],
                        30)
        check(r.returncode == 0, f"puente-report: {r.returncode} {r.stderr}")
        rows = [row for row in csv.reader(io.StringIO(r.stdout))]
        ev = "Whole event"

        def value(section, key):
            hit = [row[3] for row in rows if row[:3] == [section, ev, key]]
            check(len(hit) == 1, f"report has {section}/{key}: {hit}")
            return hit[0]

        check(value("participants", "total") == "6", "6 participants (Eve in the killed run)")
        check(value("peak", "people") == "5", "a peak of 5 people (Ana's two devices are one)")
        log_rows = {row[2]: row[3] for row in rows if row[0] == "log"}
        check(log_rows.get("runs") == "2" and log_rows.get("runs_crashed") == "1"
              and log_rows.get("lines_not_json") == "0",
              f"two runs, one killed, every line readable: {log_rows}")
        check(value("participants_by_role", "listener") == "4"
              and value("participants_by_role", "captioner") == "1"
              and value("participants_by_role", "interpreter") == "1",
              "4 listeners, 1 captioner, 1 interpreter")
        check(value("country", "CR") == "3" and value("country", "BB") == "1"
              and value("country", "AR") == "1", "countries from the CSV")
        check(value("sector", "civil society") == "2", "sectors from the CSV")
        es = float(value("channel_minutes", "es"))
        en_caps = float(value("caption_minutes", "en"))
        # Ana (2 devices, ~3 s) and Carla (~3 s) on es; Ana's captions ~3 s.
        check(0.05 < es < 0.5 and 0.02 < en_caps < 0.2,
              f"minutes: es {es}, English captions {en_caps}")
        text = r.stdout
        check("Pérez" not in text and "example.org" not in text, "no names without --names")
        print(f"ok report: 6 participants (one in a killed run), peak 5, es {es} min, English captions {en_caps} min")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
