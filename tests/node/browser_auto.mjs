// The listener page's "my language" (auto) choice against the relay with the
// interpretation plugin, in headless Chromium:
//
// - the floor speaks en: an English page on auto hears the floor, and says
//   why ("The floor speaks your language");
// - a technician (node client) sets the floor to es while an interpreter
//   (node client relaying the floor's packets, as a stand-in for a voice) is
//   live into en: the page follows to en on its own, and says why;
// - switching the page to Spanish switches "my language": back to the floor;
// - stop and play again on auto brings the audio back;
// - the original underneath opens while on en and closes by itself when the
//   page moves back to the floor.

import { check, listener, need, options, run, sleep, startRelay, waitFor } from './relay.mjs';
import { axeCheck, launch, newPage, screenshot, tabTo } from './browser.mjs';

const CONFIG =
  '[core]\nplugins = interpretation\n' +
  '[plugin.interpretation]\nbooths = es-en\nfloor_language = en\n';

// A node interpreter: joins the booth, goes live into `into`, and sends the
// floor's own packets into its channel (any Opus is a voice to the relay).
async function interpreter(WebSocket, url, into) {
  const c = await listener(WebSocket, url, null);
  c.send({ type: 'core.hello', role: 'interpreter', agent: 'puente-node-tests' });
  const hello = await c.next('core.hello');
  check(hello.role === 'interpreter', `interpreter role granted: ${JSON.stringify(hello)}`);
  c.send({ type: 'interpretation.join', booth: 'es-en' });
  c.send({ type: 'interpretation.source', channel: 'floor' });
  c.send({ type: 'interpretation.claim', channel: into });
  c.direction = into;
  c.forwarded = 0;
  const index = (name) => c.welcome.room.channels.findIndex((ch) => ch.name === name);
  c.ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length <= 16 || data[2] !== index('floor')) return;
    const out = Buffer.from(data);
    out[2] = index(c.direction);
    out[3] = 0;
    c.ws.send(out);
    c.forwarded++;
  });
  c.turn = (ch) => {
    c.direction = ch;
    c.send({ type: 'interpretation.direction', channel: ch });
  };
  return c;
}

