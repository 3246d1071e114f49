/*
 * SPSC ring (see pcl_spsc.h). Writer and reader each own one counter:
 * they load their own relaxed, the other's with acquire (so the data the
 * other side copied is visible), and publish their own with release after
 * copying.
 */
#include "pcl_spsc.h"

#include <errno.h>
#include <string.h>

int pcl_spsc_init(struct pcl_spsc *r, void *buf, uint32_t cap, uint32_t elem_size)
{
	/* cap <= 2^31 keeps head - tail unambiguous. */
	if (!buf || !elem_size || !cap || (cap & (cap - 1)) || cap > UINT32_C(1) << 31)
		return -EINVAL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->overruns, 0);
	r->cap = cap;
	r->elem_size = elem_size;
	r->buf = buf;
	return 0;
}

/* Ring index pos to flat memory and back: at most two memcpy each. */
static void spsc_copy_in(struct pcl_spsc *r, uint32_t pos, const unsigned char *src, uint32_t n)
{
	uint32_t at = pos & (r->cap - 1);
	uint32_t first = n < r->cap - at ? n : r->cap - at;
	size_t es = r->elem_size;

	memcpy(r->buf + at * es, src, first * es);
	memcpy(r->buf, src + first * es, (n - first) * es);
}

static void spsc_copy_out(struct pcl_spsc *r, uint32_t pos, unsigned char *dst, uint32_t n)
{
	uint32_t at = pos & (r->cap - 1);
	uint32_t first = n < r->cap - at ? n : r->cap - at;
	size_t es = r->elem_size;

	memcpy(dst, r->buf + at * es, first * es);
	memcpy(dst + first * es, r->buf, (n - first) * es);
}

uint32_t pcl_spsc_write(struct pcl_spsc *r, const void *src, uint32_t n)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (n > r->cap - (head - tail)) { /* unsigned wrap gives the fill */
		atomic_fetch_add_explicit(&r->overruns, 1, memory_order_relaxed);
		return 0;
	}
	spsc_copy_in(r, head, src, n);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

uint32_t pcl_spsc_read(struct pcl_spsc *r, void *dst, uint32_t n)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t avail = head - tail;

	if (n > avail)
		n = avail;
	spsc_copy_out(r, tail, dst, n);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

uint32_t pcl_spsc_fill(struct pcl_spsc *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}
