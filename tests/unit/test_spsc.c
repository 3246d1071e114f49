/* SPSC ring: capacity rules, wrap-around, all-or-nothing writes, counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include <puente/spsc.h>

static void test_init_rejects_bad_capacity(void **state)
{
	struct puente_spsc r;
	float buf[16];

	(void)state;
	assert_int_equal(puente_spsc_init(&r, buf, 12, sizeof(float)), -EINVAL);
	assert_int_equal(puente_spsc_init(&r, buf, 0, sizeof(float)), -EINVAL);
	assert_int_equal(puente_spsc_init(&r, NULL, 16, sizeof(float)), -EINVAL);
	assert_int_equal(puente_spsc_init(&r, buf, 16, 0), -EINVAL);
	assert_int_equal(puente_spsc_init(&r, buf, 16, sizeof(float)), 0);
}

static void test_wrap_keeps_order(void **state)
{
	struct puente_spsc r;
	int32_t buf[8], in[5], out[5];
	int32_t next_in = 0, next_out = 0;

	(void)state;
	assert_int_equal(puente_spsc_init(&r, buf, 8, sizeof(int32_t)), 0);
	/* 5 in, 5 out, repeatedly: every block straddles the end of the buffer at some point. */
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 5; i++)
			in[i] = next_in++;
		assert_int_equal(puente_spsc_write(&r, in, 5), 5);
		assert_int_equal(puente_spsc_fill(&r), 5);
		assert_int_equal(puente_spsc_read(&r, out, 5), 5);
		for (int i = 0; i < 5; i++)
			assert_int_equal(out[i], next_out++);
	}
	assert_int_equal(atomic_load(&r.overruns), 0);
}

static void test_full_write_is_dropped_whole(void **state)
{
	struct puente_spsc r;
	int16_t buf[8], in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];

	(void)state;
	puente_spsc_init(&r, buf, 8, sizeof(int16_t));
	assert_int_equal(puente_spsc_write(&r, in, 6), 6);
	assert_int_equal(puente_spsc_write(&r, in, 3), 0); /* only 2 free */
	assert_int_equal(atomic_load(&r.overruns), 1);
	assert_int_equal(puente_spsc_write(&r, in, 2), 2); /* exactly full */
	assert_int_equal(puente_spsc_fill(&r), 8);
	assert_int_equal(puente_spsc_read(&r, out, 8), 8);
	assert_int_equal(out[5], 6);
	assert_int_equal(out[6], 1);
	assert_int_equal(out[7], 2);
}

static void test_short_read_counts_underrun(void **state)
{
	struct puente_spsc r;
	float buf[4], in[2] = {0.5f, -0.5f}, out[4];

	(void)state;
	puente_spsc_init(&r, buf, 4, sizeof(float));
	puente_spsc_write(&r, in, 2);
	assert_int_equal(puente_spsc_read(&r, out, 4), 2);
	assert_int_equal(atomic_load(&r.underruns), 1);
	assert_true(out[0] == 0.5f && out[1] == -0.5f);
	assert_int_equal(puente_spsc_read(&r, out, 1), 0);
}

static void test_counters_survive_32bit_wrap(void **state)
{
	struct puente_spsc r;
	uint8_t buf[4], in[3] = {7, 8, 9}, out[3];

	(void)state;
	puente_spsc_init(&r, buf, 4, 1);
	/* Start just below the wrap of the free-running counters. */
	atomic_store(&r.head, UINT32_MAX - 1);
	atomic_store(&r.tail, UINT32_MAX - 1);
	assert_int_equal(puente_spsc_write(&r, in, 3), 3);
	assert_int_equal(puente_spsc_fill(&r), 3);
	assert_int_equal(puente_spsc_read(&r, out, 3), 3);
	assert_memory_equal(in, out, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects_bad_capacity),
	    cmocka_unit_test(test_wrap_keeps_order),
	    cmocka_unit_test(test_full_write_is_dropped_whole),
	    cmocka_unit_test(test_short_read_counts_underrun),
	    cmocka_unit_test(test_counters_survive_32bit_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
