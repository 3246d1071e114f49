// Levels for <meter> elements: RMS from an AnalyserNode, shown in dBFS over
// a 60 dB range (speech lives far below 1.0 RMS), with a spoken value.

import { t } from '../i18n.js';

export function makeAnalyser(ctx) {
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  analyser.levelBuf = new Float32Array(analyser.fftSize);
  return analyser;
}

// RMS of the analyser's latest window.
export function rmsOf(analyser) {
  const buf = analyser.levelBuf;
  analyser.getFloatTimeDomainData(buf);
  let sum = 0;
  for (const x of buf) sum += x * x;
  return Math.sqrt(sum / buf.length);
}

export function showLevel(meter, rms) {
  meter.dataset.level = rms.toFixed(4);
  const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
  meter.value = Math.max(0, 1 + db / 60);
  meter.setAttribute('aria-valuetext', db > -60 ? t('level_text', { db: db.toFixed(0) }) : t('level_silent'));
}
