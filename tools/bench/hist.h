/*
 * Fixed-size histograms for the bench: a count per bucket of equal width,
 * so millions of samples cost no memory beyond the buckets. One thread.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

struct bench_hist {
	uint64_t *counts; /* n buckets; the last also takes everything beyond */
	uint32_t n;
	int64_t width_us;
	uint64_t total;
	int64_t max_us; /* exact, not bucketed */
};

/* n buckets of width_us each. 0 or -ENOMEM. */
int bench_hist_init(struct bench_hist *h, uint32_t n, int64_t width_us);
void bench_hist_fini(struct bench_hist *h);
/* Negative values count in the first bucket. */
void bench_hist_add(struct bench_hist *h, int64_t us);
/* Nearest-rank percentile (0..100) in ms: its bucket's upper edge (at most the maximum); -1 when
 * empty. */
double bench_hist_ms(const struct bench_hist *h, double percentile);

#endif
