// Personal links in headless Chromium, against a relay that admits invitees
// only: the listener page opened with a valid link plays, takes the token out
// of the address and keeps it across a reload, and shows who "you" are as
// text; a bad link and no link get the refusal in the alert region, in
// English and Spanish; the same link opened in a second page takes the
// session over, the first says so and reconnects only when asked; revoking
// the invitation closes the page with its message.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { launch, newPage } from './browser.mjs';
import { writeStore } from './invitations.mjs';
import { REPO, check, need, options, run, sleep, startRelay, tempDir, waitFor } from './relay.mjs';

// The name goes into the page through the relay: it must show as text.
const HOSTILE_NAME = 'Ana <b id=pwned>Pérez</b>';

// The page's own strings (core/web/i18n.js: English first, then Spanish),
// so the test follows their wording and fails if a translation goes missing.
function pageStrings(key) {
  const source = readFileSync(path.join(REPO, 'core/web/i18n.js'), 'utf8');
  const found = [...source.matchAll(new RegExp(`^\\s*${key}: '([^']*)',$`, 'gm'))].map((m) => m[1]);
  check(found.length === 2, `${key} in English and Spanish in i18n.js (found ${found.length})`);
  return { en: found[0], es: found[1] };
}

const state = (page) => page.evaluate(() => ({ ...window.puenteStats }));

// What the access elements show.
const accessView = (page) =>
  page.evaluate(() => {
    const alert = document.getElementById('access-alert');
    const retry = document.getElementById('access-retry');
    return {
      alert: alert.textContent,
      role: alert.getAttribute('role'),
      live: alert.getAttribute('aria-live'),
      button: retry.hidden ? null : retry.textContent,
      you: document.getElementById('you').hidden ? null : document.getElementById('you').textContent,
      state: window.puenteStats.state,
    };
  });

async function waitAlert(page, text, what) {
  return waitFor(
    async () => {
      const v = await accessView(page);
      return v.alert === text ? v : null;
    },
    15000,
    `${what}: "${text}" in #access-alert`,
  );
}

