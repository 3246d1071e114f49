/*
 * Unit tests of the client library's pure parts: URL parsing, text
 * sanitising, the room clock, listener accounting and the SPSC ring (with a
 * two-thread counting run, meant for the sanitizer builds too), the
 * bounds of a client's text limit, and personal links: tokens from options,
 * files, links and the environment, and an upgrade refused by a real socket;
 * the listening tools' --bundle and the core.hello it makes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcl.h"
#include "toolkit.h"

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
	assert_false(u.tls);

	/* wss: TLS, the same defaults. */
	assert_int_equal(pcl_url_parse("WSS://relay.example", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "relay.example");
	assert_int_equal(u.port, PCL_DEFAULT_PORT);
	assert_string_equal(u.path, PUENTE_WS_PATH);
	assert_int_equal(pcl_url_parse("wss://h:443/ws?t=x", &u), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/ws?t=x");
}

static void test_url_rejects(void **state)
{
	static const char *bad[] = {
	    "",           "http://h/ws",   "https://h/ws",      "ws://",
	    "wss://",     "ws://:80/ws",   "ws://h:0/ws",       "ws://h:65536/ws",
	    "ws://h:/ws", "ws://h:12a/ws", "ws://h:0000080/ws", "ws://user@h/ws",
	    "ws://h ws",  "ws://h/w s",    "ws://[::1/ws",      "ws://h\n/ws",
	    "ws://h?x",   "wss://h?x",
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

#define TOKEN "AbCdEfGhIjKlMnOpQrSt_-"

static void test_token_valid(void **state)
{
	char longest[PCL_TOKEN_MAX + 1];

	(void)state;
	assert_true(pcl_token_valid(TOKEN));
	assert_true(pcl_token_valid("x"));
	assert_false(pcl_token_valid(""));
	assert_false(pcl_token_valid("a b"));
	assert_false(pcl_token_valid("a&t=b"));
	assert_false(pcl_token_valid("a%20"));
	assert_false(pcl_token_valid("ab+/="));
	memset(longest, 'a', PCL_TOKEN_MAX - 1);
	longest[PCL_TOKEN_MAX - 1] = '\0';
	assert_true(pcl_token_valid(longest));
	longest[PCL_TOKEN_MAX - 1] = 'a';
	longest[PCL_TOKEN_MAX] = '\0';
	assert_false(pcl_token_valid(longest));
}

static void test_link_parse(void **state)
{
	static const struct {
		const char *in, *ws, *token;
	} ok[] = {
	    {"http://relay.example/#t=" TOKEN, "ws://relay.example:80/ws", TOKEN},
	    {"https://relay.example/interpretation/#t=" TOKEN, "wss://relay.example:443/ws", TOKEN},
	    {"HTTP://10.0.0.2:8080/captions/?t=" TOKEN, "ws://10.0.0.2:8080/ws", TOKEN},
	    {"http://h:8080/levels/?lang=es#x=1&t=" TOKEN, "ws://h:8080/ws", TOKEN},
	    {"http://[::1]:8080/#t=" TOKEN, "ws://[::1]:8080/ws", TOKEN},
	    {"http://[::1]/", "ws://[::1]:80/ws", ""},
	    {"http://h:8080", "ws://h:8080/ws", ""},
	    {"ws://h:8080/ws?t=" TOKEN, "ws://h:8080/ws", TOKEN},
	    {"ws://h:8080/ws?a=1&t=" TOKEN "&b=2", "ws://h:8080/ws?a=1&b=2", TOKEN},
	    {"ws://h:8080", "ws://h:8080/ws", ""},
	    {"ws://h", "ws://h/ws", ""},
	    {"wss://h/ws#t=" TOKEN, "wss://h/ws", TOKEN},
	    /* The fragment is where a link carries it: it wins over the query. */
	    {"http://h/?t=query#t=" TOKEN, "ws://h:80/ws", TOKEN},
	};
	static const char *bad[] = {
	    "",
	    "ftp://h/",
	    "http://",
	    "http:///#t=x",
	    "http://u@h/#t=" TOKEN,
	    "http://h/#t=" TOKEN " ",
	    "http://h/#t=bad!token",
	    "http://h/?t=a%20b",
	    "ws://h/ws?t=a/b",
	};
	char ws[PCL_URL_MAX], token[PCL_TOKEN_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(pcl_link_parse(ok[i].in, ws, token), 0);
		assert_string_equal(ws, ok[i].ws);
		assert_string_equal(token, ok[i].token);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pcl_link_parse(bad[i], ws, token), -EINVAL);
	assert_int_equal(pcl_link_parse(NULL, ws, token), -EINVAL);
}

/* A file in the temporary directory holding text; the caller unlinks path. */
static void write_file(char *path, size_t cap, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, cap, "%s/pcl-token-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_token_read(void **state)
{
	static const struct {
		const char *text;
		int result;
	} cases[] = {
	    {TOKEN "\n", 0}, {TOKEN "\r\nsecond line\n", 0}, {TOKEN " \t\n", 0},         {TOKEN, 0},
	    {"", -EINVAL},   {"\n" TOKEN "\n", -EINVAL},     {"not a token\n", -EINVAL},
	};
	char path[256], token[PCL_TOKEN_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, sizeof(path), cases[i].text);
		assert_int_equal(pcl_token_read(path, token), cases[i].result);
		if (!cases[i].result)
			assert_string_equal(token, TOKEN);
		unlink(path);
	}
	assert_int_equal(pcl_token_read("/nonexistent/token", token), -ENOENT);
}

static void test_target_resolve(void **state)
{
	struct pcl_target t;
	char err[256], path[256];

	(void)state;
	/* Nothing: the default URL, no token. */
	assert_int_equal(pcl_target_resolve(&t, NULL, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(t.url, PCL_DEFAULT_URL);
	assert_string_equal(t.connect, PCL_DEFAULT_URL);
	assert_false(t.has_token);

	/* A personal link: the token leaves the printable URL for the connect one. */
	assert_int_equal(pcl_target_resolve(&t, "http://h:8080/#t=" TOKEN, NULL, NULL, "envtoken",
	                                    err, sizeof(err)),
	                 0);
	assert_string_equal(t.url, "ws://h:8080/ws");
	assert_string_equal(t.connect, "ws://h:8080/ws?t=" TOKEN);
	assert_true(t.has_token);

	/* --token beats the link's, which beats the environment's. */
	assert_int_equal(pcl_target_resolve(&t, "ws://h:8080/ws?a=1&t=linktoken", "optiontoken",
	                                    NULL, "envtoken", err, sizeof(err)),
	                 0);
	assert_string_equal(t.connect, "ws://h:8080/ws?a=1&t=optiontoken");
	assert_int_equal(
	    pcl_target_resolve(&t, "ws://h:8080/ws", NULL, NULL, "envtoken", err, sizeof(err)), 0);
	assert_string_equal(t.connect, "ws://h:8080/ws?t=envtoken");

	write_file(path, sizeof(path), "filetoken\n");
	assert_int_equal(pcl_target_resolve(&t, "ws://h:8080/ws?t=linktoken", NULL, path,
	                                    "envtoken", err, sizeof(err)),
	                 0);
	assert_string_equal(t.connect, "ws://h:8080/ws?t=filetoken");
	assert_int_equal(pcl_target_resolve(&t, NULL, "x", path, NULL, err, sizeof(err)), -EINVAL);
	unlink(path);
	assert_int_equal(pcl_target_resolve(&t, NULL, NULL, path, NULL, err, sizeof(err)), -ENOENT);

	/* Errors never repeat the token. */
	assert_int_equal(pcl_target_resolve(&t, NULL, "secret!token", NULL, NULL, err, sizeof(err)),
	                 -EINVAL);
	assert_null(strstr(err, "secret"));
	assert_int_equal(
	    pcl_target_resolve(&t, "http://u@h/#t=secret", NULL, NULL, NULL, err, sizeof(err)),
	    -EINVAL);
	assert_null(strstr(err, "secret"));
	/* An https link: wss on 443, the token in the connect URL only. */
	assert_int_equal(pcl_target_resolve(&t, "https://relay.example/captions/#t=" TOKEN, NULL,
	                                    NULL, NULL, err, sizeof(err)),
	                 0);
	assert_string_equal(t.url, "wss://relay.example:443/ws");
	assert_string_equal(t.connect, "wss://relay.example:443/ws?t=" TOKEN);
	assert_int_equal(pcl_target_resolve(&t, NULL, NULL, NULL, "bad token", err, sizeof(err)),
	                 -EINVAL);
}

static void test_refusal_text(void **state)
{
	char buf[160];

	(void)state;
	assert_non_null(strstr(pcl_refusal_text(401, buf, sizeof(buf)), "HTTP 401"));
	assert_non_null(strstr(buf, "check your personal link"));
	assert_non_null(strstr(pcl_refusal_text(403, buf, sizeof(buf)), "revoked"));
	assert_non_null(strstr(pcl_refusal_text(409, buf, sizeof(buf)), "another device"));
	assert_non_null(strstr(pcl_refusal_text(418, buf, sizeof(buf)), "HTTP 418"));
	assert_non_null(strstr(buf, "check your personal link"));
}

/* A relay stand-in that refuses one upgrade with 403, as the relay does a revoked link. */
struct refuser {
	int fd;
	char request[2048];
};

static void *refuse_one(void *arg)
{
	static const char answer[] = "HTTP/1.1 403 Forbidden\r\n"
	                             "Content-Type: text/plain\r\n"
	                             "Content-Length: 12\r\n"
	                             "Connection: close\r\n\r\n"
	                             "link revoked";
	struct refuser *r = arg;
	size_t got = 0;
	int c = accept(r->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	while (got + 1 < sizeof(r->request) && !strstr(r->request, "\r\n\r\n")) {
		ssize_t n = read(c, r->request + got, sizeof(r->request) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		r->request[got] = '\0';
	}
	if (write(c, answer, sizeof(answer) - 1) < 0)
		r->request[0] = '\0';
	close(c);
	return NULL;
}

struct closed_seen {
	bool called;
	int code;
	char reason[256];
};

static void on_closed_seen(void *user, int code, const char *reason)
{
	struct closed_seen *s = user;

	s->called = true;
	s->code = code;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void test_refused_upgrade(void **state)
{
	static const struct pcl_callbacks cb = {.closed = on_closed_seen};
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	struct refuser r = {0};
	struct closed_seen seen = {0};
	struct pcl_target t;
	struct pcl_client *c;
	pthread_t th;
	char url[64], err[256];

	(void)state;
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r.fd >= 0);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(r.fd, 1), 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&addr, &len), 0);
	assert_int_equal(pthread_create(&th, NULL, refuse_one, &r), 0);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/#t=" TOKEN, ntohs(addr.sin_port));
	assert_int_equal(pcl_target_resolve(&t, url, NULL, NULL, NULL, err, sizeof(err)), 0);
	c = pcl_create(t.connect, &cb, &seen, NULL);
	assert_non_null(c);
	/* lws bounds the handshake at 10 s; this only bounds the loop. */
	for (int i = 0; i < 150 && pcl_run_for(c, 100) == 0; i++)
		;
	assert_true(seen.called);
	assert_int_equal(seen.code, 0);
	assert_int_equal(pcl_http_status(c), 403);
	assert_non_null(strstr(seen.reason, "HTTP 403"));
	assert_null(strstr(seen.reason, TOKEN));
	pcl_destroy(c);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(r.fd);
	/* The token went to the relay in the WebSocket URL, and only there. */
	assert_non_null(strstr(r.request, "GET /ws?t=" TOKEN " HTTP/1.1\r\n"));
}

static void test_bundle_option(void **state)
{
	static const char *const bad[] = {"0",  "4", "9",    "10",   "01",    "+1", " 1",
	                                  "1 ", "",  "AUTO", "Auto", "auto ", "2x", "-1"};
	int b = 42;
	json_t *m;

	(void)state;
	assert_true(pcl_parse_bundle("auto", &b));
	assert_int_equal(b, PCL_BUNDLE_AUTO);
	for (int n = 1; n <= PUENTE_MAX_BUNDLE; n++) {
		char arg[2] = {(char)('0' + n), '\0'};

		assert_true(pcl_parse_bundle(arg, &b));
		assert_int_equal(b, n);
	}
	b = 42;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pcl_parse_bundle(bad[i], &b));
	assert_int_equal(b, 42);

	/* Not asked: no field, which the relay takes as "auto". */
	m = pcl_listener_hello("agent/1", PCL_BUNDLE_UNSET);
	assert_string_equal(json_string_value(json_object_get(m, "type")), "core.hello");
	assert_string_equal(json_string_value(json_object_get(m, "role")), "listener");
	assert_string_equal(json_string_value(json_object_get(m, "agent")), "agent/1");
	assert_null(json_object_get(m, "bundle"));
	json_decref(m);
	m = pcl_listener_hello("a", PCL_BUNDLE_AUTO);
	assert_string_equal(json_string_value(json_object_get(m, "bundle")), "auto");
	json_decref(m);
	m = pcl_listener_hello("a", 3);
	assert_int_equal(json_integer_value(json_object_get(m, "bundle")), 3);
	assert_int_equal(json_object_size(m), 4);
	json_decref(m);
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
	    cmocka_unit_test(test_token_valid),
	    cmocka_unit_test(test_link_parse),
	    cmocka_unit_test(test_token_read),
	    cmocka_unit_test(test_target_resolve),
	    cmocka_unit_test(test_refusal_text),
	    cmocka_unit_test(test_refused_upgrade),
	    cmocka_unit_test(test_bundle_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
