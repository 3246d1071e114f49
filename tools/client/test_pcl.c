/*
 * Unit tests of the client library's pure parts: URL parsing, text
 * sanitising, the room clock, listener accounting and the SPSC ring (with a
 * two-thread counting run, meant for the sanitizer builds too), and the
 * bounds of a client's text limit.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pcl.h"

static void test_url_defaults(void **state)
{
	struct pcl_url u;

	(void)state;
	assert_int_equal(pcl_url_parse(PCL_DEFAULT_URL, &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/ws");

	assert_int_equal(pcl_url_parse("ws://relay.example", &u), 0);
	assert_string_equal(u.host, "relay.example");
	assert_int_equal(u.port, PCL_DEFAULT_PORT);
	assert_string_equal(u.path, PUENTE_WS_PATH);

	assert_int_equal(pcl_url_parse("ws://h:9/a/b?x=1", &u), 0);
	assert_int_equal(u.port, 9);
	assert_string_equal(u.path, "/a/b?x=1");

	assert_int_equal(pcl_url_parse("ws://[::1]:65535/ws", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 65535);
}

static void test_url_rejects(void **state)
{
	static const char *bad[] = {
	    "",
	    "http://h/ws",
	    "wss://h/ws",
	    "ws://",
	    "ws://:80/ws",
	    "ws://h:0/ws",
	    "ws://h:65536/ws",
	    "ws://h:/ws",
	    "ws://h:12a/ws",
	    "ws://h:0000080/ws",
	    "ws://user@h/ws",
	    "ws://h ws",
	    "ws://h/w s",
	    "ws://[::1/ws",
	    "ws://h\n/ws",
	    "ws://h?x",
	    "wss://h",
	};
	char longhost[PCL_HOST_MAX + 16];
	struct pcl_url u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pcl_url_parse(bad[i], &u), -EINVAL);
	assert_int_equal(pcl_url_parse(NULL, &u), -EINVAL);
	strcpy(longhost, "ws://");
	memset(longhost + 5, 'a', PCL_HOST_MAX);
	longhost[5 + PCL_HOST_MAX] = '\0';
	assert_int_equal(pcl_url_parse(longhost, &u), -EINVAL);
}

static void test_sanitize(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(pcl_sanitize(buf, sizeof(buf), "a\x1b[2Jb"), "a?[2Jb");
	assert_string_equal(pcl_sanitize(buf, sizeof(buf), "0123456789"), "0123456");
	assert_string_equal(pcl_sanitize(buf, sizeof(buf), "\x7f\xc3\xb1"), "?\xc3\xb1");
	assert_string_equal(pcl_sanitize(buf, sizeof(buf),
	                                 "a\xc2\x9b"
	                                 "1m"),
	                    "a?1m");
	assert_string_equal(pcl_sanitize(buf, sizeof(buf), "\xc2\xa0!"), "\xc2\xa0!");
	assert_string_equal(pcl_sanitize(buf, sizeof(buf), NULL), "");
}

static void test_clock_parse(void **state)
{
	struct pcl_clock c;
	json_t *j;

	(void)state;
	j = json_pack("{s:I, s:I}", "media_time", (json_int_t)96000, "unix_us",
	              (json_int_t)1700000000000000);
	assert_int_equal(pcl_clock_parse(j, &c), 0);
	assert_int_equal(c.media_time, 96000);
	assert_int_equal(c.unix_us, 1700000000000000);
	json_decref(j);

	j = json_pack("{s:i, s:s}", "media_time", 1, "unix_us", "soon");
	assert_int_equal(pcl_clock_parse(j, &c), -EINVAL);
	json_decref(j);
	j = json_pack("{s:i, s:i}", "media_time", -1, "unix_us", 5);
	assert_int_equal(pcl_clock_parse(j, &c), -EINVAL);
	json_decref(j);
	assert_int_equal(pcl_clock_parse(NULL, &c), -EINVAL);
}

static void test_delay(void **state)
{
	struct pcl_clock a = {.media_time = 48000, .unix_us = 1000000};

	(void)state;
	/* Packet [48000, 48960) ends 20 ms after the anchor; arrives 5 ms after that. */
	assert_int_equal(pcl_delay_us(&a, 48000, 960, 1000000 + 20000 + 5000), 5000);
	/* A packet from before the anchor. */
	assert_int_equal(pcl_delay_us(&a, 0, 960, 1000000), 980000);
	/* A room running for a year: no overflow. */
	a.media_time = 0;
	assert_int_equal(pcl_delay_us(&a, (uint64_t)48000 * 31536000, 0,
	                              1000000 + (int64_t)31536000 * 1000000 + 7),
	                 7);
}

static struct pcl_audio pkt(uint32_t seq, uint8_t flags, int64_t arrival_us)
{
	struct pcl_audio a = {.samples = 960, .arrival_us = arrival_us};

