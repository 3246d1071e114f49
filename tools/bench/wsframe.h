/*
 * The few pieces of RFC 6455 a load client needs: reading the header of an
 * unmasked server frame and writing a masked client frame. Pure functions.
 */
#ifndef BENCH_WSFRAME_H
#define BENCH_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_ws_op {
	BENCH_WS_CONT = 0x0,
	BENCH_WS_TEXT = 0x1,
	BENCH_WS_BINARY = 0x2,
	BENCH_WS_CLOSE = 0x8,
	BENCH_WS_PING = 0x9,
	BENCH_WS_PONG = 0xA,
};

struct bench_ws_frame {
	bool fin;
	uint8_t op;
	size_t header_len; /* 2, 4 or 10 bytes */
	uint64_t len;      /* payload bytes after the header */
};

/*
 * Reads a frame header from the len bytes at p. Returns 1 with *f set, 0
 * when more bytes are needed, -1 for what a server must not send (a masked
 * frame, reserved bits, a 64-bit length with its top bit set).
 */
int bench_ws_parse(const unsigned char *p, size_t len, struct bench_ws_frame *f);

/*
 * Writes one final frame of opcode op carrying len bytes of payload,
 * masked with mask, at out (cap bytes). Returns its size, or 0 when it
 * does not fit.
 */
size_t bench_ws_build(unsigned char *out, size_t cap, uint8_t op, const void *payload, size_t len,
                      uint32_t mask);

#endif
