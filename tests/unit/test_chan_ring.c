/* Channel ring, one thread: order, seq, DISCONT on start and on lapping, accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "chan_ring.h"

static void publish_n(struct puente__chan_ring *r, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++) {
		unsigned char opus[8];

		memcpy(opus, &i, sizeof(i));
		assert_true(puente__chan_publish(r, 0, i * 960, opus, sizeof(opus)) == (int64_t)i);
	}
}

static uint64_t payload_id(const unsigned char *frame)
{
	uint64_t id;

	memcpy(&id, frame + PUENTE_HEADER_LEN, sizeof(id));
	return id;
}

static void test_init_rules(void **state)
{
	struct puente__chan_ring r;

	(void)state;
	assert_int_equal(puente__chan_ring_init(&r, 0, 48), -EINVAL);
	assert_int_equal(puente__chan_ring_init(&r, 0, 4), -EINVAL);
	assert_int_equal(puente__chan_ring_init(&r, 0, 16), 0);
	assert_int_equal(puente__chan_publish(&r, 0, 0, (const unsigned char *)"", 0), -EINVAL);
	unsigned char big[PUENTE_MAX_OPUS + 1] = {0};
	assert_int_equal(puente__chan_publish(&r, 0, 0, big, sizeof(big)), -EINVAL);
	assert_int_equal(puente__chan_publish(&r, 0, 0, big, PUENTE_MAX_OPUS), 0);
	puente__chan_ring_fini(&r);
}

static void test_start_at_margin_with_discont(void **state)
{
	struct puente__chan_ring r;
	struct puente__cursor c = {0};
	unsigned char f[PUENTE_MAX_FRAME];
	struct puente_header h = {0};

	(void)state;
	puente__chan_ring_init(&r, 3, 16);
	publish_n(&r, 0, 10);
	puente__cursor_start(&r, &c, PUENTE_RING_MARGIN);
	assert_int_equal(puente__chan_waiting(&r, &c), PUENTE_RING_MARGIN);
	assert_int_equal(puente__chan_read(&r, &c, f, sizeof(f)), PUENTE_HEADER_LEN + 8);
	assert_int_equal(puente_header_parse(f, PUENTE_HEADER_LEN + 8, &h), 0);
	assert_int_equal(h.seq, 10 - PUENTE_RING_MARGIN);
	assert_int_equal(h.channel, 3);
	assert_true(h.flags & PUENTE_FLAG_DISCONT);
	assert_true(h.media_time == (10 - PUENTE_RING_MARGIN) * 960ull);
	/* Later packets arrive in order, without the flag. */
	for (uint64_t want = 10 - PUENTE_RING_MARGIN + 1; want < 10; want++) {
		assert_int_equal(puente__chan_read(&r, &c, f, sizeof(f)), PUENTE_HEADER_LEN + 8);
		puente_header_parse(f, PUENTE_HEADER_LEN + 8, &h);
		assert_int_equal(h.seq, want);
		assert_false(h.flags & PUENTE_FLAG_DISCONT);
		assert_true(payload_id(f) == want);
	}
	assert_int_equal(puente__chan_waiting(&r, &c), 0);
	assert_int_equal(puente__chan_read(&r, &c, f, sizeof(f)), 0);

	/* Starting at the live edge: nothing old, the next packet flagged. */
	puente__cursor_start(&r, &c, 0);
	assert_int_equal(puente__chan_waiting(&r, &c), 0);
	publish_n(&r, 10, 1);
	assert_int_equal(puente__chan_waiting(&r, &c), 1);
	assert_int_equal(puente__chan_read(&r, &c, f, sizeof(f)), PUENTE_HEADER_LEN + 8);
	puente_header_parse(f, PUENTE_HEADER_LEN + 8, &h);
	assert_int_equal(h.seq, 10);
	assert_true(h.flags & PUENTE_FLAG_DISCONT);
	puente__chan_ring_fini(&r);
}

static void test_lapped_reader_skips_and_counts(void **state)
{
	struct puente__chan_ring r;
	struct puente__cursor c = {0};
	unsigned char f[PUENTE_MAX_FRAME];
	struct puente_header h = {0};

	(void)state;
	puente__chan_ring_init(&r, 0, 16);
	puente__cursor_start(&r, &c, PUENTE_RING_MARGIN); /* at 0: empty ring */
	publish_n(&r, 0, 100);
	assert_true(puente__chan_read(&r, &c, f, sizeof(f)) > 0);
	puente_header_parse(f, PUENTE_HEADER_LEN + 8, &h);
	assert_int_equal(h.seq, 100 - PUENTE_RING_MARGIN);
	assert_true(h.flags & PUENTE_FLAG_DISCONT);
	while (puente__chan_read(&r, &c, f, sizeof(f)) > 0)
		;
	assert_true(c.delivered + c.dropped == 100);
	assert_true(c.dropped == 100 - PUENTE_RING_MARGIN);
	puente__chan_ring_fini(&r);
}

static void test_reader_within_ring_loses_nothing(void **state)
{
	struct puente__chan_ring r;
	struct puente__cursor c = {0};
	unsigned char f[PUENTE_MAX_FRAME];
	uint64_t next = 0;

	(void)state;
	puente__chan_ring_init(&r, 0, 16);
	puente__cursor_start(&r, &c, PUENTE_RING_MARGIN);
	c.discont = false;
	for (int round = 0; round < 50; round++) {
		/* Up to slots - guard behind is still safe. */
		publish_n(&r, next, 16 - PUENTE_RING_GUARD);
		next += 16 - PUENTE_RING_GUARD;
		while (puente__chan_read(&r, &c, f, sizeof(f)) > 0)
			assert_false(f[3] & PUENTE_FLAG_DISCONT);
	}
	assert_true(c.delivered == next);
	assert_true(c.dropped == 0);
	puente__chan_ring_fini(&r);
}

static void test_seq_wraps_at_32_bits(void **state)
{
	struct puente__chan_ring r;
	struct puente__cursor c = {0};
	unsigned char f[PUENTE_MAX_FRAME], opus[1] = {0};
	struct puente_header h = {0};

	(void)state;
	puente__chan_ring_init(&r, 0, 16);
	atomic_store(&r.next, (uint64_t)UINT32_MAX);
	c.pos = UINT32_MAX;
	puente__chan_publish(&r, 0, 0, opus, 1);
	puente__chan_publish(&r, 0, 0, opus, 1);
	puente__chan_read(&r, &c, f, sizeof(f));
	puente_header_parse(f, sizeof(f), &h);
	assert_int_equal(h.seq, UINT32_MAX);
	puente__chan_read(&r, &c, f, sizeof(f));
	puente_header_parse(f, sizeof(f), &h);
	assert_int_equal(h.seq, 0);
	puente__chan_ring_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rules),
	    cmocka_unit_test(test_start_at_margin_with_discont),
	    cmocka_unit_test(test_lapped_reader_skips_and_counts),
	    cmocka_unit_test(test_reader_within_ring_loses_nothing),
	    cmocka_unit_test(test_seq_wraps_at_32_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
