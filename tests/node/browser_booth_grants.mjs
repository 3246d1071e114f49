// The booth page offers only the booths its invitation allows. The relay
// (booths es-en and fr) serves the page; a WebSocket route in front of it
// sets `allowed_booths` in every interpretation.state, as the plugin sends it
// to an interpreter whose invitation names booths, so the page is tested
// whatever the relay's invitations:
//
// - ["fr"]: only fr is offered, chosen by keyboard and joined; the relay's
//   state then has this client in fr;
// - []: no booth offered, Join disabled, the page says the link is for none
//   of the booths (English, then Spanish by keyboard); axe-core;
// - no field (a relay without invitations): every booth, as before.

import { check, need, options, run, startRelay, waitFor } from './relay.mjs';
import { axeCheck, launch, newPage, tabTo } from './browser.mjs';

const CONFIG = [
  '[core]',
  'plugins = interpretation',
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

run('browser_booth_grants', 100000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  await need('axe-core');
  const relay = await startRelay({ ...opt, config: CONFIG, args: ['--tone', '--plugin-dir', opt.pluginDir] });
  const url = `${relay.http}interpretation/`;
  const { context } = await launch(chromium);

  // Only fr, joined by keyboard.
  const fr = await boothPage(context, url, ['fr']);
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
  const none = await boothPage(context, url, []);
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
  const all = await boothPage(context, url, null);
  v = await view(all);
  check(JSON.stringify(v.radios) === '["es-en","fr"]' && !v.none && v.join, `every booth offered: ${JSON.stringify(v)}`);
  console.log(`ok without allowed_booths every booth is offered: ${JSON.stringify(v.radios)}`);
  await all.close();
});
