/*
 * puente wire protocol, version 1: constants and the binary frame header,
 * shared by the relay, the tools, the tests and (by hand) the browser code.
 *
 * One WebSocket endpoint (path "/ws", subprotocol "puente.v1").
 * Binary messages carry one Opus packet behind a fixed 16-byte header in
 * network byte order:
 *
 *   offset size field
 *   0      1    version     PUENTE_PROTO_VERSION
 *   1      1    kind        PUENTE_KIND_*
 *   2      1    channel     index into the room's channel list (welcome)
 *   3      1    flags       PUENTE_FLAG_*
 *   4      4    seq         per channel, +1 per packet, wraps
 *   8      8    media_time  first sample, 48 kHz samples on the room clock
 *   16     ...  payload     one Opus packet, 1..PUENTE_MAX_OPUS bytes
 *
 * A listener may also receive bundles: several consecutive packets of one
 * channel in one binary message, which costs the relay one send instead of
 * several (see "bundle" in core.hello). A bundle is
 *
 *   offset size field
 *   0      1    version     PUENTE_PROTO_VERSION
 *   1      1    kind        PUENTE_KIND_BUNDLE
 *   2      1    count       packets that follow, 1..PUENTE_MAX_BUNDLE
 *   3      1    reserved    0
 *   4      ...  count items, each a 2-byte length L (network byte order)
 *               followed by L bytes of an ordinary packet message (the
 *               16-byte header above, then its Opus packet)
 *
 * Text messages are JSON objects {"type": "<ns>.<verb>", ...}; README.md
 * ("Wire protocol") lists every message.
 */
#ifndef PUENTE_PROTOCOL_H
#define PUENTE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUENTE_PROTO_VERSION  1
#define PUENTE_WS_PATH        "/ws"
#define PUENTE_WS_SUBPROTOCOL "puente.v1"

#define PUENTE_SAMPLE_RATE 48000
#define PUENTE_HEADER_LEN  16
/* Policy cap on one Opus packet (RFC 6716 allows 1275 per frame). */
#define PUENTE_MAX_OPUS  1500
#define PUENTE_MAX_FRAME (PUENTE_HEADER_LEN + PUENTE_MAX_OPUS)
/* Largest JSON control message accepted; bigger ones are closed with 1009. */
#define PUENTE_MAX_MESSAGE 16384
/* Fragments per message; more are closed with 1008. */
#define PUENTE_MAX_FRAGMENTS 64
#define PUENTE_MAX_CHANNELS  32

enum puente_kind {
	PUENTE_KIND_OPUS = 1,
	PUENTE_KIND_BUNDLE = 2,
};

#define PUENTE_BUNDLE_PREFIX 4
#define PUENTE_BUNDLE_ITEM   2 /* length bytes before each packet */
#define PUENTE_MAX_BUNDLE    3
#define PUENTE_MAX_BUNDLE_MESSAGE                                                                  \
	(PUENTE_BUNDLE_PREFIX + PUENTE_MAX_BUNDLE * (PUENTE_BUNDLE_ITEM + PUENTE_MAX_FRAME))

enum puente_flag {
	/* Packets were skipped before this one (lapped reader, channel switch). */
	PUENTE_FLAG_DISCONT = 0x01,
	/* The source is lost or idle: the packet encodes silence. */
	PUENTE_FLAG_SILENCE = 0x02,
};

/* WebSocket close codes the relay uses (RFC 6455 section 7.4.1). */
enum puente_close {
	PUENTE_CLOSE_GOING_AWAY = 1001,
	PUENTE_CLOSE_PROTOCOL = 1002,
	PUENTE_CLOSE_BAD_DATA = 1007,
	PUENTE_CLOSE_POLICY = 1008,
	PUENTE_CLOSE_TOO_BIG = 1009,
	PUENTE_CLOSE_INTERNAL = 1011,
	PUENTE_CLOSE_REVOKED = 4403,    /* the invitation was revoked while connected */
	PUENTE_CLOSE_TAKEN_OVER = 4409, /* the same link was opened on another device */
};

struct puente_header {
	uint8_t version;
	uint8_t kind;
	uint8_t channel;
	uint8_t flags;
	uint32_t seq;
	uint64_t media_time;
};

static inline void puente_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t puente_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Writes PUENTE_HEADER_LEN bytes at out. */
static inline void puente_header_pack(const struct puente_header *h, unsigned char *out)
{
	out[0] = h->version;
	out[1] = h->kind;
	out[2] = h->channel;
	out[3] = h->flags;
	puente_put_be32(out + 4, h->seq);
	puente_put_be32(out + 8, (uint32_t)(h->media_time >> 32));
	puente_put_be32(out + 12, (uint32_t)h->media_time);
}

/*
 * Parses a binary message of len bytes. Returns 0 and fills h, or -1 when the
 * message is shorter than a header, of another version, or of unknown kind.
 * The payload is the len - PUENTE_HEADER_LEN bytes after the header.
 */
static inline int puente_header_parse(const unsigned char *in, size_t len, struct puente_header *h)
{
	if (len < PUENTE_HEADER_LEN || in[0] != PUENTE_PROTO_VERSION || in[1] != PUENTE_KIND_OPUS)
		return -1;
	h->version = in[0];
	h->kind = in[1];
	h->channel = in[2];
	h->flags = in[3];
	h->seq = puente_get_be32(in + 4);
	h->media_time = (uint64_t)puente_get_be32(in + 8) << 32 | puente_get_be32(in + 12);
	return 0;
}

/*
 * Walks a bundle of len bytes: call with *off = 0 first. Each call returns 1
 * and sets *pkt and *pkt_len to the next packet message (for puente_header_parse),
 * 0 after the last one, or -1 when the bundle is malformed (bad prefix, count
 * out of range, an item running past the end, bytes left over).
 */
static inline int puente_bundle_next(const unsigned char *in, size_t len, size_t *off,
                                     const unsigned char **pkt, size_t *pkt_len)
{
	if (len < PUENTE_BUNDLE_PREFIX || in[0] != PUENTE_PROTO_VERSION ||
	    in[1] != PUENTE_KIND_BUNDLE || in[2] < 1 || in[2] > PUENTE_MAX_BUNDLE || in[3] != 0)
		return -1;
	if (*off == 0)
		*off = PUENTE_BUNDLE_PREFIX;
	if (*off == len)
		return 0;
	if (len - *off < PUENTE_BUNDLE_ITEM)
		return -1;
	size_t n = (size_t)in[*off] << 8 | in[*off + 1];

	if (n < PUENTE_HEADER_LEN || n > PUENTE_MAX_FRAME || len - *off - PUENTE_BUNDLE_ITEM < n)
		return -1;
	*pkt = in + *off + PUENTE_BUNDLE_ITEM;
	*pkt_len = n;
	*off += PUENTE_BUNDLE_ITEM + n;
	return 1;
}

/* Returns the bundle's packet count when every item is well formed and the
 * count in the prefix matches them, else -1. */
static inline int puente_bundle_check(const unsigned char *in, size_t len)
{
	size_t off = 0, pkt_len;
	const unsigned char *pkt;
	int n = 0, r;

	while ((r = puente_bundle_next(in, len, &off, &pkt, &pkt_len)) == 1)
		n++;
	return r == 0 && n == in[2] ? n : -1;
}

#endif
