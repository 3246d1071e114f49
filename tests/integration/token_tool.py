#!/usr/bin/python3
"""puente-token, the organiser's invitations, on real files.

A spreadsheet export (UTF-8 BOM, CRLF, accented names, a quoted comma and a
quoted line break) becomes a store and a links file: the store's hashes are
the SHA-256 of the links' tokens, tokens are 22 base64url characters and
unique, both files are mode 0600, and neither list nor the summary shows a
token or a hash. Then revoke (list and check say revoked), reissue (a new
hash; the old token is unknown), issue again (only new rows get links),
bad CSVs (exit 1, the line named, the store untouched, no links file) and
a window that ended (check says expired).

Usage: token_tool.py --token PATH
"""

import argparse
import csv
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

BASE = "https://puente.example.org/"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
PAGES = {"listener": "/", "interpreter": "/interpretation/", "captioner": "/captions/",
         "technician": "/levels/", "organiser": "/levels/"}

PEOPLE = ("\ufeffEmail,Name,Role,Language,Country,Booths,Languages,Notes\r\n"
          "ana@example.org,Ana Pérez Núñez,interpreter,es,CR,\"es; en\",,\r\n"
          "bob@example.org,\"Smith, Bob\",listener,en,,,,\"call first,\r\nthen write\"\r\n"
          "zoe@example.org,\"Zoë \"\"Z\"\" Øster\",captioner,en,,,en es,\r\n"
          "\r\n"
          "lee@example.org,Lee,moderator,es,,,,\r\n")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def read_links(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    check(text.startswith("email,name,role,lang,link\n"), f"links header: {text[:60]!r}")
    rows = list(csv.DictReader(io.StringIO(text)))
    out = {}
    for r in rows:
        link = r["link"]
        prefix = BASE.rstrip("/") + PAGES[r["role"]] + "#t="
        check(link.startswith(prefix), f"link {link!r} does not start with {prefix!r}")
        token = link[len(prefix):]
        check(TOKEN_RE.match(token), f"token {token!r} is not 22 base64url characters")
        out[r["email"]] = dict(r, token=token)
    return out


def read_store(path):
    with open(path, encoding="utf-8") as f:
        return {e["email"]: e for e in json.load(f)["invitees"]}


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


class Tool:
    def __init__(self, binary, cwd):
        self.binary = binary
        self.cwd = cwd

    def run(self, *args, stdin=None):
        """Runs the tool in the test's directory; stdin is text or nothing."""
        cmd = [self.binary] + list(args)
        try:
            return subprocess.run(cmd, cwd=self.cwd, input=stdin or "", capture_output=True,
                                  text=True, timeout=30)
        except subprocess.TimeoutExpired as e:
            raise harness.TestFailure(f"{' '.join(cmd)} still running after 30 s") from e

    def ok(self, *args, stdin=None):
        r = self.run(*args, stdin=stdin)
        check(r.returncode == 0, f"{' '.join(args)}: exit {r.returncode}\n{r.stderr}")
        return r

    def check_link(self, store, text):
        r = self.run("check", "--store", store, stdin=text + "\n")
        return r.returncode, r.stdout.strip()


def no_secrets(text, store, what):
    for e in store.values():
        check(e["hash"] not in text, f"{what} shows the hash of {e['email']}")
        check(e["hash"][:16] not in text, f"{what} shows part of a hash")


def first_issue(t, d):
    with open(os.path.join(d, "people.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(PEOPLE)
    r = t.ok("issue", "--invitees", "people.csv", "--store", "invitees.json", "--links",
             "links.csv", "--base-url", BASE, "--event", "Conversatorio 2026")
    check(r.stdout.strip() == "4 invited (4 new, 0 already invited); links in links.csv",
          f"summary: {r.stdout!r}")
    check("ignoring column 'Notes'" in r.stderr, f"no word on the extra column: {r.stderr!r}")
    links = read_links(os.path.join(d, "links.csv"))
    store = read_store(os.path.join(d, "invitees.json"))
    for token in (l["token"] for l in links.values()):
        check(token not in r.stdout + r.stderr, "issue printed a token")
    check(sorted(links) == sorted(store) == sorted(
        ["ana@example.org", "bob@example.org", "zoe@example.org", "lee@example.org"]),
        f"links {sorted(links)} store {sorted(store)}")
    tokens = [l["token"] for l in links.values()]
    check(len(set(tokens)) == len(tokens), "two people got the same token")
    for email, l in links.items():
        check(store[email]["hash"] == sha(l["token"]),
              f"{email}: store hash is not the SHA-256 of the link's token")
        check(l["name"] == store[email]["name"], f"{email}: names differ")
    check(links["ana@example.org"]["name"] == "Ana Pérez Núñez", "accents lost")
    check(links["bob@example.org"]["name"] == "Smith, Bob", "quoted comma lost")
    check(links["zoe@example.org"]["name"] == "Zoë \"Z\" Øster", "quotes in a name lost")
    check(store["ana@example.org"]["booths"] == "es,en", f"booths {store['ana@example.org']}")
    check(store["zoe@example.org"]["languages"] == "en,es", "captioner languages not joined")
    check(store["lee@example.org"]["role"] == "organiser", "moderator is not an organiser")
    check(store["bob@example.org"]["country"] is None, "an empty cell is not null")
    check([store[e]["id"] for e in ["ana@example.org", "bob@example.org", "zoe@example.org",
                                    "lee@example.org"]] == ["p0001", "p0002", "p0003", "p0004"],
          "ids are not p0001.. in file order")
    for name in ("invitees.json", "links.csv"):
        got = mode(os.path.join(d, name))
        check(got == 0o600, f"{name} mode {oct(got)}")
    check(sorted(os.listdir(d)) == ["invitees.json", "links.csv", "people.csv"],
          f"stray files: {os.listdir(d)}")
    print("issue: 4 links, hashes match, mode 0600, names intact")
    return links, store


def listing(t, store):
    r = t.ok("list", "--store", "invitees.json")
    c = t.ok("list", "--store", "invitees.json", "--csv")
    no_secrets(r.stdout + c.stdout, store, "list")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(c.stdout))}
    check(sorted(rows) == sorted(store), f"list --csv rows {sorted(rows)}")
    check("Ana Pérez Núñez" in r.stdout, f"list lost a name: {r.stdout}")
    return r.stdout, rows


def revoke_reissue(t, d, links, store):
    bob = links["bob@example.org"]["token"]
    rc, out = t.check_link("invitees.json", BASE + "#t=" + bob)
    check(rc == 0 and out == "ok p0002", f"check of bob's link: {rc} {out!r}")
    rc, out = t.check_link("invitees.json", links["ana@example.org"]["link"])
    check(rc == 0 and out == "ok p0001", f"check of ana's whole link: {rc} {out!r}")

    r = t.run("revoke", "--store", "invitees.json", "BOB@example.org", "nobody@example.org")
    check(r.returncode == 1 and "'nobody@example.org'" in r.stderr,
          f"unknown WHO: exit {r.returncode} {r.stderr!r}")
    check(read_store(os.path.join(d, "invitees.json"))["bob@example.org"]["revoked_at"] == 0,
          "a revoke with an unknown WHO changed the store")
    t.ok("revoke", "--store", "invitees.json", "BOB@example.org")
    _, rows = listing(t, store)
    check(rows["bob@example.org"]["status"] == "revoked", f"list: {rows['bob@example.org']}")
    check(rows["ana@example.org"]["status"] == "valid", f"list: {rows['ana@example.org']}")
    rc, out = t.check_link("invitees.json", bob)
    check(rc != 0 and out == "revoked p0002", f"check after revoke: {rc} {out!r}")

    r = t.ok("reissue", "--store", "invitees.json", "--base-url", BASE, "--links", "new.csv",
             "p0002")
    check(bob not in r.stdout + r.stderr, "reissue printed a token")
    new = read_links(os.path.join(d, "new.csv"))
    check(list(new) == ["bob@example.org"], f"reissue links: {list(new)}")
    check(mode(os.path.join(d, "new.csv")) == 0o600, "reissued links not 0600")
    after = read_store(os.path.join(d, "invitees.json"))
    check(after["bob@example.org"]["hash"] != store["bob@example.org"]["hash"], "same hash")
    check(after["bob@example.org"]["hash"] == sha(new["bob@example.org"]["token"]),
          "reissued hash is not the new token's")
    check(after["bob@example.org"]["revoked_at"] == 0, "reissue kept the revocation")
    check(after["ana@example.org"]["hash"] == store["ana@example.org"]["hash"],
          "reissue touched someone else")
    rc, out = t.check_link("invitees.json", bob)
    check(rc != 0 and out == "unknown", f"old token after reissue: {rc} {out!r}")
    rc, out = t.check_link("invitees.json", new["bob@example.org"]["link"])
    check(rc == 0 and out == "ok p0002", f"new token: {rc} {out!r}")
    rc, out = t.check_link("invitees.json", "not-a-token")
    check(rc != 0 and out == "malformed", f"garbage: {rc} {out!r}")
    print("revoke, reissue and check: revoked, then unknown old token, ok new one")
    return after


def issue_again(t, d, store):
    with open(os.path.join(d, "people.csv"), "a", encoding="utf-8", newline="") as f:
        f.write("mia@example.org,Mía Ñandú,technician,es,,,,\r\n")
    r = t.run("issue", "--invitees", "people.csv", "--store", "invitees.json", "--links",
              "links.csv", "--base-url", BASE)
    check(r.returncode == 1 and "links.csv already exists" in r.stderr,
          f"overwrote an existing links file: {r.returncode} {r.stderr!r}")
    r = t.ok("issue", "--invitees", "people.csv", "--store", "invitees.json", "--links",
             "more.csv", "--base-url", BASE)
    check(r.stdout.strip() == "5 invited (1 new, 4 already invited); links in more.csv",
          f"summary: {r.stdout!r}")
    more = read_links(os.path.join(d, "more.csv"))
    check(list(more) == ["mia@example.org"], f"second issue links: {list(more)}")
    after = read_store(os.path.join(d, "invitees.json"))
    check(after["mia@example.org"]["id"] == "p0005", f"new id {after['mia@example.org']['id']}")
    for email, e in store.items():
        check(after[email]["hash"] == e["hash"], f"{email} got a new token on a re-run")
    check(after["mia@example.org"]["hash"] == sha(more["mia@example.org"]["token"]), "hash")
    print("issue again: only the new row got a link (p0005)")


BAD = [
    ("unknown role", "email,name,role,lang\r\na@example.org,A,listener,es\r\n"
     "b@example.org,B,chair,es\r\n".encode(), "line 3: unknown role 'chair'"),
    ("duplicate email", "email,name,role,lang\na@example.org,A,listener,es\n"
     "A@Example.org,A2,listener,es\n".encode(),
     "line 3: e-mail A@Example.org is already on line 2"),
    ("missing column", "email,name,role\na@example.org,A,listener\n".encode(),
     "line 1: no 'lang' column"),
    ("bad UTF-8", b"email,name,role,lang\na@example.org,Jos\xe9,listener,es\n",
     "line 2: not valid UTF-8"),
]


def bad_csvs(t, d):
    store_path = os.path.join(d, "invitees.json")
    with open(store_path, "rb") as f:
        before = f.read()
    for what, data, message in BAD:
        with open(os.path.join(d, "bad.csv"), "wb") as f:
            f.write(data)
        r = t.run("issue", "--invitees", "bad.csv", "--store", "invitees.json", "--links",
                  "bad-links.csv", "--base-url", BASE)
        check(r.returncode == 1, f"{what}: exit {r.returncode}\n{r.stderr}")
        check(message in r.stderr, f"{what}: no {message!r} in {r.stderr!r}")
        check(not os.path.exists(os.path.join(d, "bad-links.csv")), f"{what}: links written")
        with open(store_path, "rb") as f:
            check(f.read() == before, f"{what}: the store changed")
    print(f"bad CSVs: {len(BAD)} refused with their line, nothing written")


def expired(t, d):
    with open(os.path.join(d, "late.csv"), "w", encoding="utf-8") as f:
        f.write("email,name,role,lang\nlate@example.org,Late,listener,en\n")
    t.ok("issue", "--invitees", "late.csv", "--store", "late.json", "--links", "late-links.csv",
         "--base-url", BASE, "--valid-from", "2020-01-01T08:00:00-06:00",
         "--valid-until", "1600000000")
    links = read_links(os.path.join(d, "late-links.csv"))
    store = read_store(os.path.join(d, "late.json"))
    check(store["late@example.org"]["not_before"] == 1577887200, "valid-from with a zone")
    check(store["late@example.org"]["not_after"] == 1600000000, "valid-until in unix seconds")
    rc, out = t.check_link("late.json", links["late@example.org"]["link"])
    check(rc != 0 and out == "expired p0001", f"expired link: {rc} {out!r}")
    r = t.ok("list", "--store", "late.json")
    check("expired" in r.stdout, f"list: {r.stdout!r}")
    print("window in the past: check says expired")


def test(args):
    with harness.tempdir("puente-token-") as d:
        t = Tool(os.path.abspath(args.token), d)
        links, store = first_issue(t, d)
        text, _ = listing(t, store)
        for l in links.values():
            check(l["token"] not in text, "list shows a token")
        store = revoke_reissue(t, d, links, store)
        issue_again(t, d, store)
        bad_csvs(t, d)
        expired(t, d)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--token", required=True, help="the puente-token binary")
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
