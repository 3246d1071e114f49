/*
 * Listener-side accounting: room-clock delay and sequence continuity, as
 * README.md ("Wire protocol") defines them. Plain data, one thread.
 */
#include "pcl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int pcl_clock_parse(const json_t *obj, struct pcl_clock *out)
{
	json_t *mt = json_object_get(obj, "media_time");
	json_t *us = json_object_get(obj, "unix_us");

	if (!json_is_integer(mt) || !json_is_integer(us) || json_integer_value(mt) < 0 ||
	    json_integer_value(us) < 0)
		return -EINVAL;
	out->media_time = (uint64_t)json_integer_value(mt);
	out->unix_us = (int64_t)json_integer_value(us);
	return 0;
}

int64_t pcl_delay_us(const struct pcl_clock *anchor, uint64_t media_time, uint32_t samples,
                     int64_t arrival_us)
{
	/* Signed: a packet may predate the anchor (core.clock arrives mid-stream). */
	int64_t since = (int64_t)(media_time + samples - anchor->media_time);
	/* Split to keep since * 1e6 from overflowing for long-running rooms. */
	int64_t us = since / PUENTE_SAMPLE_RATE * 1000000 +
	             since % PUENTE_SAMPLE_RATE * 1000000 / PUENTE_SAMPLE_RATE;

	return arrival_us - (anchor->unix_us + us);
}

void pcl_stats_init(struct pcl_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->rng = 0x9e3779b97f4a7c15u;
}

void pcl_stats_fini(struct pcl_stats *s)
{
	free(s->delays);
	s->delays = NULL;
}

void pcl_stats_set_clock(struct pcl_stats *s, const struct pcl_clock *clock)
{
	s->clock = *clock;
	s->have_clock = true;
}

void pcl_stats_restart(struct pcl_stats *s)
{
	s->have_seq = false;
}

/* xorshift64: the reservoir needs uniform picks, not secrecy. */
static uint64_t stats_rand(struct pcl_stats *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void stats_add_delay(struct pcl_stats *s, int64_t us)
{
	int32_t v = us > INT32_MAX ? INT32_MAX : us < INT32_MIN ? INT32_MIN : (int32_t)us;

	s->seen_delays++;
	s->sorted = false;
	if (s->n_delays == s->cap_delays && s->cap_delays < PCL_STATS_DELAYS_MAX) {
		size_t cap = s->cap_delays ? s->cap_delays * 2 : 4096;
		int32_t *d = realloc(s->delays, cap * sizeof(*d));

		/* Out of memory: keep sampling into what we have. */
		if (d) {
			s->delays = d;
			s->cap_delays = cap;
		}
	}
	if (s->n_delays < s->cap_delays) {
		s->delays[s->n_delays++] = v;
		return;
	}
	/* Algorithm R: every delay seen stays in the sample with equal odds. */
	if (s->n_delays) {
		uint64_t j = stats_rand(s) % s->seen_delays;

		if (j < s->n_delays)
			s->delays[j] = v;
	}
}

enum pcl_seq_event pcl_stats_packet(struct pcl_stats *s, const struct pcl_audio *a)
{
	enum pcl_seq_event ev = PCL_SEQ_OK;

	if (!s->have_seq) {
		ev = PCL_SEQ_FIRST;
	} else if (a->hdr.flags & PUENTE_FLAG_DISCONT) {
		ev = PCL_SEQ_DISCONT;
		s->discont++;
	} else if (a->hdr.seq != s->last_seq + 1) {
		uint32_t skipped = a->hdr.seq - s->last_seq - 1; /* mod 2^32: wraps are fine */

		/* A seq that went backwards (repeat, reorder) is a gap that skipped nothing. */
		if (skipped < UINT32_C(1) << 31)
			s->missing += skipped;
		ev = PCL_SEQ_GAP;
		s->gaps++;
	}
	s->have_seq = true;
	s->last_seq = a->hdr.seq;
	s->packets++;
	if (s->have_clock)
		stats_add_delay(
		    s, pcl_delay_us(&s->clock, a->hdr.media_time, a->samples, a->arrival_us));
	return ev;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

double pcl_stats_delay_ms(struct pcl_stats *s, double percentile)
{
	size_t rank;

	if (!s->n_delays || !(percentile >= 0 && percentile <= 100))
		return NAN;
	if (!s->sorted) {
		qsort(s->delays, s->n_delays, sizeof(*s->delays), cmp_i32);
		s->sorted = true;
	}
	rank = (size_t)ceil(percentile / 100.0 * (double)s->n_delays);
	return s->delays[rank ? rank - 1 : 0] / 1000.0;
}
