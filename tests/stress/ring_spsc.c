/*
 * SPSC stress: a writer thread pushes a counting sequence in blocks of
 * varying size, a reader thread pulls it in other sizes; the reader checks
 * that every value arrives once and in order. Run plain and under TSan.
 * Usage: ring_spsc COUNT
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <puente/spsc.h>

#define CAP 1024

static struct puente_spsc ring;
static uint32_t storage[CAP];
static uint64_t total;

static void *writer(void *arg)
{
	uint32_t block[97];
	uint64_t next = 0;
	uint32_t size = 1;

	(void)arg;
	while (next < total) {
		uint32_t n = size;
		if (n > total - next)
			n = (uint32_t)(total - next);
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

	total = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	if (puente_spsc_init(&ring, storage, CAP, sizeof(uint32_t)))
		return 1;
	pthread_create(&t, NULL, writer, NULL);
	while (expect < total) {
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
	printf("ok: %llu elements in order through a %d-slot ring (%llu reads, %u writer "
	       "retries)\n",
	       (unsigned long long)total, CAP, (unsigned long long)reads,
	       atomic_load(&ring.overruns));
	return 0;
}
