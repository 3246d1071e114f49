/*
 * SPSC stress: a writer thread pushes a counting sequence in blocks of
 * varying size, a reader thread pulls it in other sizes; the reader checks
 * that every value arrives once and in order. Run plain and under TSan.
 * The writer stops early at a time limit (both sides spin through
 * sched_yield, which crawls on an oversubscribed machine) and says so.
 * Usage: ring_spsc COUNT [SECONDS]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <puente/spsc.h>

#define CAP 1024

static struct puente_spsc ring;
static uint32_t storage[CAP];
static _Atomic uint64_t total; /* lowered to what was written at the time limit */
static struct timespec deadline;

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *writer(void *arg)
{
	uint32_t block[97];
	uint64_t next = 0;
	uint32_t size = 1;
	uint64_t blocks = 0;

	(void)arg;
	while (next < atomic_load(&total)) {
		if (++blocks % 4096 == 0 && past(&deadline)) {
			atomic_store(&total, next);
			break;
		}
		uint32_t n = size;
		if (n > atomic_load(&total) - next)
			n = (uint32_t)(atomic_load(&total) - next);
		for (uint32_t i = 0; i < n; i++)
			block[i] = (uint32_t)(next + i);
		if (puente_spsc_write(&ring, block, n) == n)
			next += n;
		else
			sched_yield();
		size = size % 97 + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint32_t block[61];
	uint64_t expect = 0, reads = 0;
	uint32_t size = 1;
	pthread_t t;

	uint64_t asked = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;

	atomic_store(&total, asked);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += argc > 2 ? atol(argv[2]) : 120;
	if (puente_spsc_init(&ring, storage, CAP, sizeof(uint32_t)))
		return 1;
	pthread_create(&t, NULL, writer, NULL);
	while (expect < atomic_load(&total)) {
		uint32_t n = puente_spsc_read(&ring, block, size);

		for (uint32_t i = 0; i < n; i++) {
			if (block[i] != (uint32_t)expect) {
				fprintf(stderr, "FAIL: got %u, expected %u at %llu\n", block[i],
				        (uint32_t)expect, (unsigned long long)expect);
				return 1;
			}
			expect++;
		}
		if (n == 0)
			sched_yield();
		reads++;
		size = size % 61 + 1;
	}
	pthread_join(t, NULL);
	if (puente_spsc_fill(&ring) != 0) {
		fprintf(stderr, "FAIL: ring not empty at the end\n");
		return 1;
	}
	if (atomic_load(&total) < asked)
		printf("note: time limit: %llu of %llu elements written and checked\n",
		       (unsigned long long)atomic_load(&total), (unsigned long long)asked);
	printf("ok: %llu elements in order through a %d-slot ring (%llu reads, %u writer "
	       "retries)\n",
	       (unsigned long long)atomic_load(&total), CAP, (unsigned long long)reads,
	       atomic_load(&ring.overruns));
	return 0;
}
