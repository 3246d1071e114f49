/*
 * Single-producer single-consumer ring of fixed-size elements (PCM frames),
 * lock-free with C11 acquire/release atomics on free-running counters.
 *
 * One thread writes, one thread reads; either may be a real-time audio
 * callback: no call here locks, allocates or makes a system call.
 */
#ifndef PUENTE_CORE_SPSC_H
#define PUENTE_CORE_SPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

struct puente__spsc {
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

/*
 * Any thread, before use. buf holds cap * elem_size bytes; to share the ring
 * between processes, put buf in the same mapping as r. 0 or -EINVAL.
 */
int puente__spsc_init(struct puente__spsc *r, void *buf, uint32_t cap, uint32_t elem_size);

/* Writer. Writes all n elements or none (counted as an overrun). Returns n or 0. */
uint32_t puente__spsc_write(struct puente__spsc *r, const void *src, uint32_t n);

/* Reader. Reads up to n elements; returns how many. A short read counts an underrun. */
uint32_t puente__spsc_read(struct puente__spsc *r, void *dst, uint32_t n);

/* Reader (or a monitor). Elements ready to read. */
uint32_t puente__spsc_fill(struct puente__spsc *r);

#endif
