/*
 * Single-producer single-consumer ring of fixed-size elements (PCM), lock-free
 * with C11 acquire/release atomics on free-running 32-bit counters (head -
 * tail is the fill even across wrap; the capacity is a power of two). No
 * standalone fences: ThreadSanitizer models acquire/release operations.
 *
 * One thread writes, one thread reads; either may be a real-time audio
 * callback: no call here locks, allocates or makes a system call. Shared by
 * the relay, its audio worker, plugins and tools.
 */
#ifndef PUENTE_SPSC_H
#define PUENTE_SPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

struct puente_spsc {
	alignas(64) _Atomic uint32_t head; /* elements written; writer stores */
	alignas(64) _Atomic uint32_t tail; /* elements read; reader stores */
	alignas(64) uint32_t cap;          /* elements, power of two */
	uint32_t elem_size;                /* bytes per element */
	/*
	 * Where the elements are, relative to this struct: the ring also lives
	 * in memory shared by two processes that map it at different addresses.
	 */
	intptr_t buf_off;
	_Atomic uint32_t overruns;  /* writes dropped whole: ring full */
	_Atomic uint32_t underruns; /* reads that found less than asked */
};

/* The element storage, wherever this process maps it. */
static inline unsigned char *puente_spsc_elems(struct puente_spsc *r)
{
	return (unsigned char *)((intptr_t)r + r->buf_off);
}

/*
 * Any thread, before use. buf holds cap * elem_size bytes; to share the ring
 * between processes, put buf in the same mapping as r. 0 or -EINVAL.
 */
static inline int puente_spsc_init(struct puente_spsc *r, void *buf, uint32_t cap,
                                   uint32_t elem_size)
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

/* Writer. Writes all n elements or none (counted as an overrun). Returns n or 0. */
static inline uint32_t puente_spsc_write(struct puente_spsc *r, const void *src, uint32_t n)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (n > r->cap - (head - tail)) {
		atomic_fetch_add_explicit(&r->overruns, 1, memory_order_relaxed);
		return 0;
	}
	uint32_t idx = head & (r->cap - 1);
	uint32_t first = r->cap - idx < n ? r->cap - idx : n;

	memcpy(puente_spsc_elems(r) + (size_t)idx * r->elem_size, src,
	       (size_t)first * r->elem_size);
	memcpy(puente_spsc_elems(r), (const unsigned char *)src + (size_t)first * r->elem_size,
	       (size_t)(n - first) * r->elem_size);
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

/* Reader. Reads up to n elements; returns how many. A short read counts an underrun. */
static inline uint32_t puente_spsc_read(struct puente_spsc *r, void *dst, uint32_t n)
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

	memcpy(dst, puente_spsc_elems(r) + (size_t)idx * r->elem_size,
	       (size_t)first * r->elem_size);
	memcpy((unsigned char *)dst + (size_t)first * r->elem_size, puente_spsc_elems(r),
	       (size_t)(n - first) * r->elem_size);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

/* Reader (or a monitor). Elements ready to read. */
static inline uint32_t puente_spsc_fill(struct puente_spsc *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