run('browser_access', 150000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');

  const store = writeStore(tempDir('puente-invites-'), [
    { id: 'p0001', role: 'listener', name: HOSTILE_NAME },
    { id: 'p0002', role: 'listener', name: 'Ben' },
  ]);
  const relay = await startRelay({
    ...opt,
    args: ['--tone', '--invitees', store.path, '--anonymous-listeners', 'no'],
    // No plugins: the listener page alone. The refusals below must not ban
    // the test's own address.
    config: '[core]\nplugins =\n\n[access]\nban_failures = 1000\n',
  });

  const refused = pageStrings('access_refused');
  const needed = pageStrings('access_needed');
  const takenOver = pageStrings('access_taken_over');
  const revoked = pageStrings('access_revoked');
  const reconnectHere = pageStrings('access_reconnect_here');
  const tryAgain = pageStrings('access_retry');

  const { context } = await launch(chromium);

  // ---- a valid link: plays, and the token leaves the address bar ----------
  const token = store.token('p0001');
  const a = await newPage(context, 'a');
  await a.goto(`${relay.http}#t=${token}`);
  await waitFor(async () => (await state(a)).state === 'live', 10000, 'page A live with its link');
  const where = await a.evaluate(() => ({ href: location.href, kept: sessionStorage.getItem('puente.token') }));
  check(!where.href.includes(token) && !where.href.includes('#t='), `token gone from the address: ${where.href}`);
  check(where.href === relay.http, `the address is the page's own: ${where.href}`);
  check(where.kept === token, 'the token is kept in sessionStorage');
  const you = await accessView(a);
  check(you.you === `You: ${HOSTILE_NAME} (listener)`, `"you" shown as text: ${JSON.stringify(you.you)}`);
  check((await a.evaluate(() => document.querySelectorAll('#pwned, b').length)) === 0, 'no markup from the name');
  check(you.alert === '' && you.button === null, `no access message when admitted: ${JSON.stringify(you)}`);
  // One connection per link: the page does without the extra ones.
  check(await a.evaluate(() => document.getElementById('caption-lang2-field').hidden), 'second caption language hidden');
  console.log('ok valid link: live, token out of the address, "you" as text');

  await a.click('#play');
  const playing = await waitFor(
    async () => {
      const s = await state(a);
      return s.channel === 'floor' && s.packets > 50 && s.level > 0.01 ? s : null;
    },
    15000,
    'page A playing the floor with a level',
  );
  console.log(`ok playing with a personal link: ${playing.packets} packets, level ${playing.level.toFixed(3)}`);

  // A reload: the address has no token any more; the tab still has it.
  await a.reload();
  await waitFor(async () => (await state(a)).state === 'live', 10000, 'page A live again after a reload');
  check(!(await a.evaluate(() => location.href)).includes(token), 'no token in the address after the reload');
  console.log('ok reload keeps the link (sessionStorage)');

  // ---- a bad link and no link, in English and in Spanish -------------------
  const bad = await newPage(context, 'bad');
  await bad.goto(`${relay.http}#t=AAAAAAAAAAAAAAAAAAAAAA`);
  let v = await waitAlert(bad, refused.en, 'bad link, English');
  check(v.role === 'alert' && v.live === 'assertive', `an assertive alert region: ${JSON.stringify(v)}`);
  check(v.button === tryAgain.en && v.state === 'closed', `a retry button and state closed: ${JSON.stringify(v)}`);
  check(v.you === null, 'nobody shown for a refused link');
  check(!(await bad.evaluate(() => location.href)).includes('#t='), 'the bad token left the address too');
  await bad.click('button.lang[data-lang="es"]');
  v = await accessView(bad);
  check(v.alert === refused.es && v.button === tryAgain.es, `switched to Spanish: ${JSON.stringify(v)}`);
  // The switch is remembered for the next pages: forget it, so the browser's language counts.
  await bad.evaluate(() => localStorage.removeItem('puente.lang'));
  await bad.close();
  console.log(`ok bad link refused: "${refused.en}" / "${refused.es}"`);

  const es = await newPage(context, 'es');
  await es.addInitScript(() => Object.defineProperty(Navigator.prototype, 'language', { get: () => 'es-AR' }));
  await es.goto(`${relay.http}#t=BBBBBBBBBBBBBBBBBBBBBB`);
  v = await waitAlert(es, refused.es, 'bad link, Spanish browser');
  check(v.button === tryAgain.es, `Spanish retry button: ${JSON.stringify(v)}`);
  await es.close();
  console.log('ok a Spanish browser gets the refusal in Spanish');

  const none = await newPage(context, 'none');
  await none.goto(relay.http);
  v = await waitAlert(none, needed.en, 'no link');
  // Try again asks the relay again, and is refused again.
  await none.click('#access-retry');
  v = await waitAlert(none, needed.en, 'no link, after Try again');
  await none.close();
  console.log(`ok no link: "${needed.en}"`);

  // ---- the same link on a second page takes the session over --------------
  const b = await newPage(context, 'b');
  await b.goto(`${relay.http}#t=${token}`);
  await waitFor(async () => (await state(b)).state === 'live', 10000, 'page B live with the same link');
  v = await waitAlert(a, takenOver.en, 'page A after the take-over');
  check(v.button === reconnectHere.en && v.state === 'closed', `A offers to reconnect here: ${JSON.stringify(v)}`);
  // A must not take the link back by itself (its retry would come within
  // about a second): after a while B is still the one connected.
  await sleep(3000);
  check((await state(b)).state === 'live' && (await state(a)).state === 'closed', 'A stayed off, B stayed on');
  console.log(`ok take-over: "${takenOver.en}", button "${reconnectHere.en}"`);

  await a.click('#access-retry');
  await waitFor(async () => (await state(a)).state === 'live', 10000, 'page A live again after "Reconnect here"');
  v = await waitAlert(b, takenOver.en, 'page B after A reconnected here');
  check((await accessView(a)).alert === '', 'A cleared its message');
  await b.close();
  console.log('ok "Reconnect here" takes the link back');

  // ---- revoked while connected -----------------------------------------------
  store.revoke('p0001');
  v = await waitAlert(a, revoked.en, 'page A after the revocation');
  check(v.button === null && v.state === 'closed', `no way back from a revocation: ${JSON.stringify(v)}`);
  console.log(`ok revoked: "${revoked.en}"`);

  const problems = a.problems.filter((p) => !/WebSocket/.test(p));
  check(problems.length === 0, `browser errors:\n  ${problems.join('\n  ')}`);
});