run('browser_auto', 120000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  const { WebSocket } = await need('ws');
  await need('axe-core');

  const relay = await startRelay({ ...opt, config: CONFIG, args: ['--tone', '--plugin-dir', opt.pluginDir] });
  check(/plugin interpretation .*loaded/.test(relay.stderr), `the relay loaded the plugin:\n${relay.stderr}`);

  // Floor in en: the interpreter works into es.
  const interp = await interpreter(WebSocket, relay.wsFor('interpreter'), 'es');
  await waitFor(() => interp.forwarded > 10, 5000, 'the interpreter sends');

  const tech = await listener(WebSocket, relay.wsFor('technician'), null);
  tech.send({ type: 'core.hello', role: 'technician', agent: 'puente-node-tests' });
  const techHello = await tech.next('core.hello');
  check(techHello.role === 'technician', `technician role granted: ${JSON.stringify(techHello)}`);

  const { context, close } = await launch(chromium);
  const page = await newPage(context, 'listener');
  const stats = () => page.evaluate(() => JSON.parse(JSON.stringify(window.puenteStats)));
  const reason = () => page.evaluate(() => document.getElementById('reason').textContent);
  await page.goto(relay.http);
  await waitFor(async () => (await stats()).plugin, 10000, 'the page sees the plugin');
  await page.waitForSelector('#channel-list input[value="auto"]', { timeout: 5000 });
  const autoLabel = await page.evaluate(() => document.querySelector('#channel-list input[value="auto"]').parentElement.textContent);
  check(/My language/.test(autoLabel), `auto is offered as "${autoLabel}"`);

  // Keyboard: into the group (floor is checked), left to auto, on to Play.
  await tabTo(page, 'the channel group', (e) => e.name === 'channel');
  await page.keyboard.press('ArrowLeft');
  check((await page.evaluate(() => document.activeElement.value)) === 'auto', 'ArrowLeft reaches auto');
  await tabTo(page, 'the play button', (e) => e.id === 'play');
  await page.keyboard.press('Enter');

  const onFloor = await waitFor(async () => {
    const s = await stats();
    return s.choice === 'auto' && s.channel === 'floor' && s.reason === 'floor_is_your_language' && s.packets > 25 && s.level > 0.01 ? s : null;
  }, 15000, 'auto (en) hears the floor while the floor speaks en');
  const floorText = await reason();
  check(/The floor speaks your language \(English\): you hear the floor/.test(floorText), `reason text: "${floorText}"`);
  console.log(`ok auto with the floor in en: channel ${onFloor.channel}, level ${onFloor.level.toFixed(4)}, "${floorText}"`);

  // The technician sets the floor to es; the interpreter turns into en.
  const t0 = Date.now();
  tech.send({ type: 'interpretation.floor', language: 'es' });
  interp.turn('en');
  const onEn = await waitFor(async () => {
    const s = await stats();
    return s.channel === 'en' && s.reason === 'interpretation' ? s : null;
  }, 5000, 'auto (en) follows to en');
  const followMs = Date.now() - t0;
  const pk = onEn.packets;
  const playingEn = await waitFor(async () => {
    const s = await stats();
    return s.channel === 'en' && s.packets > pk + 25 && s.level > 0.01 ? s : null;
  }, 5000, 'playing en');
  check(playingEn.decodeErrors === 0, `decode errors: ${playingEn.decodeErrors}`);
  const enText = await reason();
  check(/The floor speaks Spanish: you hear the interpretation, English/.test(enText), `reason text: "${enText}"`);
  const live = await page.evaluate(() => document.getElementById('reason').getAttribute('role'));
  check(live === 'status', 'the reason is in a polite live region (role status)');
  console.log(`ok floor -> es: on en after ${followMs} ms, level ${playingEn.level.toFixed(4)}, "${enText}"`);

  // Spanish page: "my language" is es now, which the floor speaks.
  await tabTo(page, 'the Spanish switch', (e) => e.lang === 'es', 'Shift+Tab');
  await page.keyboard.press('Enter');
  await waitFor(async () => {
    const s = await stats();
    return s.channel === 'floor' && s.reason === 'floor_is_your_language';
  }, 5000, 'auto (es) on the floor');
  const esText = await reason();
  check(/En la sala se habla su idioma \(español\): escucha la sala/.test(esText), `Spanish reason: "${esText}"`);
  console.log(`ok Spanish page: auto follows to the floor, "${esText}"`);
  await page.keyboard.press('Shift+Tab'); // the English switch, just before
  await page.keyboard.press('Enter');
  await waitFor(async () => (await stats()).channel === 'en', 5000, 'auto (en) back on en');
  console.log('ok English page: back on en');

  // Stop, then play again: the audio comes back on the same choice.
  await tabTo(page, 'the play button', (e) => e.id === 'play');
  await page.keyboard.press('Enter');
  await waitFor(async () => (await stats()).channel === null, 3000, 'stopped');
  await sleep(500);
  await page.keyboard.press('Enter');
  const again = (await stats()).packets;
  const resumed = await waitFor(async () => {
    const s = await stats();
    return s.channel === 'en' && s.packets > again + 25 && s.level > 0.01 ? s : null;
  }, 5000, 'playing en again after stop and play');
  console.log(`ok stop and play: on ${resumed.channel} again, ${resumed.packets - again} packets`);

  // The original underneath while on en; it closes when the floor is heard.
  await tabTo(page, 'the underneath slider', (e) => e.id === 'underneath');
  await page.keyboard.press('End');
  const under = await waitFor(async () => {
    const s = await stats();
    return s.underneath.open && s.underneath.packets > 25 && s.underneath.level > 0.01 ? s : null;
  }, 8000, 'floor underneath en');
  console.log(`ok underneath at ${under.underneath.gain}: ${under.underneath.packets} floor packets, level ${under.underneath.level.toFixed(4)}`);
  await page.waitForTimeout(600);
  await screenshot(page, 'browser_auto');
  await axeCheck(page, 'the listener page on auto');

  tech.send({ type: 'interpretation.floor', language: 'en' });
  const back = await waitFor(async () => {
    const s = await stats();
    return s.channel === 'floor' && s.reason === 'floor_is_your_language' && !s.underneath.open ? s : null;
  }, 5000, 'auto back on the floor, underneath closed');
  console.log(`ok floor -> en: on ${back.channel}, underneath closed`);

  check(page.problems.length === 0, `browser errors:\n  ${page.problems.join('\n  ')}`);
  const errors = [...interp.messages, ...tech.messages].filter((m) => m.type === 'core.error');
  check(errors.length === 0, `no core.error to the node clients: ${JSON.stringify(errors)}`);
  await close();
});
