// The interpreter's booth page (plugins/interpretation/web/) in headless
// Chromium, with espeak-ng speech as its microphone, against the relay with
// the interpretation plugin (booth es-en) and the test tone on the floor:
//
// - keyboard only: join booth es-en, go live (L) into en; the page hears the
//   floor (its source) and meters its microphone;
// - a node client subscribed to en receives the interpreter's packets with
//   no gap; the listener page (/) picks English and plays it (level > 0, no
//   decode error), and mixes the floor underneath on request;
// - mute (M), cough held (C) and direction (D) stop or move the stream;
// - a second booth page cannot go live over the first (busy); it asks to take
//   over (H), the first declines (N); it asks again, the first is told in
//   its assertive region and hands over (H): the second is live, the stream
//   on en goes on without a gap;
// - Spanish, axe-core (no serious or critical violation), screenshot.

import {
  FLAG_DISCONT,
  check,
  listener,
  need,
  options,
  run,
  sleep,
  startRelay,
  tempDir,
  waitFor,
} from './relay.mjs';
import { axeCheck, checkCsp, launch, newPage, screenshot, speechWav, tabTo } from './browser.mjs';

const CONFIG = '[core]\nplugins = interpretation\n[plugin.interpretation]\nbooths = es-en\n';
const SPEECH =
  'Good morning everyone. Welcome to the dialogue on migration in Latin America and the Caribbean. ' +
  'Our first session looks at regular pathways, and the second at the protection of migrants.';

