// The listener page in headless Chromium, driven by keyboard only: it joins
// the relay's test tone on the floor, decodes and plays it (the output level
// proves audio really flows), switches channel and language, shows hostile
// server strings as text under the relay's CSP, passes axe-core, and reports
// a lost relay. TESTING.md has the Chromium recipe.

import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import {
  HERE,
  REPO,
  check,
  need,
  onCleanup,
  options,
  run,
  startRelay,
  stopRelay,
  tempDir,
  waitFor,
} from './relay.mjs';

// Both end up in the page through the relay: they must show as these exact
// strings, never as markup.
const HOSTILE_LABEL = '<img src=x onerror=window.__pwned=1>';
const HOSTILE_ROOM = '<b id=pwned>Sala</b> & "co"';

run('browser_listener', 120000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  await need('axe-core');
  const axeSource = readFileSync(path.join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');

  // No plugins: the page as it is without interpretation (core.subscribe,
  // every channel heard as chosen). browser_auto and browser_booth test it
  // with the interpretation plugin; the relay restarted below runs the
  // default configuration, with whatever plugins that loads.
  const relay = await startRelay({
    ...opt,
    args: ['--tone'],
    config:
      `[core]\nroom = ${HOSTILE_ROOM}\nplugins =\n\n` +
      `[channel.floor]\nlabel = ${HOSTILE_LABEL}\n\n` +
      '[channel.es]\nlabel = Español\nlang = es\n\n' +
      '[channel.en]\nlabel = English\nlang = en\n',
  });

  const res = await fetch(relay.http);
  const csp = res.headers.get('content-security-policy') || '';
  await res.arrayBuffer();
  console.log(`CSP: ${csp}`);
  const scripts = /script-src ([^;]*)/.exec(csp) || /default-src ([^;]*)/.exec(csp);
  check(scripts && !/unsafe-inline|unsafe-eval|\*/.test(scripts[1]), `a strict script CSP on / (got "${csp}")`);

  const context = await chromium.launchPersistentContext(tempDir('puente-chromium-'), {
    executablePath: process.env.PUENTE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    locale: 'en-US',
    ignoreDefaultArgs: ['--mute-audio'],
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  let closed = false;
  const closeBrowser = async () => {
    if (!closed) {
      closed = true;
      await context.close();
    }
  };
  // Registered after the relay's, so the browser goes first.
  onCleanup(closeBrowser);

  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The relay has no favicon; the browser asks anyway.
    if (m.type() === 'error' && !/favicon/.test(m.location().url || '')) problems.push(`console: ${m.text()}`);
  });

  // A Spanish-speaking browser gets Spanish without asking.
  const esPage = await context.newPage();
  await esPage.addInitScript(() => Object.defineProperty(Navigator.prototype, 'language', { get: () => 'es-AR' }));
  await esPage.goto(relay.http);
  const es = await esPage.evaluate(() => ({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1').textContent,
  }));
  check(es.lang === 'es' && es.h1 === 'Escuchar en directo', `es-AR browser gets Spanish: ${JSON.stringify(es)}`);
  await esPage.close();
  console.log('ok an es-AR browser gets Spanish by default');

  await page.goto(relay.http);
  const stats = () => page.evaluate(() => ({ ...window.puenteStats }));
  await waitFor(async () => (await stats()).state === 'live', 10000, 'state live');
  await page.waitForSelector('#channel-list input[value="floor"]', { timeout: 5000 });

  // Hostile strings arrive as text.
  const dom = await page.evaluate(() => ({
    label: document.querySelector('#channel-list input[value="floor"]').parentElement.textContent,
    room: document.getElementById('room-name').textContent,
    imgs: document.querySelectorAll('img').length,
    bold: document.querySelectorAll('#pwned, b').length,
    pwned: window.__pwned ?? null,
    lang: document.documentElement.lang,
  }));
  check(dom.label === HOSTILE_LABEL, `floor label shown as text: ${JSON.stringify(dom.label)}`);
  check(dom.room === HOSTILE_ROOM, `room name shown as text: ${JSON.stringify(dom.room)}`);
  check(dom.imgs === 0 && dom.bold === 0 && dom.pwned === null, `no markup from the relay: ${JSON.stringify(dom)}`);
  check(dom.lang === 'en', `<html lang> is en for an en-US browser (got ${dom.lang})`);
  console.log('ok hostile channel label and room name rendered as text');

  // Keyboard only from here: Tab to the checked radio (floor), then on to
  // Play. tabTo presses key until the focused element matches, at most 20
  // times, and checks that the focus is visible there.
  async function tabTo(what, pred, key = 'Tab') {
    let f;
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press(key);
      f = await page.evaluate(() => {
        const el = document.activeElement;
        return {
          id: el.id,
          value: el.value,
          name: el.name,
          lang: el.dataset.lang,
          outline: getComputedStyle(el).outlineStyle,
        };
      });
      if (pred(f)) break;
    }
    check(pred(f), `${key} reaches ${what}: ${JSON.stringify(f)}`);
    check(f.outline !== 'none', `focus is visible on ${what}`);
    return f;
  }
  const f = await tabTo('the channel group', (e) => e.name === 'channel');
  check(f.value === 'floor', `floor is the channel chosen by default (${f.value})`);
  await tabTo('the play button', (e) => e.id === 'play');
  await page.keyboard.press('Enter');

  const playing = await waitFor(
    async () => {
      const s = await stats();
      return s.channel === 'floor' && s.packets > 50 && s.level > 0.01 ? s : null;
    },
    15000,
    'floor playing with level > 0.01 and > 50 packets',
  );
  check(playing.decodeErrors === 0, `decode errors: ${playing.decodeErrors}`);
  console.log(`ok playing: ${JSON.stringify(playing)}`);

  // The volume slider works from the keyboard, and the level follows it.
  await tabTo('the volume slider', (e) => e.id === 'volume');
  await page.keyboard.press('Home');
  await waitFor(async () => (await stats()).level < 0.001, 3000, 'level ~0 at volume 0');
  await page.keyboard.press('End');
  const loud = await waitFor(async () => {
    const s = await stats();
    return s.level > 0.06 ? s.level : null;
  }, 3000, 'level of a -20 dBFS tone at full volume');
  console.log(`ok volume by keyboard: level 0 at Home, ${loud.toFixed(4)} RMS at End`);

  // Arrow keys move through the channel group; the page resubscribes.
  await tabTo('the channel group', (e) => e.name === 'channel', 'Shift+Tab');
  await page.keyboard.press('ArrowRight');
  await waitFor(async () => (await stats()).channel === 'es', 5000, 'switch to es');
  await page.keyboard.press('ArrowLeft');
  const back = (await stats()).packets;
  await waitFor(async () => {
    const s = await stats();
    return s.channel === 'floor' && s.packets > back + 25 && s.level > 0.01;
  }, 10000, 'back on floor, playing');
  console.log('ok channel switch es -> floor by arrow keys');

  // Spanish: press the language switch with the keyboard.
  const english = await page.evaluate(() => ({
    heading: document.querySelector('h1').textContent,
    play: document.getElementById('play').textContent,
    state: document.getElementById('state').textContent,
  }));
  await tabTo('the Spanish switch', (e) => e.lang === 'es', 'Shift+Tab');
  await page.keyboard.press('Enter');
  const spanish = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    heading: document.querySelector('h1').textContent,
    play: document.getElementById('play').textContent,
    state: document.getElementById('state').textContent,
    pressed: document.querySelector('button.lang[data-lang="es"]').getAttribute('aria-pressed'),
    stored: localStorage.getItem('puente.lang'),
  }));
  console.log(`english ${JSON.stringify(english)} -> spanish ${JSON.stringify(spanish)}`);
  check(spanish.lang === 'es', '<html lang="es">');
  check(spanish.heading !== english.heading && spanish.play !== english.play, 'visible text changed');
  check(spanish.state !== english.state, 'status text changed');
  check(spanish.pressed === 'true' && spanish.stored === 'es', 'switch pressed and remembered');

  // Let a few stats refreshes happen, then judge the page as it is seen.
  await page.waitForTimeout(1200);
  mkdirSync(path.join(REPO, 'tests/artifacts'), { recursive: true });
  const shot = path.join(REPO, 'tests/artifacts/browser_listener.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // axe-core, evaluated through the DevTools protocol: a <script> tag
  // would be (rightly) refused by the page's CSP.
  await page.evaluate(axeSource);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of axe.violations) {
    console.log(`axe ${v.impact}: ${v.id} (${v.nodes.length} nodes): ${v.help}`);
  }
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(serious.length === 0, `axe-core: ${serious.length} serious or critical violations`);
  console.log(`ok axe-core: ${axe.violations.length} violations, none serious or critical`);

  // The choice survives a reload.
  await page.reload();
  const reloaded = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    play: document.getElementById('play').textContent,
  }));
  check(reloaded.lang === 'es' && reloaded.play === 'Reproducir', `Spanish after reload: ${JSON.stringify(reloaded)}`);
  await tabTo('the play button', (e) => e.id === 'play');
  await page.keyboard.press('Space');
  await waitFor(async () => (await stats()).packets > 10, 10000, 'playing again after reload');

  check(problems.length === 0, `browser errors:\n  ${problems.join('\n  ')}`);

  // The relay goes away: the page says so and counts down to its retry.
  // (Its failing reconnect attempts are logged by Chromium: expected now.)
  const exit = await stopRelay(relay);
  check(exit.code === 0, `relay exit ${JSON.stringify(exit)}`);
  const lost = await waitFor(
    () =>
      page.evaluate(() =>
        window.puenteStats.state === 'reconnecting'
          ? {
              state: document.getElementById('state').textContent,
              countdown: document.getElementById('countdown').textContent,
              alert: document.getElementById('alert').textContent,
            }
          : null,
      ),
    5000,
    'state reconnecting after the relay stopped',
  );
  console.log(`relay gone: ${JSON.stringify(lost)}`);
  check(/\d+ s/.test(lost.countdown), 'a reconnect countdown is shown');
  check(lost.alert.length > 0, 'the close reason is shown');

  // A relay on the same address again: the page comes back by itself and
  // resumes playing, since the user never pressed stop.
  const again = await startRelay({ ...opt, port: relay.port, args: ['--tone'] });
  const t0 = Date.now();
  const resumed = (await stats()).packets;
  await waitFor(async () => {
    const s = await stats();
    return s.state === 'live' && s.channel === 'floor' && s.packets > resumed + 25 && s.level > 0.01;
  }, 15000, 'reconnected and playing again');
  console.log(`ok reconnected to pid ${again.pid} and playing after ${Date.now() - t0} ms`);
  await closeBrowser();
});
