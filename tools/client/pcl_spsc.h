/*
 * Single-producer single-consumer ring of fixed-size elements (PCM
 * samples) for handing audio to and from a PortAudio callback.
 *
 * Hand-written because the tools may not link the core's ring and
 * PortAudio's own (pa_ringbuffer) is not part of its public API. Free-running
 * 32-bit counters, C11 acquire/release on the other side's counter, no
 * fences (TSan models these; GCC 12 flags standalone fences under TSan).
 * One thread writes, one reads; neither call locks, allocates or makes a
 * system call, so either side may be a real-time callback.
 */
#ifndef PCL_SPSC_H
#define PCL_SPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

struct pcl_spsc {
	alignas(64) _Atomic uint32_t head; /* elements written; only the writer stores */
	alignas(64) _Atomic uint32_t tail; /* elements read; only the reader stores */
	alignas(64) uint32_t cap;          /* elements, a power of two */
	uint32_t elem_size;                /* bytes */
	unsigned char *buf;                /* cap * elem_size bytes, the caller's */
	_Atomic uint32_t overruns;         /* writes dropped whole: not enough room */
};

/* Before either side runs. Returns 0, or -EINVAL unless cap is a power of two <= 2^31. */
int pcl_spsc_init(struct pcl_spsc *r, void *buf, uint32_t cap, uint32_t elem_size);

/* Writer: all n elements or none (counted in overruns). Returns n or 0. */
uint32_t pcl_spsc_write(struct pcl_spsc *r, const void *src, uint32_t n);

/* Reader: up to n elements; returns how many were copied. */
uint32_t pcl_spsc_read(struct pcl_spsc *r, void *dst, uint32_t n);

/* Either side: elements written and not yet read (a snapshot). */
uint32_t pcl_spsc_fill(struct pcl_spsc *r);

#endif
