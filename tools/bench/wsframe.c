/* WebSocket framing for the bench: see wsframe.h. */
#include "bench/wsframe.h"

int bench_ws_parse(const unsigned char *p, size_t len, struct bench_ws_frame *f)
{
	uint64_t n;

	if (len < 2)
		return 0;
	if ((p[0] & 0x70) || (p[1] & 0x80))
		return -1;
	f->fin = p[0] & 0x80;
	f->op = p[0] & 0x0F;
	n = p[1] & 0x7F;
	f->header_len = 2;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (uint64_t)p[2] << 8 | p[3];
		f->header_len = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		if (p[2] & 0x80)
			return -1;
		n = 0;
		for (int i = 2; i < 10; i++)
			n = n << 8 | p[i];
		f->header_len = 10;
	}
	f->len = n;
	return 1;
}

size_t bench_ws_build(unsigned char *out, size_t cap, uint8_t op, const void *payload, size_t len,
                      uint32_t mask)
{
	const unsigned char *src = payload;
	unsigned char key[4] = {mask >> 24, mask >> 16, mask >> 8, mask};
	size_t h = len < 126 ? 6 : len <= 0xFFFF ? 8 : 14;

	if (len > cap || h > cap - len)
		return 0;
	out[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		out[1] = (unsigned char)(0x80 | len);
	} else if (len <= 0xFFFF) {
		out[1] = 0x80 | 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	for (int i = 0; i < 4; i++)
		out[h - 4 + i] = key[i];
	for (size_t i = 0; i < len; i++)
		out[h + i] = src[i] ^ key[i & 3];
	return h + len;
}
