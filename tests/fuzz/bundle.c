/*
 * Fuzz target: one binary message through protocol.h's bundle walker and
 * check, as the clients use them. Whatever the bytes, every packet handed
 * out lies inside the message with a legal item length, the walk ends, and
 * puente_bundle_check agrees with a walk to the end against the count.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <puente/protocol.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *pkt;
	size_t off = 0, pkt_len, n = 0;
	struct puente_header h;
	int checked, r;

	/* The clients refuse larger binary messages before looking inside. */
	if (size > PUENTE_MAX_BUNDLE_MESSAGE)
		return 0;
	checked = puente_bundle_check(data, size);
	while ((r = puente_bundle_next(data, size, &off, &pkt, &pkt_len)) == 1) {
		if (pkt < data + PUENTE_BUNDLE_PREFIX + PUENTE_BUNDLE_ITEM ||
		    pkt_len < PUENTE_HEADER_LEN || pkt_len > PUENTE_MAX_FRAME ||
		    pkt_len > (size_t)(data + size - pkt) || off > size)
			abort();
		/* What a client does next: a header read inside the item only. */
		puente_header_parse(pkt, pkt_len, &h);
		if (++n > size / (PUENTE_BUNDLE_ITEM + PUENTE_HEADER_LEN))
			abort(); /* the walk did not move on */
	}
	if (checked >= 0 && (r != 0 || (size_t)checked != n || off != size))
		abort();
	if (checked < 0 && r == 0 && n == data[2])
		abort();
	return 0;
}
