"""Invitations for tests: a store in puente-token's format with known tokens.

The relay only ever sees the store (SHA-256 of each token); the tests keep
the tokens and put them in the WebSocket URL (?t=...) as a personal link
would. store_args() gives the relay flags: the store, anonymous listeners
allowed (most tests just listen) unless a test asks otherwise.
"""

import base64
import hashlib
import json
import os
import secrets

ROLES = ("listener", "interpreter", "captioner", "technician", "organiser")


def new_token():
    """128 random bits as 22 characters of base64url, as puente-token makes them."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


class Invitations:
    """per_role invitees of each role, ids "<role>-<n>", in a store at path."""

    def __init__(self, path, per_role=4, extra=()):
        self.path = path
        self.tokens = {}
        entries = []
        for role in ROLES:
            for n in range(per_role):
                entries.append({"id": f"{role}-{n}", "role": role})
        entries.extend(extra)
        self.entries = []
        for e in entries:
            token = e.pop("token", None) or new_token()
            full = {"id": e["id"], "hash": token_hash(token), "email": f"{e['id']}@test.invalid",
                    "name": e.get("name", e["id"]), "role": e["role"], "lang": e.get("lang", "en"),
                    "country": e.get("country"), "sector": e.get("sector"),
                    "gender": e.get("gender"), "booths": e.get("booths"),
                    "languages": e.get("languages"), "not_before": e.get("not_before", 0),
                    "not_after": e.get("not_after", 0), "revoked_at": e.get("revoked_at", 0)}
            self.entries.append(full)
            self.tokens[e["id"]] = token
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "event": "test", "invitees": self.entries}, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def token(self, role_or_id, n=0):
        key = role_or_id if role_or_id in self.tokens else f"{role_or_id}-{n}"
        return self.tokens[key]

    def revoke(self, ident, at):
        for e in self.entries:
            if e["id"] == ident:
                e["revoked_at"] = at
        self.save()


def store_args(args, workdir, per_role=4, anonymous=True):
    """(flags to add, Invitations or None): nothing when the test set its own access."""
    if any(a.startswith("--invitees") for a in args):
        return [], None
    inv = Invitations(os.path.join(workdir, "invitees.json"), per_role)
    extra = ["--invitees", inv.path]
    if not any(a.startswith("--anonymous-listeners") for a in args):
        extra += ["--anonymous-listeners", "yes" if anonymous else "no"]
    return extra, inv
