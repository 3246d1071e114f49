/* Fixed-size histograms: see hist.h. */
#include "bench/hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int bench_hist_init(struct bench_hist *h, uint32_t n, int64_t width_us)
{
	*h = (struct bench_hist){.n = n, .width_us = width_us};
	h->counts = calloc(n, sizeof(*h->counts));
	return h->counts ? 0 : -ENOMEM;
}

void bench_hist_fini(struct bench_hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void bench_hist_add(struct bench_hist *h, int64_t us)
{
	int64_t b = us < 0 ? 0 : us / h->width_us;

	h->counts[b >= h->n ? h->n - 1 : (uint32_t)b]++;
	if (!h->total || us > h->max_us)
		h->max_us = us;
	h->total++;
}

double bench_hist_ms(const struct bench_hist *h, double percentile)
{
	uint64_t rank, seen = 0;

	if (!h->total)
		return -1;
	rank = (uint64_t)ceil(percentile / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	for (uint32_t b = 0; b < h->n; b++) {
		seen += h->counts[b];
		if (seen >= rank) {
			/* The overflow bucket has no upper edge: the maximum stands for it. */
			if (b == h->n - 1)
				return (double)h->max_us / 1000.0;
			int64_t edge = (int64_t)(b + 1) * h->width_us;

			return (double)(edge < h->max_us ? edge : h->max_us) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}
