// Captions end to end, in headless Chromium, against the relay with the
// interpretation and captions plugins (README "Caption messages"):
//
// - the listener page finds the captions plugin, and its caption-language
//   picker (none by default) is chosen with the keyboard;
// - a caption pushed through the HTTP caption API (as CART software does)
//   with markup in it shows as that literal text in the caption area, an
//   aria-live="polite" region, and creates no element (RELIABILITY row 22);
//   a Spanish caption does not reach the English view;
// - partial lines show outside the live region and are replaced by their
//   final, which is appended to it;
// - while audio plays, a cue waits for the audio to reach its start time;
// - a second language side by side comes through a second connection;
// - the captioner page, driven by the keyboard: typed text goes out as
//   partial cues and Enter as the final one, with the same id, to a ws
//   client that chose that language; a line over the limit comes back
//   with the relay's too_long;
// - axe-core on both pages; screenshots to tests/artifacts/.

import {
  check,
  listener,
  need,
  options,
  run,
  sleep,
  startRelay,
  stopRelay,
  tempDir,
  waitFor,
} from './relay.mjs';
import { axeCheck, checkCsp, launch, newPage, screenshot, tabTo } from './browser.mjs';

const HOSTILE = 'Hello <img src=x onerror=window.__pwned=1> & <b>bold</b>';
const HOSTILE2 = '</script><script>window.__pwned=2</script> <a href="javascript:window.__pwned=3">link</a>';
const SPANISH = 'Hola <i>mundo</i>, esto no va en inglés';
const TOKEN_RE = /caption URL for (\S+) \(([^)]*)\): \/captions\/api\?token=([0-9A-Za-z_-]+)/g;

// A node client that chose a caption language, collecting its cues.
async function captionClient(WebSocket, url, lang, role = 'listener') {
  const c = await listener(WebSocket, url, null);
  if (role !== 'listener') {
    c.send({ type: 'core.hello', role, agent: 'puente-node-tests' });
    const hello = await c.next('core.hello');
    check(hello.role === role, `${role} role granted: ${JSON.stringify(hello)}`);
  }
  c.cues = [];
  c.errors = [];
  c.ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = JSON.parse(data.toString());
    if (m.type === 'captions.cue') c.cues.push({ ...m, at: Date.now() });
    if (m.type === 'core.error') c.errors.push(m);
  });
  if (lang !== undefined) {
    c.send({ type: 'captions.choose', lang });
    const h = await c.next('captions.history');
    check(h.lang === lang, `captions.history for ${lang}: ${JSON.stringify(h)}`);
  }
  return c;
}

async function postCaption(relay, token, seq, lang, text) {
  const url = `${relay.http}captions/api?token=${token}&seq=${seq}&lang=${encodeURIComponent(lang)}`;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text });
  const body = await res.text();
  check(res.status === 200, `POST caption seq=${seq} lang=${lang}: ${res.status} ${JSON.stringify(body)}`);
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\n/.test(body), `the answer starts with the server's time: ${JSON.stringify(body)}`);
}

function captionTokens(stderr) {
  const tokens = {};
  for (const m of stderr.matchAll(TOKEN_RE)) tokens[m[1]] = { langs: m[2], token: m[3] };
  check(tokens['cart-en'] && tokens['cart-es'], `caption URLs of cart-en and cart-es in the log: ${JSON.stringify(tokens)}`);
  return tokens;
}

