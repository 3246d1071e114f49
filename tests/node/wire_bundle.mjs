// The pages' wire.js on bundles (include/puente/protocol.h), with neither
// relay nor npm: packetsOf() splits bundles of 1 to 3 packets into packets
// that parseHeader() reads as if each had come alone, passes a plain packet
// through as it is, and hands back every malformed bundle whole, so that
// parseHeader() refuses it as it refuses a bad packet. The malformed shapes
// are those of tests/unit/test_protocol.c.

import { FLAG_DISCONT, HEADER_LEN, MAX_OPUS, packFrame, packetsOf, parseHeader } from '../../core/web/lib/wire.js';
import { check, run } from './relay.mjs';

const MAX_FRAME = HEADER_LEN + MAX_OPUS;

// A packet on channel 1: seq, media time seq * 960, payloadLen bytes of seq.
function packet(seq, payloadLen = 3, flags = 0) {
  return packFrame(1, flags, seq, seq * 960, new Uint8Array(payloadLen).fill(seq & 0xff));
}

// A bundle: prefix {1, 2, count, reserved}, then each item with its length.
function bundle(items, { count = items.length, version = 1, kind = 2, reserved = 0 } = {}) {
  const parts = [Uint8Array.of(version, kind, count, reserved)];
  for (const it of items) parts.push(Uint8Array.of(it.byteLength >> 8, it.byteLength & 0xff), it);
  return concat(parts);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  // A buffer of its own, as a WebSocket's binaryType 'arraybuffer' gives.
  return out.buffer;
}

// What a page does with one binary message: the headers it accepts, and how
// many messages or packets it refused.
function receive(buf) {
  const heard = [];
  let refused = 0;
  for (const p of packetsOf(buf)) {
    const h = parseHeader(p);
    if (h) heard.push({ ...h, payload: new Uint8Array(p, HEADER_LEN) });
    else refused++;
  }
  return { heard, refused };
}

function refusedWhole(buf, what) {
  const got = packetsOf(buf);
  check(got.length === 1 && got[0] === buf, `${what}: handed back whole`);
  check(receive(buf).refused === 1 && receive(buf).heard.length === 0, `${what}: refused once`);
}

run('wire_bundle', 10000, () => {
  // A plain packet is its own, untouched.
  {
    const p = packet(7).buffer;
    const got = packetsOf(p);
    check(got.length === 1 && got[0] === p, 'a packet passes as it is');
    check(parseHeader(got[0]).seq === 7, 'and parses');
  }

  // Bundles of 1, 2 and 3, with packets of several sizes and flags.
  for (const count of [1, 2, 3]) {
    for (const size of [1, 160, MAX_OPUS]) {
      const items = [];
      for (let i = 0; i < count; i++) items.push(packet(100 + i, size, i === 1 ? FLAG_DISCONT : 0));
      const { heard, refused } = receive(bundle(items));
      check(refused === 0 && heard.length === count, `bundle of ${count} x ${size}: ${heard.length} packets`);
      heard.forEach((h, i) => {
        check(h.seq === 100 + i && h.mediaTime === (100 + i) * 960 && h.channel === 1, `bundle of ${count}: item ${i} header`);
        check(h.flags === (i === 1 ? FLAG_DISCONT : 0), `bundle of ${count}: item ${i} flags`);
        check(h.payload.byteLength === size && h.payload.every((b) => b === 100 + i), `bundle of ${count}: item ${i} payload`);
      });
    }
  }
  {
    const items = [packet(1, MAX_OPUS), packet(2, MAX_OPUS), packet(3, MAX_OPUS)];
    check(receive(bundle(items)).heard.length === 3, 'the largest bundle');
  }
  // A bare header is a well-formed item; the packet path decides about it.
  {
    const got = packetsOf(bundle([packet(5, 0), packet(6)]));
    check(got.length === 2 && got[0].byteLength === HEADER_LEN, 'a header-only item is split out');
    check(parseHeader(got[0]) === null && parseHeader(got[1]).seq === 6, '... and refused by parseHeader alone');
  }
  // An item that is not a packet (a nested bundle) is refused by itself.
  {
    const inner = new Uint8Array(bundle([packet(1)]));
    const { heard, refused } = receive(bundle([packet(1), inner, packet(2)]));
    check(heard.length === 2 && refused === 1, 'a nested bundle is one refused item');
  }

  // Malformed bundles.
  const two = [packet(1, 40), packet(2, 40)];
  const good = new Uint8Array(bundle(two));
  for (let n = 0; n < 4; n++) refusedWhole(good.slice(0, n).buffer, `short prefix (${n} bytes)`);
  refusedWhole(bundle(two, { version: 0 }), 'version 0');
  refusedWhole(bundle(two, { version: 2 }), 'version 2');
  refusedWhole(bundle(two, { kind: 3 }), 'kind 3');
  refusedWhole(bundle(two, { count: 0 }), 'count 0');
  refusedWhole(bundle([...two, packet(3), packet(4)], { count: 4 }), 'count 4');
  refusedWhole(bundle(two, { reserved: 1 }), 'reserved 1');
  refusedWhole(concat([Uint8Array.of(1, 2, 1, 0, 0, 15), new Uint8Array(15)]), 'an item of 15 bytes');
  refusedWhole(concat([Uint8Array.of(1, 2, 1, 0, 0, 0)]), 'an item of 0 bytes');
  refusedWhole(bundle([packet(1, MAX_OPUS + 1)]), `an item of ${MAX_FRAME + 1} bytes`);
  refusedWhole(good.slice(0, good.length - 1).buffer, 'an item running past the end');
  refusedWhole(concat([Uint8Array.of(1, 2, 1, 0, 0xff, 0xff), packet(1)]), 'a length of 65535');
  refusedWhole(concat([good, Uint8Array.of(0)]), 'one trailing byte');
  refusedWhole(concat([good, Uint8Array.of(0, 0)]), 'two trailing bytes');
  refusedWhole(concat([good, Uint8Array.of(0, 20), packet(9, 4)]), 'an item more than the count');
  refusedWhole(bundle(two, { count: 3 }), 'count 3 over 2 items');
  refusedWhole(bundle(two, { count: 1 }), 'count 1 over 2 items');
  refusedWhole(concat([Uint8Array.of(1, 2, 1, 0)]), 'a prefix alone');
  console.log('ok plain packets, bundles of 1..3, and every malformed bundle refused whole');
});
