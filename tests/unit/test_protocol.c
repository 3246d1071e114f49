/* Wire frame header: byte layout, round trip, refusal of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <puente/protocol.h>

static void test_layout_is_network_order(void **state)
{
	struct puente_header h = {
	    .version = PUENTE_PROTO_VERSION,
	    .kind = PUENTE_KIND_OPUS,
	    .channel = 2,
	    .flags = PUENTE_FLAG_DISCONT | PUENTE_FLAG_SILENCE,
	    .seq = 0x01020304u,
	    .media_time = 0x1122334455667788ull,
	};
	const unsigned char want[PUENTE_HEADER_LEN] = {
	    1, 1, 2, 3, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	unsigned char out[PUENTE_HEADER_LEN];

	(void)state;
	puente_header_pack(&h, out);
	assert_memory_equal(out, want, PUENTE_HEADER_LEN);
}

static void test_round_trip(void **state)
{
	unsigned char buf[PUENTE_HEADER_LEN + 3] = {0};
	struct puente_header in = {PUENTE_PROTO_VERSION, PUENTE_KIND_OPUS, 31, 0,
	                           UINT32_MAX,           UINT64_MAX - 5};
	struct puente_header out;

	(void)state;
	puente_header_pack(&in, buf);
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.channel, 31);
	assert_int_equal(out.seq, UINT32_MAX);
	assert_true(out.media_time == UINT64_MAX - 5);
}

static void test_refuses_bad_frames(void **state)
{
	unsigned char buf[PUENTE_HEADER_LEN];
	struct puente_header h = {PUENTE_PROTO_VERSION, PUENTE_KIND_OPUS, 0, 0, 1, 2};
	struct puente_header out;

	(void)state;
	puente_header_pack(&h, buf);
	assert_int_equal(puente_header_parse(buf, PUENTE_HEADER_LEN - 1, &out), -1);
	assert_int_equal(puente_header_parse(buf, 0, &out), -1);
	buf[0] = 2;
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), -1);
	buf[0] = PUENTE_PROTO_VERSION;
	buf[1] = 9;
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_is_network_order),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refuses_bad_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
