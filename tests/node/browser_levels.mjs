// The technician console (plugins/levels/web/) in headless Chromium against
// the relay with the interpretation, captions and levels plugins and the
// test tone (1 kHz at -20 dBFS) on the floor:
//
// - the page says core.hello as a technician and the floor meter moves: its
//   value (aria-valuenow, recorded from the first drawing on) leaves the
//   bottom of the scale, reads about -20 dB peak, and is redrawn from fresh
//   levels.update messages (the tone is steady: it does not wander);
// - the interpretation plugin's state shows (booths, floor-language control);
// - Spanish/English switch; axe-core: no serious or critical violation;
//   screenshot in tests/artifacts/;
// - a listener (npm ws) sending levels.reset gets core.error forbidden.
//
// `--fake` (development only, not registered in ctest) runs the page
// against a small node stand-in that serves the web folders and emits the
// levels plugin's messages, for when levels.so is not built.

import { readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { REPO, check, listener, need, onCleanup, options, run, sleep, startRelay, waitFor } from './relay.mjs';
import { axeCheck, checkCsp, launch, newPage, screenshot, tabTo } from './browser.mjs';

const argv = process.argv.slice(2);
const FAKE = argv.includes('--fake');
const CONFIG = '[core]\nplugins = interpretation, captions, levels\n[plugin.interpretation]\nbooths = es-en\n';

// ---- the stand-in (--fake) -------------------------------------------------

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

async function fakeRelay(WebSocketServer) {
  const roots = [
    ['/levels/', path.join(REPO, 'plugins/levels/web')],
    ['/', path.join(REPO, 'core/web')],
  ];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    for (const [prefix, dir] of roots) {
      if (!url.pathname.startsWith(prefix)) continue;
      let rel = url.pathname.slice(prefix.length) || 'index.html';
      if (rel.endsWith('/')) rel += 'index.html';
      const file = path.join(dir, rel);
      if (!file.startsWith(dir) || !existsSync(file)) break;
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'",
      });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  let nextId = 1;
  const timers = new Set();
  wss.on('connection', (ws) => {
    const id = nextId++;
    let role = 'listener';
    ws.send(JSON.stringify({
      type: 'core.welcome', client: id, audio: { frame_ms: 20 },
      room: { name: 'puente', channels: [{ name: 'floor', label: 'Floor', lang: '' }, { name: 'es', label: 'Español', lang: 'es' }, { name: 'en', label: 'English', lang: 'en' }] },
    }));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'core.hello') {
        role = m.role;
        ws.send(JSON.stringify({ type: 'core.hello', role }));
        if (role !== 'technician') return;
        ws.send(JSON.stringify({ type: 'interpretation.state', floor_language: null, suggested_floor: 'en', fallback: 'floor', booths: [{ id: 'es-en', channels: ['es', 'en'], live: 7, direction: 'en', muted: false, cough: false, pending: null, partners: [7, 8] }] }));
        let n = 0;
        const timer = setInterval(() => {
          n++;
          const p = -20 + 0.03 * Math.sin(n);
          ws.send(JSON.stringify({
            type: 'levels.update', t: Date.now(),
            channels: ['floor', 'es', 'en'].map((name) => ({ name, peak: name === 'floor' ? p : null, rms: name === 'floor' ? p - 3 : null, true_peak: name === 'floor' ? p + 0.1 : null, peak_hold: name === 'floor' ? -20 : null, momentary: name === 'floor' ? -23 : null, short_term: name === 'floor' ? -23 : null, integrated: name === 'floor' ? -23 : null, lra: 0, clips: 0, listeners: 1, silent_s: name === 'floor' ? 0 : n / 10 })),
            mics: [{ client: 7, channel: 'en', peak: -12 - (n % 5), rms: -18, momentary: -20, clips: 0, loss_pct: 0.5, jitter_ms: 3.2 }],
            health: { clients: 3, listeners_by_channel: { floor: 1, es: 1, en: 1 }, dropped: 0, stalled: 0, refused: 1, lagging: [{ client: 9, lag_packets: 12, dropped: 4 }] },
            alarms: n > 50 ? [{ id: 'silence:es', kind: 'silence', channel: 'es', since: Date.now() - 1000, message: 'es: silent for 1.0 s <b>x</b>' }] : [],
          }));
          if (n === 51) ws.send(JSON.stringify({ type: 'levels.alarm', state: 'raised', id: 'silence:es', kind: 'silence', channel: 'es', t: Date.now(), message: 'es: silent for 1.0 s <b>x</b>' }));
        }, 100);
        timers.add(timer);
        ws.on('close', () => { clearInterval(timer); timers.delete(timer); });
      } else if (m.type === 'interpretation.floor' && role === 'technician') {
        ws.send(JSON.stringify({ type: 'interpretation.state', floor_language: m.language, suggested_floor: null, fallback: 'floor', booths: [{ id: 'es-en', channels: ['es', 'en'], live: 7, direction: 'en', muted: false, cough: false, pending: null, partners: [7, 8] }] }));
      } else if (m.type.startsWith('levels.') && role !== 'technician') {
        ws.send(JSON.stringify({ type: 'core.error', code: 'forbidden', message: 'technicians only', ref: m.type }));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(async () => {
    for (const t of timers) clearInterval(t);
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => server.close(r));
  });
  const port = server.address().port;
  return { http: `http://127.0.0.1:${port}/`, ws: `ws://127.0.0.1:${port}/ws`, stderr: '' };
}

// ---- the test ----------------------------------------------------------------

run('browser_levels', 150000, async () => {
  const { chromium } = await need('playwright-core');
  const { WebSocket, WebSocketServer } = await need('ws');
  let relay;
  if (FAKE) {
    relay = await fakeRelay(WebSocketServer);
    console.log(`(fake relay at ${relay.http})`);
  } else {
    const opt = options(argv);
    relay = await startRelay({ ...opt, config: CONFIG, args: ['--tone', '--plugins', 'interpretation,captions,levels', '--plugin-dir', opt.pluginDir] });
    check(/plugin levels .*loaded/.test(relay.stderr), `the relay loaded the levels plugin:\n${relay.stderr}`);
    await checkCsp(`${relay.http}levels/`);
  }

  // A listener may not ask for levels.
  const l = await listener(WebSocket, relay.ws, null);
  l.send({ type: 'levels.reset', channel: 'floor' });
  const err = await l.next('core.error');
  check(err.code === 'forbidden', `a listener's levels.reset is forbidden: ${JSON.stringify(err)}`);
  console.log('ok a listener sending levels.reset gets core.error forbidden');
  l.ws.close();

  const { context } = await launch(chromium, { locale: 'en-US' });
  const page = await newPage(context, 'technician page');
  // Every value the floor meter shows, from the first drawing on (an init
  // script runs before the page's own and is not subject to its CSP).
  await page.addInitScript(() => {
    window.__floorHistory = [];
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target;
        if (el.dataset && el.dataset.meter === 'ch:floor' && r.attributeName === 'aria-valuenow') {
          window.__floorHistory.push(Number(el.getAttribute('aria-valuenow')));
        }
      }
      const el = document.querySelector('[data-meter="ch:floor"]');
      if (el && !el.__seen) {
        el.__seen = true;
        window.__floorHistory.unshift(Number(el.getAttribute('aria-valuenow')));
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
  await page.goto(relay.pageFor ? relay.pageFor('levels/', 'technician') : `${relay.http}levels/`);
  const floorMeter = () => page.evaluate(() => {
    const m = document.querySelector('[data-meter="ch:floor"]');
    return m ? { now: Number(m.getAttribute('aria-valuenow')), t: Number(m.dataset.t), text: m.getAttribute('aria-valuetext'), role: m.getAttribute('role') } : null;
  });
  // The first sample: the bar as first drawn (bottom of the scale) or early.
  const first = await waitFor(floorMeter, 10000, 'the floor meter');
  await waitFor(() => page.evaluate(() => window.puenteLevels.updates >= 10), 10000, '10 levels.update on the page');
  const a = await floorMeter();
  await sleep(600);
  const b = await floorMeter();
  console.log(`floor meter: first ${JSON.stringify(first)}, then ${JSON.stringify(a)}, then ${JSON.stringify(b)}`);
  check(b.role === 'meter', 'the floor bar is a role=meter element');
  check(b.t > a.t && a.t > first.t, `the floor meter is redrawn from new updates (${first.t} < ${a.t} < ${b.t})`);
  // The tone is steady: the meter moves from the bottom of its scale, where
  // it is drawn before the first update, to the tone's level, and is redrawn
  // from every update after that.
  const history = await page.evaluate(() => window.__floorHistory);
  const distinct = [...new Set(history)];
  console.log(`floor meter values seen: ${history.length}, distinct: ${JSON.stringify(distinct.slice(0, 10))}`);
  check(distinct.length >= 2 && history[0] === -60, `the floor meter's value changed between samples (${JSON.stringify(distinct.slice(0, 10))})`);
  check(Math.abs(b.now + 20) <= 0.5 && Math.abs(a.now + 20) <= 0.5, `the floor meter reads about -20 dB peak (${a.now}, ${b.now})`);
  const lv = await page.evaluate(() => JSON.parse(JSON.stringify(window.puenteLevels)));
  check(lv.state === 'ready', `page state ready: ${lv.state}`);
  const fl = lv.channels.floor;
  check(Math.abs(fl.peak + 20) <= 0.5, `window.puenteLevels floor peak ≈ -20: ${fl.peak}`);
  check(fl.rms !== null && Math.abs(fl.rms + 23) <= 0.5, `floor RMS ≈ -23: ${fl.rms}`);
  check(fl.momentary !== null && Math.abs(fl.momentary + 23) <= 1.0, `floor momentary ≈ -23 LUFS: ${fl.momentary}`);
  const figures = await page.evaluate(() => {
    const row = document.querySelector('[data-key="floor"]');
    const out = {};
    for (const dd of row.querySelectorAll('dd[data-figure]')) out[dd.dataset.figure] = dd.textContent;
    return out;
  });
  console.log(`floor figures: ${JSON.stringify(figures)}`);
  check(Math.abs(Number(figures.lv_peak) + 20) <= 0.5 && /^-\d+\.\d$/.test(figures.lv_momentary) && /^-\d+\.\d$/.test(figures.lv_integrated), 'the floor row shows peak and loudness figures');
  check(/^\d+$/.test(figures.lv_listeners), `listener count shown: ${figures.lv_listeners}`);

  // The technician's levels.reset is accepted (no core.error).
  await page.click('[data-key="floor"] button.reset');
  await sleep(500);
  const errs = await page.evaluate(() => window.puenteLevels.errors);
  check(errs.length === 0, `the technician's levels.reset is not refused: ${JSON.stringify(errs)}`);

  // The interpretation plugin's state reaches the technician.
  await waitFor(() => page.evaluate(() => window.puenteLevels.interpretation !== null), 5000, 'interpretation.state on the page');
  const booths = await page.evaluate(() => [...document.querySelectorAll('#booths li[data-booth]')].map((li) => li.dataset.booth));
  check(booths.length > 0, `booths shown: ${booths}`);
  check(await page.isVisible('#floor-select'), 'the floor-language control is shown');

  // Spanish by keyboard, kept across a reload, then back to English.
  await tabTo(page, 'the Español button', (f) => f.lang === 'es');
  await page.keyboard.press('Enter');
  const es = await page.evaluate(() => ({ lang: document.documentElement.lang, h: document.querySelector('h1').textContent }));
  check(es.lang === 'es' && es.h === 'Consola técnica', `Spanish: ${JSON.stringify(es)}`);
  await page.reload();
  await waitFor(() => page.evaluate(() => window.puenteLevels && window.puenteLevels.updates > 0), 10000, 'updates after the reload');
  const kept = await page.evaluate(() => document.documentElement.lang);
  check(kept === 'es', `the language choice persists across a reload: ${kept}`);
  await page.click('button.lang[data-lang="en"]');

  // The floor language, set from the keyboard, comes back in interpretation.state.
  await waitFor(() => page.isVisible('#floor-select'), 5000, 'the floor-language control after the reload');
  await page.selectOption('#floor-select', 'en');
  await page.focus('#floor-set');
  await page.keyboard.press('Enter');
  await waitFor(() => page.evaluate(() => window.puenteLevels.interpretation?.floor_language === 'en'), 5000, 'floor language en in interpretation.state');
  console.log('ok the floor language set from the page reaches the interpretation plugin');

  // Sound by keyboard: focus the button, press Enter.
  await page.focus('#sound');
  await page.keyboard.press('Enter');
  await waitFor(() => page.evaluate(() => window.puenteLevels.sound), 3000, 'sound enabled by keyboard');

  if (FAKE) {
    await waitFor(() => page.evaluate(() => window.puenteLevels.events.length > 0), 5000, 'an alarm event');
    const alarm = await page.evaluate(() => ({ text: document.querySelector('#alarm-log li').textContent, tags: document.querySelectorAll('#alarm-log b').length, beeps: window.puenteLevels.beeps }));
    check(alarm.tags === 0 && /<b>x<\/b>/.test(alarm.text), `the alarm message is text: ${JSON.stringify(alarm)}`);
    check(alarm.beeps >= 2, `a beep per new alarm once enabled: ${alarm.beeps}`);
  }

  if (!FAKE) {
    // Ten guessed links from 127.0.0.9 ban it; the page lists the address,
    // and its button (reached by keyboard) lifts the ban.
    const attempt = (url) => new Promise((resolve) => {
      const w = new WebSocket(url, 'puente.v1', { localAddress: '127.0.0.9' });
      w.on('open', () => { w.close(); resolve('open'); });
      w.on('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode); });
      w.on('error', () => resolve('error'));
    });
    for (let i = 0; i < 10; i++) check(await attempt(`${relay.ws}?t=${'A'.repeat(22)}`) === 401, 'a guessed link gets 401');
    check(await attempt(relay.wsFor('listener', 3)) === 429, 'banned after 10 guesses');
    await waitFor(() => page.evaluate(() => window.puenteLevels.bans.some((b) => b.address === '127.0.0.9')), 5000, 'the banned address on the page');
    const item = await page.evaluate(() => document.querySelector('#bans li').textContent);
    check(/127\.0\.0\.9/.test(item), `the ban is listed: ${item}`);
    await page.focus('#floor-set');
    await tabTo(page, 'the lift-ban button', (f) => f.id === 'unban-0');
    await page.keyboard.press('Enter');
    await waitFor(() => page.evaluate(() => window.puenteLevels.bansTotal === 0), 5000, 'no ban left after the button');
    check(await attempt(relay.wsFor('listener', 3)) === 'open', '127.0.0.9 gets in after the ban is lifted');
    console.log('ok a ban listed on the page and lifted from the keyboard');
  }

  await axeCheck(page, 'the technician page');
  await screenshot(page, 'levels-technician');
  check(page.problems.length === 0, `no page errors: ${page.problems.join('; ')}`);
});
