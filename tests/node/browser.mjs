// Shared pieces of the headless Chromium tests (TESTING.md has the recipe):
// launching the browser (optionally with a WAV file as its microphone),
// collecting page errors, keyboard navigation with a visible-focus check,
// axe-core, screenshots, and a speech file made with espeak-ng and sox.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { HERE, REPO, check, onCleanup, tempDir } from './relay.mjs';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

// A persistent context in a fresh profile, closed at cleanup (before the
// relay, when registered after it). opts.micWav: a WAV file the fake
// microphone plays (looped), granted without a prompt.
export async function launch(chromium, opts = {}) {
  const args = [...CHROMIUM_ARGS];
  if (opts.micWav) {
    args.push(
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${opts.micWav}`,
    );
  }
  const context = await chromium.launchPersistentContext(tempDir('puente-chromium-'), {
    executablePath: process.env.PUENTE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    locale: opts.locale || 'en-US',
    ignoreDefaultArgs: ['--mute-audio'],
    args,
  });
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await context.close();
    }
  };
  onCleanup(close);
  return { context, close };
}

// A new page whose errors (uncaught exceptions, console errors other than
// the favicon nobody serves) are collected in page.problems.
export async function newPage(context, name) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.location().url || '')) page.problems.push(`${name}: console: ${m.text()}`);
  });
  return page;
}

// Presses key until the focused element satisfies pred (at most 25 times),
// and checks that the focus is visible there. Returns what has the focus.
export async function tabTo(page, what, pred, key = 'Tab') {
  let f;
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press(key);
    f = await page.evaluate(() => {
      const el = document.activeElement;
      return {
        id: el.id,
        value: el.value,
        name: el.name,
        tag: el.tagName.toLowerCase(),
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

// axe-core through the DevTools protocol (a <script> tag would be refused
// by the page's CSP). Fails on serious or critical violations.
export async function axeCheck(page, what) {
  const source = readFileSync(path.join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of axe.violations) {
    console.log(`axe ${what} ${v.impact}: ${v.id} (${v.nodes.length} nodes): ${v.help}`);
  }
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(serious.length === 0, `axe-core on ${what}: ${serious.length} serious or critical violations`);
  console.log(`ok axe-core on ${what}: ${axe.violations.length} violations, none serious or critical`);
  return axe.violations;
}

export async function screenshot(page, name) {
  mkdirSync(path.join(REPO, 'tests/artifacts'), { recursive: true });
  const file = path.join(REPO, 'tests/artifacts', `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}

function runTool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}): the set-up script installs it`);
  check(r.status === 0, `${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

// English speech, 48 kHz mono 16-bit, with short pauses, in dir: a stand-in
// for an interpreter's voice (TESTING.md "Speech and signals").
export function speechWav(dir, text) {
  const raw = path.join(dir, 'speech22.wav');
  const wav = path.join(dir, 'speech.wav');
  runTool('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', raw, text]);
  runTool('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', wav, 'pad', '0.2', '0.2']);
  return wav;
}

// The CSP header of a page, checked to be strict for scripts and styles.
export async function checkCsp(url) {
  const res = await fetch(url);
  const csp = res.headers.get('content-security-policy') || '';
  await res.arrayBuffer();
  check(res.ok, `GET ${url} answered ${res.status}`);
  const scripts = /script-src ([^;]*)/.exec(csp) || /default-src ([^;]*)/.exec(csp);
  const styles = /style-src ([^;]*)/.exec(csp) || /default-src ([^;]*)/.exec(csp);
  check(scripts && !/unsafe-inline|unsafe-eval|\*/.test(scripts[1]), `a strict script CSP on ${url} (got "${csp}")`);
  check(styles && !/unsafe-inline|\*/.test(styles[1]), `a strict style CSP on ${url} (got "${csp}")`);
  // Personal links must not leak to other sites through the Referer header.
  check(res.headers.get('referrer-policy') === 'no-referrer', `Referrer-Policy: no-referrer on ${url}`);
  return csp;
}
