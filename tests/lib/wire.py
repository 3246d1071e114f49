"""The relay's binary messages for the Python tests, as include/puente/protocol.h
lays them out: packets (a 16-byte header, then one Opus packet) and bundles
(several packets of one channel in one message). A listener must take both at
any time, so every test client passes each binary message through
packets_of() and each packet through parse_header().
"""

import struct

HEADER_LEN = 16
MAX_OPUS = 1500
MAX_FRAME = HEADER_LEN + MAX_OPUS
KIND_OPUS, KIND_BUNDLE = 1, 2
MAX_BUNDLE = 3
BUNDLE_PREFIX, BUNDLE_ITEM = 4, 2


def packet(seq, media_time, payload, flags=0, channel=0, version=1, kind=KIND_OPUS):
    """One packet message."""
    return struct.pack("!BBBBIQ", version, kind, channel, flags, seq, media_time) + payload


def bundle(items, count=None, version=1, kind=KIND_BUNDLE, reserved=0):
    """A bundle of the packet messages in items; count, version, kind and
    reserved may be set to anything, to make malformed ones."""
    out = struct.pack("!BBBB", version, kind, len(items) if count is None else count, reserved)
    for it in items:
        out += struct.pack("!H", len(it)) + it
    return out


def packets_of(msg):
    """The packets of one binary message: a well-formed bundle's one by one;
    anything else, a malformed bundle included, as it is, so that
    parse_header() refuses what is not a packet (puente_bundle_check)."""
    if (len(msg) < BUNDLE_PREFIX or msg[0] != 1 or msg[1] != KIND_BUNDLE
            or not 1 <= msg[2] <= MAX_BUNDLE or msg[3] != 0):
        return [msg]
    items, off = [], BUNDLE_PREFIX
    while off < len(msg) and len(items) < msg[2]:
        if len(msg) - off < BUNDLE_ITEM:
            return [msg]
        n = struct.unpack_from("!H", msg, off)[0]
        if n < HEADER_LEN or n > MAX_FRAME or len(msg) - off - BUNDLE_ITEM < n:
            return [msg]
        items.append(bytes(msg[off + BUNDLE_ITEM:off + BUNDLE_ITEM + n]))
        off += BUNDLE_ITEM + n
    return items if off == len(msg) and len(items) == msg[2] else [msg]


def parse_header(pkt):
    """(channel, flags, seq, media_time, payload) of a packet with a payload,
    or None (puente_header_parse, and a packet carries 1..MAX_OPUS bytes)."""
    if len(pkt) <= HEADER_LEN or len(pkt) > MAX_FRAME or pkt[0] != 1 or pkt[1] != KIND_OPUS:
        return None
    _, _, channel, flags, seq, mt = struct.unpack_from("!BBBBIQ", pkt)
    return channel, flags, seq, mt, bytes(pkt[HEADER_LEN:])