run('browser_booth', 170000, async () => {
  const opt = options();
  const { chromium } = await need('playwright-core');
  const { WebSocket } = await need('ws');
  await need('axe-core');

  const wav = speechWav(tempDir('puente-speech-'), SPEECH);
  const relay = await startRelay({ ...opt, config: CONFIG, args: ['--tone', '--plugin-dir', opt.pluginDir] });
  check(/plugin interpretation .*loaded/.test(relay.stderr), `the relay loaded the plugin:\n${relay.stderr}`);
  const boothUrl = relay.pageFor('interpretation/', 'interpreter', 0);
  const boothUrl2 = relay.pageFor('interpretation/', 'interpreter', 1);
  const csp = await checkCsp(boothUrl);
  console.log(`booth page CSP: ${csp}`);

  const { context, close } = await launch(chromium, { micWav: wav });
  const booth = await newPage(context, 'booth');
  const b = () => booth.evaluate(() => JSON.parse(JSON.stringify(window.puenteBooth)));

  await booth.goto(boothUrl);
  await waitFor(async () => (await b()).state === 'ready', 10000, 'booth page ready (interpretation.state seen)');
  await booth.waitForSelector('#booth-list input[value="es-en"]', { timeout: 5000 });

  // Keyboard only: to the booth radio, on to Join, press it.
  const f = await tabTo(booth, 'the booth group', (e) => e.name === 'booth');
  check(f.value === 'es-en', `booth es-en chosen by default (${f.value})`);
  await tabTo(booth, 'the join button', (e) => e.id === 'join');
  await booth.keyboard.press('Enter');
  const joined = await waitFor(
    async () => {
      const s = await b();
      return s.state === 'joined' && s.booth === 'es-en' && s.mic === 'on' ? s : null;
    },
    10000,
    'joined booth es-en with the microphone on',
  );
  console.log(`ok joined: client ${joined.client}, booth ${joined.booth}`);

  // The booth hears its source (the floor's tone) and meters the speech.
  const hearing = await waitFor(
    async () => {
      const s = await b();
      return s.hearing === 'floor' && s.received > 50 && s.sourceLevel > 0.01 && s.level > 0.001 ? s : null;
    },
    15000,
    'booth hears the floor and its microphone level is > 0',
  );
  console.log(`ok booth hears ${hearing.hearing}: ${hearing.received} packets, source RMS ${hearing.sourceLevel.toFixed(4)}, mic RMS ${hearing.level.toFixed(4)}`);
  const outputDefault = await booth.evaluate(() => document.querySelector('input[name="output"]:checked').value);
  check(outputDefault === 'en', `with the floor in es the booth speaks into en by default (${outputDefault})`);

  // A node listener on en: nothing yet, then the interpreter's packets.
  const enClient = await listener(WebSocket, relay.ws, 'en');
  // Arrival gaps before each DISCONT the relay sets on en: the plugin
  // restarts a channel's timeline when packets pause (mute, cough, a late
  // packet), and the listeners flush their jitter buffers there.
  const enDiscont = [];
  let enLastAt = 0;
  enClient.ws.on('message', (d, isBinary) => {
    if (!isBinary) return;
    const now = Date.now();
    if (enLastAt && d[3] & FLAG_DISCONT) enDiscont.push({ at: now, gap: now - enLastAt });
    enLastAt = now;
  });
  await sleep(500);
  check(enClient.tally.packets === 0, `en is silent before anyone is live (${enClient.tally.packets} packets)`);

  // L from the focused join button: shortcuts work anywhere but in text fields.
  await booth.keyboard.press('l');
  const live = await waitFor(
    async () => {
      const s = await b();
      return s.live && s.direction === 'en' && s.sent > 25 ? s : null;
    },
    10000,
    'live on en, sending',
  );
  const liveText = await booth.evaluate(() => document.getElementById('live-status').textContent);
  check(/live on English/.test(liveText), `live status says so: "${liveText}"`);
  console.log(`ok live on ${live.direction} (${liveText}), sent ${live.sent}`);
  await waitFor(() => enClient.tally.packets > 100, 10000, '100 packets on en at the node client');
  const enTally = enClient.tally.snapshot();
  check(enTally.gaps === 0, `no seq gap on en: ${JSON.stringify(enTally)}`);
  console.log(`ok node client on en: ${JSON.stringify(enTally)}`);

  // The listener page picks English by keyboard and plays the interpretation.
  const lp = await newPage(context, 'listener');
  const ls = () => lp.evaluate(() => JSON.parse(JSON.stringify(window.puenteStats)));
  await lp.goto(relay.http);
  await waitFor(async () => (await ls()).plugin === true, 10000, 'listener page sees the plugin');
  await lp.waitForSelector('#channel-list input[value="auto"]', { timeout: 5000 });
  await tabTo(lp, 'the channel group', (e) => e.name === 'channel');
  for (let i = 0; i < 4; i++) {
    if ((await lp.evaluate(() => document.activeElement.value)) === 'en') break;
    await lp.keyboard.press('ArrowRight');
  }
  check((await lp.evaluate(() => document.activeElement.value)) === 'en', 'arrow keys reach English');
  await tabTo(lp, 'the play button', (e) => e.id === 'play');
  await lp.keyboard.press('Enter');
  const playing = await waitFor(
    async () => {
      const s = await ls();
      return s.channel === 'en' && s.packets > 50 && s.level > 0.001 ? s : null;
    },
    15000,
    'listener plays en with level > 0',
  );
  check(playing.decodeErrors === 0, `listener decode errors: ${playing.decodeErrors}`);
  check(playing.reason === 'chosen' && playing.choice === 'en', `listening reason chosen: ${JSON.stringify(playing)}`);
  const reasonText = await lp.evaluate(() => document.getElementById('reason').textContent);
  check(/English/.test(reasonText), `reason text names English: "${reasonText}"`);
  console.log(`ok listener page on en: packets ${playing.packets}, level ${playing.level.toFixed(4)}, gaps ${playing.gaps}, decode errors 0, delay ${playing.delayMs} ms, "${reasonText}"`);

  // The original underneath: the floor's tone mixed in through a second
  // connection while the slider is above 0, closed again at 0.
  await tabTo(lp, 'the underneath slider', (e) => e.id === 'underneath');
  for (let i = 0; i < 6; i++) await lp.keyboard.press('ArrowRight');
  const under = await waitFor(
    async () => {
      const s = await ls();
      const u = s.underneath;
      return u.open && u.channel === 'floor' && u.packets > 25 && u.level > 0.001 ? s : null;
    },
    10000,
    'floor mixed underneath',
  );
  check(under.underneath.decodeErrors === 0, 'no decode error underneath');
  console.log(`ok original underneath at ${under.underneath.gain}: ${under.underneath.packets} floor packets, level ${under.underneath.level.toFixed(4)}`);
  await lp.keyboard.press('Home');
  await waitFor(async () => !(await ls()).underneath.open, 3000, 'underneath closed at 0');
  console.log('ok underneath closed at 0');

  // Mute (M): nothing goes out; unmute: it flows again.
  await booth.keyboard.press('m');
  await waitFor(async () => (await b()).muted, 3000, 'muted');
  await sleep(300);
  const mutedAt = (await b()).sent;
  const enMuted = enClient.tally.packets;
  await sleep(1000);
  const afterMute = await b();
  check(afterMute.sent === mutedAt, `nothing sent while muted (${mutedAt} -> ${afterMute.sent})`);
  check(enClient.tally.packets <= enMuted + 3, `en silent while muted (${enMuted} -> ${enClient.tally.packets})`);
  const mutePressed = await booth.evaluate(() => document.getElementById('mute').getAttribute('aria-pressed'));
  check(mutePressed === 'true', 'mute button pressed');
  await booth.keyboard.press('m');
  await waitFor(async () => {
    const s = await b();
    return !s.muted && s.sent > mutedAt + 25;
  }, 5000, 'unmuted and sending');
  console.log(`ok mute: 0 packets sent in 1 s muted, sending again after (en: ${JSON.stringify(enClient.tally.snapshot())})`);

  // Cough (C held): silent while held, back on release.
  await booth.keyboard.down('c');
  await waitFor(async () => (await b()).cough, 2000, 'cough on');
  await sleep(300);
  const coughAt = (await b()).sent;
  await sleep(700);
  check((await b()).sent === coughAt, 'nothing sent while coughing');
  await booth.keyboard.up('c');
  await waitFor(async () => {
    const s = await b();
    return !s.cough && s.sent > coughAt + 10;
  }, 5000, 'cough released, sending');
  console.log(`ok cough held: nothing sent, sending again on release (en: ${JSON.stringify(enClient.tally.snapshot())})`);

  // Direction (D): into es, and back.
  const esClient = await listener(WebSocket, relay.ws, 'es');
  await booth.keyboard.press('d');
  await waitFor(async () => (await b()).direction === 'es', 3000, 'direction es');
  await waitFor(() => esClient.tally.packets > 25, 5000, 'packets on es after the direction switch');
  await booth.keyboard.press('d');
  await waitFor(async () => (await b()).direction === 'en', 3000, 'direction back to en');
  console.log(`ok direction: es got ${esClient.tally.packets} packets, back on en (en: ${JSON.stringify(enClient.tally.snapshot())})`);
  esClient.ws.close();

  // Handover: a second booth page asks (H), the first hands over (H).
  const booth2 = await newPage(context, 'booth2');
  const b2 = () => booth2.evaluate(() => JSON.parse(JSON.stringify(window.puenteBooth)));
  await booth2.goto(boothUrl2);
  await waitFor(async () => (await b2()).state === 'ready', 10000, 'second booth page ready');
  await tabTo(booth2, 'the join button', (e) => e.id === 'join');
  await booth2.keyboard.press('Enter');
  await waitFor(async () => {
    const s = await b2();
    return s.state === 'joined' && s.mic === 'on';
  }, 10000, 'second interpreter joined');
  const partners = await waitFor(async () => {
    const text = await booth.evaluate(() => document.getElementById('partners').textContent);
    return /You/.test(text) && /Interpreter #/.test(text) ? text : null;
  }, 3000, 'the partner list shows both interpreters');
  console.log(`ok partners: "${partners}"`);
  // Going live while the partner is: refused (busy), and the page says what to do.
  await booth2.keyboard.press('l');
  const busy = await waitFor(
    () => booth2.evaluate(() => document.getElementById('alert').textContent),
    3000,
    'busy shown on the second page',
  );
  check(/ask to take over/.test(busy), `busy explained: "${busy}"`);
  check((await b2()).errors.includes('interpretation.claim:busy'), 'core.error busy for interpretation.claim');
  console.log(`ok claim while the partner is live: "${busy}"`);
  // Ask (H), declined (N): both are told, the first stays live.
  await booth2.keyboard.press('h');
  await waitFor(async () => (await b()).notice === 'notice_requested_to_me', 5000, 'first asked');
  await booth.keyboard.press('n');
  await waitFor(async () => (await b2()).notice === 'notice_declined_to_me', 5000, 'second told: declined');
  await waitFor(async () => {
    const s = await b();
    return s.live && s.notice === 'notice_declined_by_me' && s.pending === null;
  }, 3000, 'the first told it declined, still live, nothing pending');
  const declinedText = await booth2.evaluate(() => document.getElementById('notice').textContent);
  console.log(`ok handover declined: "${declinedText}"`);
  await booth2.keyboard.press('h');
  const asked = await waitFor(
    async () => {
      const s = await b();
      return s.notice === 'notice_requested_to_me' ? s : null;
    },
    5000,
    'the live interpreter is asked',
  );
  const prompt = await booth.evaluate(() => {
    const n = document.getElementById('notice');
    return { text: n.textContent, role: n.getAttribute('role'), live: n.getAttribute('aria-live') };
  });
  check(prompt.live === 'assertive' && /asks to take over/.test(prompt.text), `assertive prompt: ${JSON.stringify(prompt)}`);
  console.log(`ok handover asked: "${prompt.text}" (pending ${asked.pending})`);
  // While its request is pending the partner already sends (the relay
  // refuses those packets), so its stream needs no restart at the switch.
  const pendingAt = (await b2()).sent;
  const pending = await waitFor(async () => {
    const s = await b2();
    return s.pending === s.client && s.sent > pendingAt + 10 ? s : null;
  }, 3000, 'the waiting partner sends');
  const enBefore = enClient.tally.snapshot();
  const acceptAt = Date.now();
  await booth.keyboard.press('h');
  const took = await waitFor(
    async () => {
      const s = await b2();
      return s.live && s.direction === 'en' ? s : null;
    },
    5000,
    'the second interpreter is live',
  );
  const first = await waitFor(async () => {
    const s = await b();
    return !s.live && s.notice === 'notice_done_from_me' ? s : null;
  }, 5000, 'the first is told it is no longer live');
  const notice2 = await booth2.evaluate(() => document.getElementById('notice').textContent);
  check(/you are live/.test(notice2), `the second is told: "${notice2}"`);
  const sentAtHandover = took.sent;
  await waitFor(async () => (await b2()).sent > sentAtHandover + 50, 5000, 'the second sends');
  await waitFor(() => enClient.tally.packets > enBefore.packets + 100, 5000, 'en goes on after the handover');
  const enAfter = enClient.tally.snapshot();
  console.log(`ok handover done: first live=${first.live}, second live on ${took.direction}; en ${enBefore.packets} -> ${enAfter.packets} packets, gaps ${enBefore.gaps} -> ${enAfter.gaps}, discont ${enBefore.discontAfterFirst} -> ${enAfter.discontAfterFirst}`);
  check(enAfter.gaps === 0, `no seq gap on en across the handover: ${JSON.stringify(enAfter)}`);
  // The partner's stream ran on from before the switch: not one DISCONT
  // from the page at the handover. (The plugin adds its own after any
  // 3-packet pause in arrivals, which a busy machine makes now and then:
  // logged, not judged here.)
  const after2 = await b2();
  check(after2.discontSent === pending.discontSent, `no DISCONT sent by the new live page: ${pending.discontSent} -> ${after2.discontSent}`);
  console.log(`en DISCONT after arrival gaps of (ms): ${enDiscont.map((d) => d.gap).join(' ')} (${enDiscont.filter((d) => d.at >= acceptAt).length} since the handover)`);

  // Spanish by keyboard on the first booth page.
  await tabTo(booth, 'the Spanish switch', (e) => e.lang === 'es');
  await booth.keyboard.press('Enter');
  const es = await booth.evaluate(() => ({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1').textContent,
    live: document.getElementById('live').textContent,
    keys: document.getElementById('live').getAttribute('aria-keyshortcuts'),
    stored: localStorage.getItem('puente.lang'),
  }));
  check(es.lang === 'es' && es.h1 === 'Cabina de interpretación' && es.live === 'Salir en directo', `Spanish: ${JSON.stringify(es)}`);
  check(es.keys === 'L' && es.stored === 'es', `shortcut attribute and stored language: ${JSON.stringify(es)}`);
  console.log(`ok Spanish: ${JSON.stringify(es)}`);

  await booth.waitForTimeout(800);
  await screenshot(booth, 'browser_booth');
  await screenshot(booth2, 'browser_booth_live');
  await axeCheck(booth, 'the booth page (partner, Spanish)');
  await axeCheck(booth2, 'the booth page (live)');
  await axeCheck(lp, 'the listener page with the plugin');

  // Release (L): en falls silent; the listener falls back to the floor.
  await booth2.keyboard.press('l');
  await waitFor(async () => !(await b2()).live, 3000, 'released');
  await waitFor(async () => {
    const s = await ls();
    return s.channel === 'floor' && s.reason === 'no_interpreter';
  }, 5000, 'listener moved to the floor');
  const fallback = await lp.evaluate(() => document.getElementById('reason').textContent);
  check(/No interpreter is live on English: you hear the floor/.test(fallback), `fallback reason: "${fallback}"`);
  console.log(`ok released: listener on the floor, "${fallback}"`);

  const problems = [...booth.problems, ...booth2.problems, ...lp.problems];
  check(problems.length === 0, `browser errors:\n  ${problems.join('\n  ')}`);
  enClient.ws.close();
  await close();
});
