/*
 * Channel ring stress: one writer, one fast reader and two slow readers.
 * Every packet has a length and bytes derived from its number, so a torn
 * copy is caught. The fast reader must see every packet, in order (the
 * writer never gets more than half a ring ahead of it); the slow ones must
 * see increasing packet numbers, DISCONT exactly after each skip, and
 * delivered + dropped == published. Run plain and under TSan. The writer
 * stops early at a time limit: on an oversubscribed machine it waits for the
 * fast reader through sched_yield, which can crawl, and a bounded run that
 * checked fewer packets says so instead of timing out.
 * Usage: ring_chan COUNT [SECONDS]
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
static _Atomic uint64_t total; /* lowered to what was written at the time limit */
static struct timespec deadline;
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

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *writer(void *arg)
{
	unsigned char p[PUENTE_MAX_OPUS];

	(void)arg;
	for (uint64_t n = 0; n < atomic_load(&total) && !atomic_load(&failed); n++) {
		if (n % 4096 == 0 && past(&deadline)) {
			atomic_store(&total, n);
			break;
		}
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
			if (c.pos >= atomic_load(&total))
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

	uint64_t asked = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;

	atomic_store(&total, asked);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += argc > 2 ? atol(argv[2]) : 120;
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
		if (r->delivered + r->dropped != atomic_load(&total))
			fail("delivered + dropped != published", atomic_load(&total));
		if (r->fast && (r->dropped || r->delivered != atomic_load(&total)))
			fail("the fast reader lost packets", atomic_load(&total));
	}
	if (readers[1].dropped + readers[2].dropped == 0)
		printf("note: the slow readers were never lapped in this run\n");
	puente__chan_ring_fini(&ring);
	if (atomic_load(&failed))
		return 1;
	if (atomic_load(&total) < asked)
		printf("note: time limit: %llu of %llu packets written and checked\n",
		       (unsigned long long)atomic_load(&total), (unsigned long long)asked);
	printf("ok: %llu packets\n", (unsigned long long)atomic_load(&total));
	return 0;
}