run('browser_captions', 170000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  const { WebSocket } = await need('ws');
  await need('axe-core');

  const archive = tempDir('puente-captions-archive-');
  const relay = await startRelay({
    ...opt,
    config: `[plugin.captions]\narchive_dir = ${archive}\n`,
    args: ['--tone', '--plugins', 'interpretation,captions', '--plugin-dir', opt.pluginDir],
  });
  check(/plugin captions .*loaded/.test(relay.stderr), `the relay loaded the captions plugin:\n${relay.stderr}`);
  const tokens = captionTokens(relay.stderr);
  console.log(`ok caption URLs logged for ${Object.keys(tokens).join(', ')}`);
  await checkCsp(relay.http);
  await checkCsp(`${relay.http}captions/`);

  // Node clients that chose English and Spanish: what the relay really sends.
  const enClient = await captionClient(WebSocket, relay.ws, 'en');
  const esClient = await captionClient(WebSocket, relay.ws, 'es');

  const { context, close } = await launch(chromium);
  const page = await newPage(context, 'listener');
  const capt = () => page.evaluate(() => JSON.parse(JSON.stringify(window.puenteCaptions)));
  await page.goto(relay.http);
  await waitFor(async () => (await capt()).available === true, 10000, 'the page sees the captions plugin');
  await page.waitForSelector('#captions-panel:not([hidden])', { timeout: 5000 });
  const initial = await page.evaluate(() => ({
    value: document.getElementById('caption-lang').value,
    options: [...document.getElementById('caption-lang').options].map((o) => [o.value, o.textContent]),
    live: document.getElementById('caption-list-1').getAttribute('aria-live'),
  }));
  check(initial.value === '', `no captions by default: ${JSON.stringify(initial)}`);
  check(initial.live === 'polite', 'the caption area is an aria-live="polite" region');
  console.log(`caption languages offered: ${JSON.stringify(initial.options)}`);

  // The caption view on its own (the page's module, on detached elements):
  // a history after a reconnect merges, after a relay restart starts the
  // seq check over; a held cue waits for the clock; an empty partial
  // clears the line.
  const unit = await page.evaluate(async () => {
    const { CaptionView } = await import('/lib/captions.js');
    const mk = (tag) => document.createElement(tag);
    const els = { view: mk('section'), list: mk('ol'), partial: mk('p') };
    let now = null;
    const v = new CaptionView(els, () => now);
    const lines = () => [...els.list.children].map((li) => li.textContent).join('|');
    const cue = (seq, text, final = true, extra = {}) => ({ type: 'captions.cue', lang: 'en', seq, id: `i${seq}`, text, final, ...extra });
    const out = {};
    v.setLang('en');
    v.history({ lang: 'en', cues: [cue(1, 'A'), cue(3, 'B')] });
    v.push({ ...cue(4, 'C so'), final: false, id: 'c' });
    out.partial = els.partial.textContent;
    v.push({ ...cue(5, 'C'), id: 'c' });
    out.afterFinal = [lines(), els.partial.hidden];
    v.history({ lang: 'en', cues: [cue(3, 'B'), cue(5, 'C')] }); // reconnect, same relay
    v.push(cue(6, 'D'));
    out.reconnect = lines();
    v.history({ lang: 'en', cues: [] }); // a relay that restarted
    v.push(cue(1, 'E'));
    out.restart = lines();
    v.push({ ...cue(2, 'x', false), id: 'e' });
    v.push({ ...cue(3, '', false), id: 'e' });
    out.erased = els.partial.hidden;
    now = 0;
    v.push(cue(4, 'F', true, { start: 48000 }));
    await new Promise((r) => setTimeout(r, 200));
    out.held = [lines(), v.record.held];
    now = 50000;
    await new Promise((r) => setTimeout(r, 200));
    out.released = [lines(), v.record.held];
    v.push({ ...cue(5, 'G'), lang: 'es' });
    out.otherLang = lines();
    v.setLang(null);
    return out;
  });
  console.log(`caption view: ${JSON.stringify(unit)}`);
  check(unit.partial === 'C so' && unit.afterFinal[0] === 'A|B|C' && unit.afterFinal[1] === true, 'partial, then its final');
  check(unit.reconnect === 'A|B|C|D', `a history after a reconnect merges: ${unit.reconnect}`);
  check(unit.restart === 'A|B|C|D|E', `after a relay restart seq 1 shows: ${unit.restart}`);
  check(unit.erased === true, 'an empty partial clears the line');
  check(unit.held[0] === 'A|B|C|D|E' && unit.held[1] === 1, `a cue ahead of the clock is held: ${JSON.stringify(unit.held)}`);
  check(unit.released[0] === 'A|B|C|D|E|F' && unit.released[1] === 0, `released when the clock reaches it: ${JSON.stringify(unit.released)}`);
  check(unit.otherLang === 'A|B|C|D|E|F', 'a cue of another language is not shown');
  console.log('ok caption view: merge on reconnect, restart, hold, erase, language filter');

  // Keyboard: Tab to the caption-language picker, arrows down to English.
  await tabTo(page, 'the caption-language picker', (e) => e.id === 'caption-lang');
  for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement.value)) !== 'en'; i++) {
    await page.keyboard.press('ArrowDown');
  }
  await waitFor(async () => (await capt()).lang === 'en', 3000, 'English captions chosen');
  await page.waitForSelector('#caption-view-1:not([hidden])', { timeout: 3000 });
  console.log('ok English captions chosen with the keyboard');

  // Markup through the HTTP caption API: text, never elements.
  const sentAt = Date.now();
  await postCaption(relay, tokens['cart-en'].token, 1, 'en-US', HOSTILE);
  await waitFor(() => enClient.cues.some((c) => c.text === HOSTILE), 5000, 'the English ws client gets the caption');
  const relayed = enClient.cues.find((c) => c.text === HOSTILE);
  check(relayed.final === true && relayed.lang === 'en', `the relay's cue: ${JSON.stringify(relayed)}`);
  const shown = await waitFor(
    async () => (await capt()).shown.find((c) => c.text === HOSTILE),
    5000,
    'the caption on the listener page',
  );
  const dom = await page.evaluate(() => {
    const list = document.getElementById('caption-list-1');
    const last = list.lastElementChild;
    return {
      text: last ? last.textContent : null,
      children: last ? last.children.length : -1,
      inLive: Boolean(last && last.closest('[aria-live="polite"]')),
      imgs: document.querySelectorAll('img').length,
      bolds: document.querySelectorAll('b').length,
      pwned: typeof window.__pwned,
    };
  });
  check(dom.text === HOSTILE, `caption shown as the literal text: ${JSON.stringify(dom.text)}`);
  check(dom.children === 0 && dom.imgs === 0 && dom.bolds === 0, `no element from the caption: ${JSON.stringify(dom)}`);
  check(dom.pwned === 'undefined', 'window.__pwned stays undefined');
  check(dom.inLive, 'the caption is in the aria-live region');
  console.log(`ok hostile caption shown as text in the live caption area, ${shown.at - sentAt} ms after the POST (no audio playing)`);
  await postCaption(relay, tokens['cart-en'].token, 2, 'en', HOSTILE2);
  await waitFor(async () => (await capt()).shown.some((c) => c.text === HOSTILE2), 5000, 'the </script> caption on the page');
  const dom2 = await page.evaluate(() => ({
    text: document.getElementById('caption-list-1').lastElementChild.textContent,
    scripts: document.scripts.length,
    links: document.querySelectorAll('a').length,
    pwned: typeof window.__pwned,
  }));
  check(dom2.text === HOSTILE2 && dom2.scripts === 1 && dom2.links === 0 && dom2.pwned === 'undefined', `</script> and javascript: stay text: ${JSON.stringify(dom2)}`);
  console.log('ok </script> and javascript: captions shown as text, no script or link created');

  // A Spanish caption reaches Spanish clients only.
  await postCaption(relay, tokens['cart-es'].token, 1, 'es', SPANISH);
  await waitFor(() => esClient.cues.some((c) => c.text === SPANISH), 5000, 'the Spanish ws client gets the Spanish caption');
  await sleep(700);
  const afterEs = await page.evaluate(() => document.getElementById('caption-views').textContent);
  check(!afterEs.includes('Hola'), 'the Spanish caption is not in the English view');
  check(!(await capt()).cues.some((c) => c.text === SPANISH), 'the page received no Spanish cue on its English choice');
  check(!enClient.cues.some((c) => c.text === SPANISH), 'the English ws client got no Spanish cue');
  console.log('ok a Spanish caption does not appear in the English view');

  // Partial lines: shown in place, outside the live region, replaced by
  // their final. A node captioner writes them.
  const captioner = await captionClient(WebSocket, relay.wsFor('captioner', 0), undefined, 'captioner');
  captioner.send({ type: 'captions.cue', lang: 'en', text: 'We begin', final: false, id: 'node-1' });
  captioner.send({ type: 'captions.cue', lang: 'en', text: 'We begin the second', final: false, id: 'node-1' });
  const partial = await waitFor(
    () =>
      page.evaluate(() => {
        const p = document.getElementById('caption-partial-1');
        return p.textContent === 'We begin the second' && !p.hidden
          ? { live: Boolean(p.closest('[aria-live]')), items: document.getElementById('caption-list-1').children.length }
          : null;
      }),
    5000,
    'the partial line replaced in place',
  );
  check(!partial.live, 'the partial line is outside the live region (finals only are announced)');
  const itemsBefore = partial.items;
  captioner.send({ type: 'captions.cue', lang: 'en', text: 'We begin the second session.', final: true, id: 'node-1' });
  await waitFor(
    () =>
      page.evaluate(
        (n) => {
          const list = document.getElementById('caption-list-1');
          const p = document.getElementById('caption-partial-1');
          return list.children.length === n + 1 && list.lastElementChild.textContent === 'We begin the second session.' && p.hidden;
        },
        itemsBefore,
      ),
    5000,
    'the final appended and the partial gone',
  );
  console.log('ok partial shown in place outside the live region, final appended to it');

  // With audio playing, a cue waits for the audio to reach its start.
  await tabTo(page, 'the play button', (e) => e.id === 'play', 'Shift+Tab');
  await page.keyboard.press('Enter');
  const playing = await waitFor(
    async () => {
      const s = await page.evaluate(() => ({ ...window.puenteStats }));
      return s.packets > 50 && s.delayMs !== null ? s : null;
    },
    15000,
    'the floor playing',
  );
  const clock = await listener(WebSocket, relay.ws, 'floor');
  const roomNow = () => clock.anchor.media_time + ((Date.now() * 1000 - clock.anchor.unix_us) * 48000) / 1e6;
  const HOLD_MS = 2000;
  const heldAt = Date.now();
  captioner.send({
    type: 'captions.cue',
    lang: 'en',
    text: 'Held for two seconds',
    final: true,
    id: 'node-2',
    start: Math.round(roomNow() + (HOLD_MS * 48000) / 1000),
  });
  await waitFor(async () => (await capt()).cues.some((c) => c.text === 'Held for two seconds'), 3000, 'the held cue reaches the page');
  await sleep(800);
  const early = await capt();
  check(!early.shown.some((c) => c.text === 'Held for two seconds'), 'the cue is held while the audio has not reached its start');
  check(early.held >= 1, `held count ${early.held}`);
  const held = await waitFor(
    async () => (await capt()).shown.find((c) => c.text === 'Held for two seconds'),
    6000,
    'the held cue shown',
  );
  const heldMs = held.at - heldAt;
  const delayMs = (await page.evaluate(() => window.puenteStats.delayMs)) ?? playing.delayMs;
  console.log(`ok cue with start = now + ${HOLD_MS} ms shown after ${heldMs} ms (page's audio delay ${delayMs} ms)`);
  check(heldMs >= HOLD_MS - 100 && heldMs <= HOLD_MS + delayMs + 1000, `held ${heldMs} ms for a start ${HOLD_MS} ms ahead`);
  // One without a start: the relay stamps the room clock now, the page
  // waits about its own audio delay.
  const plainAt = Date.now();
  await postCaption(relay, tokens['cart-en'].token, 3, 'en', 'Timed to the audio');
  const plain = await waitFor(async () => (await capt()).shown.find((c) => c.text === 'Timed to the audio'), 5000, 'the plain cue shown');
  console.log(`ok cue stamped by the relay shown ${plain.at - plainAt} ms after the POST while the audio delay is ${delayMs} ms`);
  check(plain.at - plainAt < delayMs + 1000, 'a cue stamped now waits about the audio delay, not more');

  // A second language side by side, over a second connection.
  await tabTo(page, 'the second-language picker', (e) => e.id === 'caption-lang2');
  for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement.value)) !== 'es'; i++) {
    await page.keyboard.press('ArrowDown');
  }
  await waitFor(async () => (await capt()).second.lang === 'es', 3000, 'Spanish chosen as the second language');
  await page.waitForSelector('#caption-view-2:not([hidden])', { timeout: 3000 });
  await waitFor(
    () => page.evaluate(() => document.getElementById('caption-list-2').textContent.includes('Hola')),
    5000,
    'the Spanish history in the second view',
  );
  await postCaption(relay, tokens['cart-es'].token, 2, 'es', 'Segunda línea en español');
  await waitFor(
    () => page.evaluate(() => document.getElementById('caption-list-2').lastElementChild?.textContent === 'Segunda línea en español'),
    5000,
    'the Spanish caption in the second view',
  );
  const sides = await page.evaluate(() => ({
    first: document.getElementById('caption-list-1').textContent,
    two: document.getElementById('caption-views').classList.contains('two'),
    left: document.getElementById('caption-view-1').getBoundingClientRect().left,
    right: document.getElementById('caption-view-2').getBoundingClientRect().left,
    lang2: document.getElementById('caption-view-2').lang,
  }));
  check(!sides.first.includes('español'), 'the Spanish caption stays out of the English view');
  check(sides.two && sides.right > sides.left && sides.lang2 === 'es', `two views side by side: ${JSON.stringify(sides)}`);
  console.log('ok second language (Spanish) side by side through a second connection');

  // Large text, with the keyboard.
  const sizeOf = () => page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('#caption-list-1 li')).fontSize));
  const small = await sizeOf();
  await tabTo(page, 'the large-text option', (e) => e.id === 'caption-large');
  await page.keyboard.press('Space');
  const large = await sizeOf();
  check(large >= small * 1.4, `large text: ${small}px -> ${large}px`);
  console.log(`ok large text ${small}px -> ${large}px`);

  await page.waitForTimeout(600);
  await screenshot(page, 'browser_captions_listener');
  await axeCheck(page, 'the listener page with captions');

  // ---- the captioner page ------------------------------------------------
  const cp = await newPage(context, 'captioner');
  const cstats = () => cp.evaluate(() => JSON.parse(JSON.stringify(window.puenteCaptioner)));
  await cp.goto(relay.pageFor('captions/', 'captioner', 1));
  await waitFor(async () => (await cstats()).state === 'ready', 10000, 'the captioner page ready');
  const cs = await cstats();
  check(cs.lang === 'en', `an English browser captions English by default: ${cs.lang}`);
  await tabTo(cp, 'the caption-language group', (e) => e.name === 'caption-lang');
  check((await cp.evaluate(() => document.activeElement.value)) === 'en', 'English is checked');
  await tabTo(cp, 'the caption text area', (e) => e.id === 'line');
  const LINE = 'Good morning everyone, welcome to the dialogue';
  const typedFrom = enClient.cues.length;
  const t0 = Date.now();
  await cp.keyboard.type(LINE, { delay: 40 });
  const typingMs = Date.now() - t0;
  await cp.keyboard.press('Enter');
  const final = await waitFor(
    () => enClient.cues.slice(typedFrom).find((c) => c.final && c.text === LINE),
    5000,
    'the final line at the English ws client',
  );
  const partials = enClient.cues.slice(typedFrom).filter((c) => !c.final && c.id === final.id);
  check(partials.length >= 2, `partial cues before the final: ${partials.length}`);
  check(partials.every((c) => LINE.startsWith(c.text)), 'each partial is a prefix of the line');
  const seqs = enClient.cues.slice(typedFrom).map((c) => c.seq);
  check(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1), `seq +1 per cue, partials included: ${seqs.join(',')}`);
  const rate = partials.length / ((typingMs + 300) / 1000);
  check(rate <= 5, `partials throttled to at most 5 a second: ${partials.length} in ${typingMs} ms`);
  console.log(
    `ok captioner page: ${LINE.length} keystrokes in ${typingMs} ms -> ${partials.length} partials (${rate.toFixed(1)}/s) and 1 final, all id ${final.id}`,
  );
  const after = await waitFor(
    async () => {
      const s = await cstats();
      const e = s.sent.find((x) => x.text === LINE);
      return e && e.status === 'shown' ? { s, e } : null;
    },
    5000,
    'the captioner page confirms the line',
  );
  check(after.e.seq === final.seq, `confirmed with the relay's seq ${final.seq}`);
  check((await cp.evaluate(() => document.getElementById('line').value)) === '', 'a new line starts empty');
  await waitFor(async () => (await capt()).shown.some((c) => c.text === LINE), 5000, 'the line on the listener page');
  console.log('ok the line confirmed on the captioner page and shown on the listener page');

  // Over the relay's max_chars: refused with too_long, said in the
  // assertive region, and the line comes back into the box.
  const long = 'a'.repeat(5001);
  await cp.fill('#line', long);
  const counter = await cp.evaluate(() => document.getElementById('counter').textContent);
  check(/5001/.test(counter), `the counter says 5001: ${counter}`);
  await cp.focus('#line');
  await cp.keyboard.press('Enter');
  const refusal = await waitFor(
    () =>
      cp.evaluate(() => {
        const a = document.getElementById('alert');
        return /too_long/.test(a.textContent) ? { text: a.textContent, live: a.getAttribute('aria-live'), role: a.getAttribute('role'), box: document.getElementById('line').value.length } : null;
      }),
    5000,
    'too_long shown on the captioner page',
  );
  check(refusal.live === 'assertive' && refusal.role === 'alert', 'the refusal is in an assertive live region');
  check(refusal.box === 5001, `the refused line is back in the box (${refusal.box} characters)`);
  check((await cstats()).errors.includes('captions.cue:too_long'), 'the page recorded captions.cue:too_long');
  console.log(`ok too_long: "${refusal.text}"`);
  await cp.fill('#line', '');

  // Spanish interface, remembered.
  await tabTo(cp, 'the Spanish switch', (e) => e.lang === 'es', 'Shift+Tab');
  await cp.keyboard.press('Enter');
  const es = await cp.evaluate(() => ({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1').textContent,
    stored: localStorage.getItem('puente.lang'),
  }));
  check(es.lang === 'es' && es.h1 === 'Subtitulado' && es.stored === 'es', `captioner page in Spanish: ${JSON.stringify(es)}`);
  console.log('ok captioner page switches to Spanish and remembers it');

  await cp.waitForTimeout(600);
  await screenshot(cp, 'browser_captions_captioner');
  await axeCheck(cp, 'the captioner page');

  check(page.problems.length === 0 && cp.problems.length === 0, `browser errors:\n  ${[...page.problems, ...cp.problems].join('\n  ')}`);
  check(enClient.errors.length === 0 && esClient.errors.length === 0, 'no errors to the ws clients');

  // The relay restarts: the page chooses its captions again by itself.
  const exit = await stopRelay(relay);
  check(exit.code === 0, `relay exit ${JSON.stringify(exit)}`);
  const again = await startRelay({
    ...opt,
    port: relay.port,
    invitesFrom: relay,
    config: `[plugin.captions]\narchive_dir = ${archive}\n`,
    args: ['--tone', '--plugins', 'interpretation,captions', '--plugin-dir', opt.pluginDir],
  });
  const tokens2 = captionTokens(again.stderr);
  const backAt = Date.now();
  // The page has chosen again when the relay counts it among English choosers:
  // post until one lands (each POST is a new seq of a new captioner session).
  let seq = 0;
  await waitFor(
    async () => {
      seq++;
      await postCaption(again, tokens2['cart-en'].token, seq, 'en', `After the restart ${seq}`);
      await sleep(300);
      return (await capt()).shown.some((c) => c.text.startsWith('After the restart'));
    },
    15000,
    'a caption after the relay restarted',
    0,
  );
  const kept = await page.evaluate(() => [...document.querySelectorAll('#caption-list-1 li')].map((li) => li.textContent));
  check(kept.includes(HOSTILE) && kept.includes(LINE), `the scroll-back survives the reconnect (${kept.length} lines)`);
  check(kept.filter((x) => x === LINE).length === 1, 'no line shown twice after the reconnect');
  console.log(`ok after a relay restart the page chose English again by itself (caption shown ${Date.now() - backAt} ms after the new relay was up)`);

  // A relay without the captions plugin: the listener page shows no
  // caption panel, and says nothing about it.
  const bareRelay = await startRelay({ ...opt, config: '[core]\nplugins =\n', args: ['--tone'] });
  const bare = await newPage(context, 'listener without captions');
  await bare.goto(bareRelay.http);
  await waitFor(() => bare.evaluate(() => window.puenteCaptions.available === false), 5000, 'the page sees no captions plugin');
  const hidden = await bare.evaluate(() => ({
    panel: document.getElementById('captions-panel').hidden,
    alert: document.getElementById('alert').textContent,
  }));
  check(hidden.panel && hidden.alert === '', `no caption panel and no alert without the plugin: ${JSON.stringify(hidden)}`);
  check(bare.problems.length === 0, `browser errors:\n  ${bare.problems.join('\n  ')}`);
  console.log('ok without the captions plugin the panel stays hidden, no alert');
  await close();
});
