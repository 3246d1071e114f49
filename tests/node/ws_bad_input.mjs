// Hostile and malformed WebSocket input (RELIABILITY rows 4-7, 18, 20):
// every case gets its documented answer, and a healthy listener subscribed
// throughout keeps receiving the floor without a single seq gap.

import {
  FLAG_DISCONT,
  MAX_FRAGMENTS,
  MAX_MESSAGE,
  OP_TEXT,
  check,
  frame,
  listener,
  need,
  options,
  rawConnect,
  run,
  sleep,
  startRelay,
  stopCleanly,
  waitFor,
  withTimeout,
} from './relay.mjs';

run('ws_bad_input', 90000, async () => {
  const opt = options();
  const { WebSocket } = await need('ws');
  const relay = await startRelay({ ...opt, args: ['--tone'] });

  const healthy = await listener(WebSocket, relay.ws, 'floor');
  await waitFor(() => healthy.tally.packets >= 10, 5000, 'first audio on the healthy listener');
  check(healthy.tally.firstFlags & FLAG_DISCONT, 'the first packet after core.subscribe is flagged DISCONT');
  const start = healthy.tally.snapshot();

  // Each case runs on its own connection so one case's fate cannot mask
  // another's; expectClose bounds how long a close may take.
  async function expectClose(l, code, what, ms = 5000) {
    const c = await withTimeout(l.closed, ms, `close after ${what}`);
    check(c.code === code, `${what}: close code ${c.code} (${c.reason}), expected ${code}`);
    console.log(`ok ${what}: closed ${c.code} "${c.reason}"`);
  }

  async function expectError(l, code, what) {
    const e = await l.next('core.error');
    check(e.code === code, `${what}: error code ${JSON.stringify(e.code)}, expected ${code}`);
    check(typeof e.message === 'string' && e.message.length > 0, `${what}: error has a message`);
    await expectAlive(l, what);
    console.log(`ok ${what}: core.error ${e.code} "${e.message}"${e.ref ? ` ref ${e.ref}` : ''}`);
  }

  // The connection must still answer after an error reply.
  async function expectAlive(l, what) {
    const id = `alive-${Math.random()}`;
    l.send({ type: 'core.ping', id });
    const p = await l.next('core.pong');
    check(p.id === id, `${what}: pong echoes the id`);
    check(!l.close, `${what}: connection still open`);
  }

  // (a) a listener may not send audio
  {
    const l = await listener(WebSocket, relay.ws, null);
    const pkt = Buffer.alloc(16 + 3);
    pkt.set([1, 1, 0, 0]);
    pkt.set([0xf8, 0xff, 0xfe], 16); // a plausible Opus packet
    l.ws.send(pkt, { binary: true });
    await expectClose(l, 1008, '(a) binary frame from a listener');
  }

  // (b) the message cap: exactly MAX_MESSAGE is fine, one byte more is 1009
  {
    const l = await listener(WebSocket, relay.ws, null);
    const pad = (n) => {
      const base = JSON.stringify({ type: 'core.ping', id: '' });
      return JSON.stringify({ type: 'core.ping', id: 'x'.repeat(n - base.length) });
    };
    const exact = pad(MAX_MESSAGE);
    check(Buffer.byteLength(exact) === MAX_MESSAGE, 'padding arithmetic');
    l.send(exact);
    const pong = await l.next('core.pong');
    check(pong.id === JSON.parse(exact).id, `(b) pong for the ${MAX_MESSAGE}-byte message`);
    console.log(`ok (b) a ${MAX_MESSAGE}-byte message is accepted`);
    l.send(pad(MAX_MESSAGE + 1));
    await expectClose(l, 1009, `(b) a ${MAX_MESSAGE + 1}-byte text message`);
  }

  // (c) a header announcing 2^62 bytes, then 4 bytes: rejected at once, not
  // left waiting for data that will never come. Our close reply would be
  // read as more of the endless payload, so the relay can only end the TCP
  // connection by its own close timeout: allow it a few seconds.
  {
    const c = await rawConnect(relay.port);
    const t0 = Date.now();
    c.send(OP_TEXT, Buffer.from('{"ty'), { length: 2n ** 62n });
    await waitFor(() => c.close || c.ended, 2000, '(c) close frame after a 2^62-byte header');
    const closeMs = Date.now() - t0;
    check(c.close && c.close.code === 1009, `(c) close frame ${JSON.stringify(c.close)}, expected 1009`);
    await withTimeout(c.ended_, 10000, '(c) connection end after a 2^62-byte header');
    const endMs = Date.now() - t0;
    console.log(`ok (c) 2^62-byte header: close ${c.close.code} after ${closeMs} ms, TCP ended after ${endMs} ms`);
  }

  // (d) malformed JSON of several shapes: error reply, connection stays
  for (const [text, what] of [
    ['{"type":', 'truncated JSON'],
    ['not json at all', 'not JSON'],
    ['[1,2,3]', 'an array'],
    ['{"type":42}', 'a non-string type'],
    ['"core.ping"', 'a bare string'],
    ['['.repeat(5000), '5000 nested ['],
  ]) {
    const l = await listener(WebSocket, relay.ws, null);
    l.send(text);
    await expectError(l, 'bad_json', `(d) ${what}`);
    l.ws.close();
  }

  // (e) an unknown type, in core's and in an unknown namespace
  {
    const l = await listener(WebSocket, relay.ws, null);
    l.send({ type: 'core.frobnicate' });
    await expectError(l, 'unknown_type', '(e) core.frobnicate');
    l.send({ type: 'nosuchplugin.verb' });
    await expectError(l, 'unknown_type', '(e) nosuchplugin.verb');
    l.ws.close();
  }

  // (f) a channel that does not exist; a hostile name gets the same answer
  {
    const l = await listener(WebSocket, relay.ws, null);
    l.send({ type: 'core.subscribe', channel: 'klingon' });
    await expectError(l, 'unknown_channel', '(f) subscribe klingon');
    l.send({ type: 'core.subscribe', channel: '<img src=x onerror=alert(1)>' });
    await expectError(l, 'unknown_channel', '(f) subscribe <img ...>');
    l.ws.close();
  }

  // (f') fields of the wrong shape
  {
    const l = await listener(WebSocket, relay.ws, null);
    l.send({ type: 'core.subscribe' });
    await expectError(l, 'bad_field', "(f') subscribe without a channel");
    l.send({ type: 'core.subscribe', channel: ['floor'] });
    await expectError(l, 'bad_field', "(f') subscribe with an array channel");
    l.ws.close();
  }

  // (g) fragments: MAX_FRAGMENTS is fine, one more is 1008
  {
    const l = await listener(WebSocket, relay.ws, null);
    const sendFragmented = (n) => {
      const text = JSON.stringify({ type: 'core.ping', id: 'f'.repeat(2 * n) });
      const cut = (i) => Math.floor((i * text.length) / n);
      for (let i = 0; i < n; i++) l.ws.send(text.slice(cut(i), cut(i + 1)), { fin: i === n - 1 });
    };
    sendFragmented(MAX_FRAGMENTS);
    await l.next('core.pong');
    console.log(`ok (g) a message in ${MAX_FRAGMENTS} fragments is accepted`);
    sendFragmented(MAX_FRAGMENTS + 1);
    await expectClose(l, 1008, `(g) a message in ${MAX_FRAGMENTS + 1} fragments`);
  }

  // (g') never-final fragments must not be buffered without bound
  {
    const l = await listener(WebSocket, relay.ws, null);
    for (let i = 0; i < 1000 && !l.close; i++) l.ws.send('x', { fin: false });
    await expectClose(l, 1008, "(g') 1000 never-final fragments");
  }

  // (h) invalid UTF-8: an invalid byte, an overlong '/', a lone surrogate
  for (const [bytes, what] of [
    [[0x7b, 0xff, 0xfe, 0x7d], '0xff 0xfe'],
    [[0x22, 0xc0, 0xaf, 0x22], 'overlong /'],
    [[0x22, 0xed, 0xa0, 0x80, 0x22], 'surrogate U+D800'],
  ]) {
    const l = await listener(WebSocket, relay.ws, null);
    l.ws.send(Buffer.from(bytes), { binary: false });
    await expectClose(l, 1007, `(h) invalid UTF-8 (${what})`);
  }
  // ... and a sequence cut by a fragment boundary, invalid only once whole
  {
    const l = await listener(WebSocket, relay.ws, null);
    l.ws.send(Buffer.from([0x22, 0xe2, 0x82]), { binary: false, fin: false });
    l.ws.send(Buffer.from([0x28, 0x22]), { binary: false, fin: true });
    await expectClose(l, 1007, '(h) invalid UTF-8 split across fragments');
  }

  // (i) a flood of control messages: the first 20 are served, the rest are
  // refused with rate_limited, every one is answered, and the connection
  // stays usable once the bucket refills
  {
    const l = await listener(WebSocket, relay.ws, null);
    await sleep(1000); // the welcome and hello spent tokens: let them come back
    const n = 30;
    for (let i = 0; i < n; i++) l.send({ type: 'core.ping', id: i });
    let pongs = 0;
    let limited = 0;
    while (pongs + limited < n) {
      const m = await l.next();
      if (m.type === 'core.pong') pongs++;
      else if (m.type === 'core.error' && m.code === 'rate_limited') limited++;
      else throw new Error(`(i) unexpected ${JSON.stringify(m)}`);
    }
    check(pongs >= 20 && limited >= 1, `(i) ${pongs} pongs and ${limited} rate_limited for ${n} pings`);
    await sleep(1000);
    await expectAlive(l, '(i) after the flood');
    console.log(`ok (i) ${n} pings at once: ${pongs} pongs, ${limited} rate_limited, then served again`);
    l.ws.close();
  }

  // (j) a role that does not exist, and a namespace no plugin owns
  {
    const l = await listener(WebSocket, relay.ws, null);
    l.send({ type: 'core.hello', role: 'superuser' });
    await expectError(l, 'bad_field', '(j) hello as superuser');
    l.send({ type: 'nosuchplugin.do', x: 1 });
    await expectError(l, 'unknown_type', '(j) nosuchplugin.do');
    l.ws.close();
  }

  // The healthy listener heard everything, in order, and still does.
  const before = healthy.tally.packets;
  await sleep(1000);
  const end = healthy.tally.snapshot();
  const secs = (end.at - start.at) / 1000;
  const rate = (end.packets - start.packets) / secs;
  console.log(
    `healthy listener: ${end.packets} packets, ${rate.toFixed(1)}/s over ${secs.toFixed(1)} s, ` +
      `gaps ${end.gaps}, DISCONT after first ${end.discontAfterFirst}`,
  );
  check(!healthy.close, `healthy listener still connected (${JSON.stringify(healthy.close)})`);
  check(end.packets - before >= 40, `healthy listener still receiving (${end.packets - before} in the last second)`);
  check(end.gaps === 0, `healthy listener: ${end.gaps} seq gaps`);
  check(end.discontAfterFirst === 0, `healthy listener: ${end.discontAfterFirst} DISCONT after the first packet`);
  check(rate >= 45, `healthy listener rate ${rate.toFixed(1)}/s, expected ~50`);
  const clock = await healthy.next('core.clock', 6000);
  check(Number.isInteger(clock.media_time) && Number.isInteger(clock.unix_us), `core.clock ${JSON.stringify(clock)}`);
  check(relay.exit === null, 'relay still running');
  const res = await fetch(relay.http);
  check(res.ok, `relay still serves / (${res.status})`);
  await res.arrayBuffer();
  // Under the ASan build this is where memory errors on the paths above
  // would show.
  await stopCleanly(relay);
});
