// The browser mouth-to-ear measurement (tools/bench/mouth-to-ear.mjs), run
// short: 5 clicks at 20 ms frames through a private JACK server, the relay
// and the listener page in headless Chromium. Asserts only that the
// measurement is sound: every click heard exactly once, nothing heard that
// was not played, delays positive and finite, the click's level intact.
// One exception: a click the page's jitter buffer threw away to bound its
// delay (it does so on a starved machine) was never played, so it cannot
// be heard; it is reported, and at least 3 of the 5 must still be heard.
// How long the delay is belongs to the README ("Browser mouth-to-ear
// delay"), never to a test.

import path from 'node:path';

import { check, options, run } from './relay.mjs';
import { measure, summaryLine, validity } from '../../tools/bench/mouth-to-ear.mjs';

const argv = process.argv.slice(2);
const at = argv.indexOf('--clicker');
const clicker = at >= 0 ? argv.splice(at, 2)[1] : null;

run('browser_m2e', 150000, async () => {
  const opt = options(argv);
  const f = await measure({
    relay: opt.relay,
    webRoot: opt.webRoot,
    clicker: clicker || path.join(path.dirname(path.dirname(path.resolve(opt.relay))), 'tools/puente-m2e-click'),
    frameMs: 20,
    clicks: 5,
    intervalMs: 1000,
    jackPeriod: 256,
    log: (s) => console.log(s),
  });
  console.log(summaryLine(f));
  check(f.clicks === 5, `5 clicks played (${f.clicks})`);
  check(f.extra === 0, `no false or double detection (${f.extra})`);
  check(f.missed === f.missedInDrops, `no click missed but those the buffer dropped (${f.missed} missed, ${f.missedInDrops} in drops)`);
  if (f.missed) console.log(`note: ${f.missed} click(s) dropped by the page's jitter buffer (${f.droppedMs} ms dropped)`);
  check(f.detected >= 3 && f.detected + f.missed === 5, `clicks heard once each: ${f.detected} of 5`);
  check(validity(f).length === 0, `a valid measurement: ${validity(f).join('; ')}`);
  for (const d of f.delays) check(Number.isFinite(d) && d > 0, `delay ${d} ms is positive and finite`);
  // The detector fires at half the click's peak: a peak well above that
  // shows it heard the click itself, not codec noise near the threshold.
  check(f.peakMin > 0.35, `quietest click heard at peak ${f.peakMin.toFixed(3)} (played at 0.501)`);
  // The page's two readings of the host clock agree, or the delays mean nothing.
  check(Math.abs(f.clockSkewMs) < 5, `Date.now() and timeOrigin + performance.now() agree (${f.clockSkewMs} ms)`);
  check(Number.isFinite(f.jbTarget) && f.jbTarget > 0, `the jitter buffer reported its target (${f.jbTarget} ms)`);
});
