// The pages of invited interpreters and captioners. The relay (booths es-en
// and fr, captions es and en) serves them; a WebSocket route in front of it
// plays what the plugins do for an invitation with booths or languages, so
// the pages are tested whatever the relay's invitations.
//
// The booth page offers only the booths in `allowed_booths` of
// interpretation.state (the route sets it):
//
// - ["fr"]: only fr is offered, chosen by keyboard and joined; the relay's
//   state then has this client in fr;
// - []: no booth offered, Join disabled, the page says the link is for none
//   of the booths (English, then Spanish by keyboard); axe-core;
// - no field (a relay without invitations): every booth, as before.
//
// The captioner page, whose cues the relay refuses with `forbidden` (its
// answer to a cue in a language the invitation does not name): it says the
// invitation does not include that language, and the line comes back.

import { check, need, options, run, startRelay, waitFor } from './relay.mjs';
import { axeCheck, launch, newPage, tabTo } from './browser.mjs';

const CONFIG = [
  '[core]',
  'plugins = interpretation, captions',
  '[channel.floor]',
  'label = Floor',
  'lang =',
  '[channel.es]',
  'label = Español',
  'lang = es',
  '[channel.en]',
  'label = English',
  'lang = en',
  '[channel.fr]',
  'label = Français',
  'lang = fr',
  '[plugin.interpretation]',
  'booths = es-en, fr',
  '[plugin.captions]',
  'languages = es, en',
  'archive_dir =',
  '',
].join('\n');

// A booth page whose interpretation.state says allowed (null: leaves the field out).
async function boothPage(context, url, allowed) {
  const page = await newPage(context, `booth ${JSON.stringify(allowed)}`);
  await page.routeWebSocket(/\/ws/, (ws) => {
    const relay = ws.connectToServer();
    relay.onMessage((m) => {
      if (typeof m !== 'string') return ws.send(m);
      const msg = JSON.parse(m);
      if (msg.type === 'interpretation.state') {
        if (allowed) msg.allowed_booths = allowed;
        else delete msg.allowed_booths;
      }
      ws.send(JSON.stringify(msg));
    });
    ws.onMessage((m) => relay.send(m));
  });
  await page.goto(url);
  await waitFor(
    async () => (await page.evaluate(() => window.puenteBooth.state)) === 'ready',
    10000,
    'booth page ready (interpretation.state seen)',
  );
  return page;
}

const view = (page) =>
  page.evaluate(() => ({
    radios: [...document.querySelectorAll('#booth-list input')].map((e) => e.value),
    none: !document.getElementById('booths-none').hidden,
    noneText: document.getElementById('booths-none').textContent,
    waiting: !document.getElementById('booths-waiting').hidden,
    join: !document.getElementById('join').disabled,
  }));

run('browser_grants', 100000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  await need('axe-core');
  const relay = await startRelay({ ...opt, config: CONFIG, args: ['--tone', '--plugin-dir', opt.pluginDir] });
  // Each page enters with an interpreter's personal link of its own.
  const url = (n) => relay.pageFor('interpretation/', 'interpreter', n);
  const { context } = await launch(chromium);

  // Only fr, joined by keyboard.
  const fr = await boothPage(context, url(0), ['fr']);
  let v = await view(fr);
  check(JSON.stringify(v.radios) === '["fr"]' && !v.none && !v.waiting && v.join, `only fr offered: ${JSON.stringify(v)}`);
  const f = await tabTo(fr, 'the booth group', (e) => e.name === 'booth');
  check(f.value === 'fr', `fr chosen (${f.value})`);
  await tabTo(fr, 'the join button', (e) => e.id === 'join');
  await fr.keyboard.press('Enter');
  await waitFor(async () => (await fr.evaluate(() => window.puenteBooth.booth)) === 'fr', 10000, 'joined fr');
  check(fr.problems.length === 0, `no page error: ${fr.problems.join('; ')}`);
  console.log(`ok only fr offered and joined: ${JSON.stringify(v)}`);
  await fr.close();

  // None: said in English and in Spanish.
  const none = await boothPage(context, url(1), []);
  v = await view(none);
  check(v.radios.length === 0 && v.none && !v.waiting && !v.join, `no booth offered: ${JSON.stringify(v)}`);
  check(/none of these booths/.test(v.noneText), `says why: ${v.noneText}`);
  await tabTo(none, 'the Spanish switch', (e) => e.lang === 'es');
  await none.keyboard.press('Enter');
  v = await view(none);
  check(/ninguna de estas cabinas/.test(v.noneText), `says why in Spanish: ${v.noneText}`);
  await axeCheck(none, 'the booth page with no booth allowed');
  check(none.problems.length === 0, `no page error: ${none.problems.join('; ')}`);
  console.log(`ok none offered: ${v.noneText}`);
  await none.close();

  // No field: every booth.
  const all = await boothPage(context, url(2), null);
  v = await view(all);
  check(JSON.stringify(v.radios) === '["es-en","fr"]' && !v.none && v.join, `every booth offered: ${JSON.stringify(v)}`);
  console.log(`ok without allowed_booths every booth is offered: ${JSON.stringify(v.radios)}`);
  await all.close();

  // The captioner page (in Spanish: the switch above is remembered): every
  // cue answered as the relay answers one in a language the invitation does
  // not name.
  const cp = await newPage(context, 'captioner');
  await cp.routeWebSocket(/\/ws/, (ws) => {
    const relay = ws.connectToServer();
    relay.onMessage((m) => ws.send(m));
    ws.onMessage((m) => {
      const msg = typeof m === 'string' ? JSON.parse(m) : null;
      if (msg && msg.type === 'captions.cue') {
        ws.send(JSON.stringify({ type: 'core.error', code: 'forbidden', message: 'not allowed for this role', ref: 'captions.cue' }));
      } else {
        relay.send(m);
      }
    });
  });
  await cp.goto(relay.pageFor('captions/', 'captioner', 0));
  await waitFor(async () => (await cp.evaluate(() => window.puenteCaptioner.state)) === 'ready', 10000, 'the captioner page ready');
  await cp.focus('#line');
  await cp.keyboard.type('Buenos días');
  await cp.keyboard.press('Enter');
  const refusal = await waitFor(
    () =>
      cp.evaluate(() => {
        const a = document.getElementById('alert');
        return /no incluye subtítulos en/.test(a.textContent) ? { text: a.textContent, box: document.getElementById('line').value } : null;
      }),
    5000,
    'the captioner page says the invitation does not include the language',
  );
  check(refusal.box === 'Buenos días', `the refused line is back in the box: ${refusal.box}`);
  check(cp.problems.length === 0, `no page error: ${cp.problems.join('; ')}`);
  console.log(`ok captioner: "${refusal.text}"`);
});