	a.hdr.seq = seq;
	a.hdr.flags = flags;
	a.hdr.media_time = (uint64_t)seq * 960;
	return a;
}

static void test_stats_sequence(void **state)
{
	struct pcl_stats s;
	struct pcl_audio a;

	(void)state;
	pcl_stats_init(&s);
	a = pkt(UINT32_MAX - 1, PUENTE_FLAG_DISCONT, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_FIRST);
	a = pkt(UINT32_MAX, 0, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_OK);
	a = pkt(0, 0, 0); /* wraps */
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_OK);
	a = pkt(5, PUENTE_FLAG_DISCONT, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_DISCONT);
	a = pkt(8, 0, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_GAP);
	a = pkt(7, 0, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_GAP);
	assert_int_equal(s.packets, 6);
	assert_int_equal(s.discont, 1);
	assert_int_equal(s.gaps, 2);
	assert_int_equal(s.missing, 2); /* 6 and 7 skipped; going back skips nothing */
	pcl_stats_restart(&s);
	a = pkt(100, 0, 0);
	assert_int_equal(pcl_stats_packet(&s, &a), PCL_SEQ_FIRST);
	/* No clock was set: no delays. */
	assert_true(isnan(pcl_stats_delay_ms(&s, 50)));
	pcl_stats_fini(&s);
}

static void test_stats_delay_percentiles(void **state)
{
	struct pcl_clock clock = {.media_time = 0, .unix_us = 0};
	struct pcl_stats s;

	(void)state;
	pcl_stats_init(&s);
	pcl_stats_set_clock(&s, &clock);
	/* Packet n ends at (n + 1) * 20 ms; it arrives (100 - n) ms later. */
	for (uint32_t n = 0; n < 100; n++) {
		struct pcl_audio a = pkt(n, 0, (int64_t)(n + 1) * 20000 + (100 - n) * 1000);

		pcl_stats_packet(&s, &a);
	}
	assert_true(fabs(pcl_stats_delay_ms(&s, 50) - 50.0) < 1e-9);
	assert_true(fabs(pcl_stats_delay_ms(&s, 99) - 99.0) < 1e-9);
	assert_true(fabs(pcl_stats_delay_ms(&s, 0) - 1.0) < 1e-9);
	assert_true(fabs(pcl_stats_delay_ms(&s, 100) - 100.0) < 1e-9);
	assert_true(isnan(pcl_stats_delay_ms(&s, 101)));
	pcl_stats_fini(&s);
}

/* Past PCL_STATS_DELAYS_MAX the reservoir keeps the distribution. */
static void test_stats_reservoir(void **state)
{
	struct pcl_clock clock = {0};
	struct pcl_stats s;
	const uint32_t n = 3 * PCL_STATS_DELAYS_MAX;

	(void)state;
	pcl_stats_init(&s);
	pcl_stats_set_clock(&s, &clock);
	for (uint32_t i = 0; i < n; i++) {
		/* Delays 0..999 ms, uniform. */
		struct pcl_audio a = pkt(i, 0, 0);

		a.samples = 0;
		a.hdr.media_time = 0;
		a.arrival_us = (int64_t)(i % 1000) * 1000;
		pcl_stats_packet(&s, &a);
	}
	assert_int_equal(s.n_delays, PCL_STATS_DELAYS_MAX);
	assert_true(fabs(pcl_stats_delay_ms(&s, 50) - 500.0) < 5.0);
	assert_true(fabs(pcl_stats_delay_ms(&s, 99) - 990.0) < 5.0);
	pcl_stats_fini(&s);
}

/* The text limit: bounded both ways; the client need not be connected. */
static void test_text_max(void **state)
{
	int err = 0;
	struct pcl_client *c = pcl_create("ws://127.0.0.1:9/ws", NULL, NULL, &err);

	(void)state;
	assert_non_null(c);
	assert_int_equal(pcl_set_text_max(c, PUENTE_MAX_MESSAGE - 1), -EINVAL);
	assert_int_equal(pcl_set_text_max(c, PCL_TEXT_MAX_LIMIT + 1), -EINVAL);
	assert_int_equal(pcl_set_text_max(c, PCL_CAPTIONS_TEXT_MAX), 0);
	assert_int_equal(pcl_set_text_max(c, PUENTE_MAX_MESSAGE), 0);
	assert_int_equal(pcl_set_text_max(c, PCL_CAPTIONS_TEXT_MAX), 0);
	pcl_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_defaults),
	    cmocka_unit_test(test_url_rejects),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_clock_parse),
	    cmocka_unit_test(test_delay),
	    cmocka_unit_test(test_stats_sequence),
	    cmocka_unit_test(test_stats_delay_percentiles),
	    cmocka_unit_test(test_stats_reservoir),
	    cmocka_unit_test(test_text_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
