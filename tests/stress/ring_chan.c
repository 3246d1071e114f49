/*
 * Channel ring stress: one writer, one fast reader and two slow readers.
 * Every packet has a length and bytes derived from its number, so a torn
 * copy is caught. The fast reader must see every packet, in order (the
 * writer never gets more than half a ring ahead of it); the slow ones must
 * see increasing packet numbers, DISCONT exactly after each skip, and
 * delivered + dropped == published. Run plain and under TSan.
 * Usage: ring_chan COUNT
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chan_ring.h"

#define SLOTS 64

static struct puente__chan_ring ring;
static uint64_t total;
static _Atomic uint64_t fast_pos;
static _Atomic int failed;

struct reader {
	bool fast;
	unsigned sleep_every;
	uint64_t delivered, dropped, disconts, skips;
};

static size_t packet_len(uint64_t n)
{
	return 1 + (size_t)((n * 7919) % PUENTE_MAX_OPUS);
}

static void fill(unsigned char *p, uint64_t n, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(n * 31 + i);
}

static void fail(const char *what, uint64_t n)
{
	fprintf(stderr, "FAIL: %s at packet %llu\n", what, (unsigned long long)n);
	atomic_store(&failed, 1);
}

static void *writer(void *arg)
{
	unsigned char p[PUENTE_MAX_OPUS];

	(void)arg;
	for (uint64_t n = 0; n < total && !atomic_load(&failed); n++) {
		while (n - atomic_load(&fast_pos) > SLOTS / 2 && !atomic_load(&failed))
			sched_yield();
		size_t len = packet_len(n);
		fill(p, n, len);
		puente__chan_publish(&ring, 0, n * 960, p, len);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct reader *r = arg;
	struct puente__cursor c = {0};
	unsigned char f[PUENTE_MAX_FRAME], want[PUENTE_MAX_OPUS];
	struct puente_header h = {0};
	uint64_t last = UINT64_MAX, reads = 0;
	const struct timespec nap = {0, 200000};

	c.pos = 0; /* from the very first packet */
	while (!atomic_load(&failed)) {
		size_t len = puente__chan_read(&ring, &c, f, sizeof(f));

		if (len == 0) {
			if (c.pos >= total)
				break;
			sched_yield();
			continue;
		}
		puente_header_parse(f, len, &h);
		uint64_t n = h.media_time / 960;
		size_t plen = len - PUENTE_HEADER_LEN;
		if (plen != packet_len(n) || h.seq != (uint32_t)n)
			fail("wrong length or seq", n);
		fill(want, n, plen);
		if (memcmp(f + PUENTE_HEADER_LEN, want, plen))
			fail("torn packet", n);
		bool skipped = last == UINT64_MAX ? n != 0 : n != last + 1;
		if (last != UINT64_MAX && n <= last)
			fail("reordered", n);
		if (skipped != !!(h.flags & PUENTE_FLAG_DISCONT))
			fail("DISCONT flag does not match a skip", n);
		r->skips += skipped;
		r->disconts += !!(h.flags & PUENTE_FLAG_DISCONT);
		last = n;
		if (r->fast)
			atomic_store(&fast_pos, c.pos);
		else if (++reads % r->sleep_every == 0)
			nanosleep(&nap, NULL);
	}
	r->delivered = c.delivered;
	r->dropped = c.dropped;
	if (r->fast)
		atomic_store(&fast_pos, UINT64_MAX / 2);
	return NULL;
}

int main(int argc, char **argv)
{
	struct reader readers[3] = {{.fast = true}, {.sleep_every = 7}, {.sleep_every = 50}};
	pthread_t wt, rt[3];

	total = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	if (puente__chan_ring_init(&ring, 0, SLOTS))
		return 1;
	for (int i = 0; i < 3; i++)
		pthread_create(&rt[i], NULL, reader, &readers[i]);
	pthread_create(&wt, NULL, writer, NULL);
	pthread_join(wt, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(rt[i], NULL);
	for (int i = 0; i < 3; i++) {
		struct reader *r = &readers[i];

		printf("reader %d (%s): delivered %llu dropped %llu disconts %llu\n", i,
		       r->fast ? "fast" : "slow", (unsigned long long)r->delivered,
		       (unsigned long long)r->dropped, (unsigned long long)r->disconts);
		if (r->delivered + r->dropped != total)
			fail("delivered + dropped != published", total);
		if (r->fast && (r->dropped || r->delivered != total))
			fail("the fast reader lost packets", total);
	}
	if (readers[1].dropped + readers[2].dropped == 0)
		printf("note: the slow readers were never lapped in this run\n");
	puente__chan_ring_fini(&ring);
	if (atomic_load(&failed))
		return 1;
	printf("ok: %llu packets\n", (unsigned long long)total);
	return 0;
}
