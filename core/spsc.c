/*
 * SPSC ring (see spsc.h). Free-running 32-bit counters: head - tail is the
 * fill even across wrap; the capacity is a power of two so index = counter & mask.
 */
#include "spsc.h"

#include <errno.h>
#include <string.h>

static unsigned char *elems(struct puente__spsc *r)
{
	return (unsigned char *)((intptr_t)r + r->buf_off);
}

int puente__spsc_init(struct puente__spsc *r, void *buf, uint32_t cap, uint32_t elem_size)
{
	if (!r || !buf || cap == 0 || (cap & (cap - 1)) != 0 || cap > (1u << 30) || elem_size == 0)
		return -EINVAL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->overruns, 0);
	atomic_init(&r->underruns, 0);
	r->cap = cap;
	r->elem_size = elem_size;
	r->buf_off = (intptr_t)buf - (intptr_t)r;
	return 0;
}

uint32_t puente__spsc_write(struct puente__spsc *r, const void *src, uint32_t n)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (n > r->cap - (head - tail)) {
		atomic_fetch_add_explicit(&r->overruns, 1, memory_order_relaxed);
		return 0;
	}
	uint32_t idx = head & (r->cap - 1);
	uint32_t first = r->cap - idx < n ? r->cap - idx : n;

	memcpy(elems(r) + (size_t)idx * r->elem_size, src, (size_t)first * r->elem_size);
	memcpy(elems(r), (const unsigned char *)src + (size_t)first * r->elem_size,
	       (size_t)(n - first) * r->elem_size);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

uint32_t puente__spsc_read(struct puente__spsc *r, void *dst, uint32_t n)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t fill = head - tail;

	if (n > fill) {
		atomic_fetch_add_explicit(&r->underruns, 1, memory_order_relaxed);
		n = fill;
	}
	uint32_t idx = tail & (r->cap - 1);
	uint32_t first = r->cap - idx < n ? r->cap - idx : n;

	memcpy(dst, elems(r) + (size_t)idx * r->elem_size, (size_t)first * r->elem_size);
	memcpy((unsigned char *)dst + (size_t)first * r->elem_size, elems(r),
	       (size_t)(n - first) * r->elem_size);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

uint32_t puente__spsc_fill(struct puente__spsc *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}
