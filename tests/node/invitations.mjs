// Invitations for the node tests: an invitee store in puente-token's format
// (README "Opening a personal link") with tokens the test knows. The relay only sees
// the store, with the SHA-256 of each token; the tests put the tokens in
// personal links. tests/lib/invitations.py does the same for Python.

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// 128 random bits as 22 characters of base64url, as puente-token makes them.
export function newToken() {
  return randomBytes(16).toString('base64url');
}

export function tokenHash(token) {
  return createHash('sha256').update(token).digest('hex');
}

// A store in dir with one invitee per entry ({id, role, name?, ...});
// .path for --invitees, .token(id), and .revoke(id) which rewrites it as
// puente-token would (atomically, mode 0600).
export function writeStore(dir, entries) {
  const file = path.join(dir, 'invitees.json');
  const tokens = {};
  const invitees = entries.map((e) => {
    tokens[e.id] = newToken();
    return {
      id: e.id,
      hash: tokenHash(tokens[e.id]),
      email: `${e.id}@test.invalid`,
      name: e.name ?? e.id,
      role: e.role,
      lang: e.lang ?? 'en',
      country: null,
      sector: null,
      gender: null,
      booths: null,
      languages: null,
      not_before: 0,
      not_after: 0,
      revoked_at: 0,
    };
  });
  const save = () => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, event: 'test', invitees }));
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  };
  save();
  return {
    path: file,
    token: (id) => tokens[id],
    revoke(id) {
      invitees.find((e) => e.id === id).revoked_at = Math.floor(Date.now() / 1000);
      save();
    },
  };
}
