// Parses the captions plugin's archive back with independent parsers and
// checks it against what the writer (write_files.c) sent:
//   WebVTT: webvtt-parser (the W3C's validator: no error at all allowed),
//           and subtitle's parser;
//   SubRip: subtitle and srt-parser-2.
// Each must give the same number of cues, the same times (ms), the same text,
// and start times that never go back.
//
//   node parse_back.mjs OUT_DIR     (OUT_DIR/expected.json, OUT_DIR/archive/<lang>.{vtt,srt})
//
// Dependencies come from package-lock.json beside this file: `npm ci` here.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function need(name) {
  try {
    return require(name);
  } catch (e) {
    console.error(`parse_back: cannot load ${name} (${e.code || e.message}).`);
    console.error(`Run \`npm ci\` in ${here} (tools/dev deps does it).`);
    process.exit(1);
  }
}

const { WebVTTParser } = need('webvtt-parser');
// The full entity table: the parser's default subset mis-decodes "&gt;" as ">;".
const entities = need('webvtt-parser/html-entities.json');
const subtitle = need('subtitle');
const SrtParser = need('srt-parser-2').default;

const out = process.argv[2];
if (!out) {
  console.error('usage: node parse_back.mjs OUT_DIR');
  process.exit(2);
}
const expected = JSON.parse(readFileSync(join(out, 'expected.json'), 'utf8'));

let failures = 0;
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}`);
  }
}
const show = (s) => JSON.stringify(s);

// subtitle 4.2.2 reads any line that starts with "NOTE" as the start of a
// WebVTT comment, even inside a cue and even in SubRip, where the WebVTT
// spec (and srt-parser-2) keep it as cue text; its cue is cut there.
const noteQuirk = (text) => /(^|\n)NOTE/.test(text);

// Compares parsed cues [{start, end, text}] (ms) with the expected ones.
function compare(label, got, want, textKey, quirk) {
  check(got.length === want.length, `${label}: ${got.length} cues, expected ${want.length}`);
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i];
    const w = want[i];
    check(g.start === w.start_ms, `${label} cue ${i + 1}: start ${g.start}, expected ${w.start_ms}`);
    check(g.end === w.end_ms, `${label} cue ${i + 1}: end ${g.end}, expected ${w.end_ms}`);
    if (quirk && quirk(w[textKey]))
      check(w[textKey].startsWith(g.text), `${label} cue ${i + 1}: text ${show(g.text)}`);
    else
      check(g.text === w[textKey], `${label} cue ${i + 1}: text ${show(g.text)}, expected ${show(w[textKey])}`);
    if (i > 0)
      check(g.start >= got[i - 1].start, `${label} cue ${i + 1}: starts before cue ${i}`);
  }
}

// The text a WebVTT cue shows: its text nodes, entities decoded; any markup node is a failure.
function vttText(label, nodes) {
  let s = '';
  for (const n of nodes) {
    if (n.type === 'text') s += n.value;
    else check(false, `${label}: markup node ${show(n.name || n.type)} in cue text`);
  }
  return s;
}

for (const [lang, want] of Object.entries(expected)) {
  const vtt = readFileSync(join(out, 'archive', `${lang}.vtt`), 'utf8');
  const srt = readFileSync(join(out, 'archive', `${lang}.srt`), 'utf8');

  // WebVTT, the validator.
  const tree = new WebVTTParser(entities).parse(vtt);
  for (const e of tree.errors)
    check(false, `${lang}.vtt line ${e.line}: ${e.message}`);
  compare(`${lang}.vtt (webvtt-parser)`, tree.cues.map((c) => ({
    start: Math.round(c.startTime * 1000),
    end: Math.round(c.endTime * 1000),
    text: vttText(`${lang}.vtt`, c.tree.children),
  })), want, 'vtt');

  // Both formats through subtitle (it keeps WebVTT text as written: decode the three escapes).
  const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const cuesOf = (text) => subtitle.parseSync(text).filter((n) => n.type === 'cue').map((n) => n.data);
  compare(`${lang}.vtt (subtitle)`, cuesOf(vtt).map((d) => ({ start: d.start, end: d.end, text: unescape(d.text) })),
    want, 'vtt', noteQuirk);
  compare(`${lang}.srt (subtitle)`, cuesOf(srt).map((d) => ({ start: d.start, end: d.end, text: d.text })),
    want, 'srt', noteQuirk);

  // SubRip through srt-parser-2, which also gives the cue numbers.
  const items = new SrtParser().fromSrt(srt);
  compare(`${lang}.srt (srt-parser-2)`, items.map((c) => ({
    start: Math.round(c.startSeconds * 1000),
    end: Math.round(c.endSeconds * 1000),
    text: c.text,
  })), want, 'srt');
  items.forEach((c, i) => check(c.id === String(i + 1), `${lang}.srt cue ${i + 1}: number ${show(c.id)}`));

  console.log(`${lang}: ${want.length} cues, WebVTT and SubRip parsed back`);
}

console.log(`${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
