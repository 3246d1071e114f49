/* Channel ring (see chan_ring.h): single writer, many lock-free readers. */
#include "chan_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int puente__chan_ring_init(struct puente__chan_ring *r, uint8_t channel, uint32_t slots)
{
	if (slots < 2 * PUENTE_RING_GUARD || (slots & (slots - 1)) != 0 || slots > (1u << 16))
		return -EINVAL;
	r->slots = calloc(slots, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < slots; i++) {
		atomic_init(&r->slots[i].seq, 0);
		atomic_init(&r->slots[i].len, 0);
	}
	atomic_init(&r->next, 0);
	r->mask = slots - 1;
	r->channel = channel;
	return 0;
}

void puente__chan_ring_fini(struct puente__chan_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

int64_t puente__chan_publish(struct puente__chan_ring *r, uint8_t flags, uint64_t media_time,
                             const unsigned char *opus, size_t len)
{
	if (len == 0 || len > PUENTE_MAX_OPUS)
		return -EINVAL;

	uint64_t n = atomic_load_explicit(&r->next, memory_order_relaxed);
	struct puente__slot *s = &r->slots[n & r->mask];
	uint64_t words[PUENTE_SLOT_WORDS];
	size_t total = PUENTE_HEADER_LEN + len;
	size_t nw = (total + 7) / 8;
	struct puente_header h = {
	    .version = PUENTE_PROTO_VERSION,
	    .kind = PUENTE_KIND_OPUS,
	    .channel = r->channel,
	    .flags = flags,
	    .seq = (uint32_t)n,
	    .media_time = media_time,
	};

	words[nw - 1] = 0;
	puente_header_pack(&h, (unsigned char *)words);
	memcpy((unsigned char *)words + PUENTE_HEADER_LEN, opus, len);

	/* Readers that see any word of this packet also see the odd seq. */
	atomic_store_explicit(&s->seq, 2 * n + 1, memory_order_relaxed);
	atomic_store_explicit(&s->len, total, memory_order_release);
	for (size_t i = 0; i < nw; i++)
		atomic_store_explicit(&s->w[i], words[i], memory_order_release);
	atomic_store_explicit(&s->seq, 2 * n + 2, memory_order_release);
	atomic_store_explicit(&r->next, n + 1, memory_order_release);
	return (int64_t)n;
}

static void cursor_skip(struct puente__cursor *c, uint64_t next)
{
	uint64_t to = next > PUENTE_RING_MARGIN ? next - PUENTE_RING_MARGIN : 0;

	if (to > c->pos) {
		c->dropped += to - c->pos;
		c->pos = to;
		c->discont = true;
	}
}

void puente__cursor_start(const struct puente__chan_ring *r, struct puente__cursor *c,
                          uint32_t behind)
{
	uint64_t next = atomic_load_explicit(&r->next, memory_order_acquire);

	if (behind > PUENTE_RING_MARGIN)
		behind = PUENTE_RING_MARGIN;
	c->pos = next > behind ? next - behind : 0;
	c->discont = true;
}

size_t puente__chan_read(const struct puente__chan_ring *r, struct puente__cursor *c,
                         unsigned char *dst, size_t cap)
{
	for (;;) {
		uint64_t next = atomic_load_explicit(&r->next, memory_order_acquire);

		if (c->pos >= next)
			return 0;
		if (next - c->pos > (uint64_t)r->mask + 1 - PUENTE_RING_GUARD) {
			cursor_skip(c, next);
			continue;
		}

		const struct puente__slot *s = &r->slots[c->pos & r->mask];
		uint64_t want = 2 * c->pos + 2;

		if (atomic_load_explicit(&s->seq, memory_order_acquire) != want) {
			/* Overwritten before we got here: the writer lapped us. */
			cursor_skip(c, atomic_load_explicit(&r->next, memory_order_acquire));
			continue;
		}
		size_t len = (size_t)atomic_load_explicit(&s->len, memory_order_acquire);
		if (len < PUENTE_HEADER_LEN || len > cap || len > PUENTE_MAX_FRAME)
			return 0;
		for (size_t i = 0; i < (len + 7) / 8; i++) {
			uint64_t w = atomic_load_explicit(&s->w[i], memory_order_acquire);
			size_t n = len - i * 8 < 8 ? len - i * 8 : 8;

			memcpy(dst + i * 8, &w, n);
		}
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) != want)
			continue; /* torn: the writer reached this slot mid-copy */

		c->pos++;
		c->delivered++;
		if (c->discont) {
			dst[3] |= PUENTE_FLAG_DISCONT;
			c->discont = false;
		}
		return len;
	}
}

uint64_t puente__chan_waiting(const struct puente__chan_ring *r, const struct puente__cursor *c)
{
	uint64_t next = atomic_load_explicit(&r->next, memory_order_acquire);

	return next > c->pos ? next - c->pos : 0;
}

uint64_t puente__chan_published(const struct puente__chan_ring *r)
{
	return atomic_load_explicit(&r->next, memory_order_acquire);
}
