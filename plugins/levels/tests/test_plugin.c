/*
 * The levels plugin on the fake relay: the update a technician receives, a
 * listener refused, interpreter microphones metered off the service thread,
 * alarms as events, /levels/metrics. The fake host has no readers or relay
 * counters: this test supplies them (the floor's reader serves 3 s of a
 * -20 dBFS 1 kHz tone in Opus). With LEVELS_METRICS_OUT set, the metrics text
 * is written there for promtool.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <opus.h>

#include "fake_host.h"
#include "levels.h"

#define FRAME   960
#define PACKETS 150 /* 3 s */
#define TOKEN   "test-token-0123456789"

struct opkt {
	unsigned char data[PUENTE_MAX_OPUS];
	int len;
};

static struct opkt tone[PACKETS];

static void encode_tone(void)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
	float pcm[FRAME];

	assert_non_null(enc);
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(96000));
	for (int p = 0; p < PACKETS; p++) {
		for (int i = 0; i < FRAME; i++)
			pcm[i] = (float)(0.1 * sin(2.0 * M_PI * 1000.0 * (double)(p * FRAME + i) /
			                           48000.0));
		tone[p].len = opus_encode_float(enc, pcm, FRAME, tone[p].data, PUENTE_MAX_OPUS);
		assert_true(tone[p].len > 0);
	}
	opus_encoder_destroy(enc);
}

/* ---- a reader on the floor only ---- */

struct puente_reader {
	int next;
};

static struct puente_reader floor_reader;

static int t_reader_open(void *ctx, int channel, struct puente_reader **out)
{
	(void)ctx;
	if (channel != 0)
		return -ENOENT;
	floor_reader.next = 0;
	*out = &floor_reader;
	return 0;
}

static int t_reader_next(struct puente_reader *r, struct puente_packet *pkt, unsigned char *buf,
                         size_t cap)
{
	if (r->next >= PACKETS)
		return 0;
	assert_true(cap >= (size_t)tone[r->next].len);
	memcpy(buf, tone[r->next].data, (size_t)tone[r->next].len);
	*pkt = (struct puente_packet){.channel = 0,
	                              .seq = (uint32_t)r->next,
	                              .media_time = (uint64_t)r->next * FRAME,
	                              .samples = FRAME,
	                              .len = (uint32_t)tone[r->next].len,
	                              .data = buf};
	__atomic_store_n(&r->next, r->next + 1, __ATOMIC_RELEASE);
	return 1;
}

static int t_reader_wait(struct puente_reader *r, uint32_t ms)
{
	if (__atomic_load_n(&r->next, __ATOMIC_ACQUIRE) < PACKETS)
		return 1;
	nanosleep(&(struct timespec){0, (long)(ms > 20 ? 20 : ms) * 1000000L}, NULL);
	return 0;
}

static void t_reader_close(struct puente_reader *r)
{
	(void)r;
}

/* ---- relay counters and clients ---- */

static struct puente_relay_stats stats;

static void t_relay_stats(void *ctx, struct puente_relay_stats *out)
{
	(void)ctx;
	*out = stats;
}

static int t_clients(void *ctx, struct puente_client_info *out, size_t cap)
{
	struct fake_host *f = ctx;
	size_t n = 0;

	for (size_t i = 0; i < f->n_clients; i++) {
		if (n < cap)
			out[n] = (struct puente_client_info){
			    .id = f->clients[i].id,
			    .role = f->clients[i].role,
			    .channel = f->clients[i].channel,
			    .lag_packets = f->clients[i].id == 2 ? 40 : 0,
			    .dropped = f->clients[i].id == 2 ? 7 : 0,
			};
		n++;
	}
	return (int)n;
}

static void start(struct fake_host *f, bool open)
{
	memset(&stats, 0, sizeof(stats));
	fake_host_init(f, &levels_plugin);
	f->host.reader_open = t_reader_open;
	f->host.reader_next = t_reader_next;
	f->host.reader_wait = t_reader_wait;
	f->host.reader_close = t_reader_close;
	f->host.relay_stats = t_relay_stats;
	f->host.clients = t_clients;
	fake_host_config(f, "rate_hz", "10");
	if (open)
		fake_host_config(f, "metrics_open", "yes");
	else
		fake_host_config(f, "metrics_token", TOKEN);
	assert_int_equal(fake_host_start(f), 0);
	assert_int_equal(f->tick_ms, 100);
}

static void tick(struct fake_host *f)
{
	f->plugin->tick(f->state, 0);
}

static void wait_floor_read(void)
{
	for (int i = 0; i < 500 && __atomic_load_n(&floor_reader.next, __ATOMIC_ACQUIRE) < PACKETS;
	     i++)
		nanosleep(&(struct timespec){0, 10000000L}, NULL);
	/* The last packet read is fed just after: one more moment. */
	nanosleep(&(struct timespec){0, 50000000L}, NULL);
}

static const json_t *chan_of(const json_t *update, const char *name)
{
	size_t i;
	const json_t *c;

	json_array_foreach(
	    json_object_get(update, "channels"), i,
	    c) if (!strcmp(json_string_value(json_object_get(c, "name")), name)) return c;
	return NULL;
}

static double real(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_update_shape(void **unused)
{
	struct fake_host f;
	const json_t *u, *c, *h;

	(void)unused;
	start(&f, false);
	fake_connect(&f, 1, PUENTE_ROLE_TECHNICIAN);
	fake_connect(&f, 2, PUENTE_ROLE_LISTENER);
	f.clients[1].channel = 0; /* the listener hears the floor */
	wait_floor_read();
	tick(&f);
	u = fake_last(&f, 1, "levels.update");
	assert_non_null(u);
	assert_null(fake_last(&f, 2, "levels.update"));
	assert_true(json_integer_value(json_object_get(u, "t")) > 1700000000000ll);
	assert_int_equal(json_array_size(json_object_get(u, "channels")), 3);
	c = chan_of(u, "floor");
	assert_non_null(c);
	/* Through Opus: the tone's figures within a little of the reference. */
	assert_true(fabs(real(c, "peak") + 20.0) < 1.0);
	assert_true(fabs(real(c, "rms") + 23.0) < 0.5);
	assert_true(fabs(real(c, "true_peak") + 20.0) < 1.0);
	assert_true(fabs(real(c, "peak_hold") + 20.0) < 1.0);
	assert_true(fabs(real(c, "momentary") + 23.0) < 0.5);
	assert_true(fabs(real(c, "short_term") + 23.0) < 0.5);
	assert_true(fabs(real(c, "integrated") + 23.0) < 0.5);
	real(c, "lra");
	assert_int_equal(json_integer_value(json_object_get(c, "clips")), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "listeners")), 1);
	real(c, "silent_s");
	/* A channel without audio: dB figures are null. */
	c = chan_of(u, "en");
	assert_non_null(c);
	assert_true(json_is_null(json_object_get(c, "peak")));
	assert_true(json_is_null(json_object_get(c, "integrated")));
	assert_true(json_is_array(json_object_get(u, "mics")));
	h = json_object_get(u, "health");
	assert_int_equal(json_integer_value(json_object_get(h, "clients")), 2);
	assert_int_equal(json_integer_value(
	                     json_object_get(json_object_get(h, "listeners_by_channel"), "floor")),
	                 1);
	assert_int_equal(json_array_size(json_object_get(h, "lagging")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(h, "lagging"), 0), "client")),
	                 2);
	assert_true(json_is_integer(json_object_get(h, "dropped")));
	assert_true(json_is_integer(json_object_get(h, "stalled")));
	assert_true(json_is_integer(json_object_get(h, "refused")));
	assert_true(json_is_array(json_object_get(u, "alarms")));
	/* The listener of "en" is not served by a live interpreter. */
	fake_host_fini(&f);
}

static void test_listener_refused(void **unused)
{
	struct fake_host f;

	(void)unused;
	start(&f, false);
	fake_connect(&f, 1, PUENTE_ROLE_TECHNICIAN);
	fake_connect(&f, 2, PUENTE_ROLE_LISTENER);
	fake_connect(&f, 3, PUENTE_ROLE_ORGANISER);
	fake_connect(&f, 4, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(&f, 2, "subscribe", NULL), -EPERM);
	assert_int_equal(fake_message(&f, 4, "subscribe", NULL), -EPERM);
	assert_int_equal(fake_message(&f, 2, "reset", "{s:s}", "channel", "floor"), -EPERM);
	assert_int_equal(fake_message(&f, 1, "subscribe", NULL), 0);
	assert_int_equal(fake_message(&f, 1, "reset", "{s:s}", "channel", "floor"), 0);
	assert_int_equal(fake_message(&f, 1, "reset", "{s:s}", "channel", "xx"), -EINVAL);
	assert_int_equal(fake_message(&f, 1, "nope", NULL), -ENOENT);
	/* An organiser who subscribed gets the updates too. */
	assert_int_equal(fake_message(&f, 3, "subscribe", NULL), 0);
	tick(&f);
	assert_int_equal(fake_count(&f, 1, "levels.update"), 1);
	assert_int_equal(fake_count(&f, 3, "levels.update"), 1);
	assert_int_equal(fake_count(&f, 2, "levels.update"), 0);
	assert_int_equal(fake_count(&f, 4, "levels.update"), 0);
	fake_disconnect(&f, 3);
	fake_host_fini(&f);
}

static void test_mics_and_alarms(void **unused)
{
	struct fake_host f;
	const json_t *u = NULL, *m = NULL, *a;

	(void)unused;
	start(&f, false);
	fake_connect(&f, 1, PUENTE_ROLE_TECHNICIAN);
	fake_connect(&f, 5, PUENTE_ROLE_INTERPRETER);
	fake_connect(&f, 6, PUENTE_ROLE_INTERPRETER);
	for (int p = 0; p < 50; p++) {
		struct puente_packet pkt = {.channel = 2,
		                            .seq = (uint32_t)p + (p >= 25),
		                            .media_time = (uint64_t)p * FRAME,
		                            .samples = FRAME,
		                            .len = (uint32_t)tone[p].len,
		                            .data = tone[p].data};

		assert_int_equal(f.plugin->audio(f.state, 5, &pkt), -EPERM); /* never taken */
		assert_int_equal(f.plugin->audio(f.state, 6, &pkt), -EPERM);
	}
	/* Until the microphone thread has metered both (bounded: 5 s). */
	for (int i = 0; i < 500; i++) {
		int done = 0;

		nanosleep(&(struct timespec){0, 10000000L}, NULL);
		fake_clear(&f);
		tick(&f);
		u = fake_last(&f, 1, "levels.update");
		for (size_t k = 0; k < 2; k++) {
			m = json_array_get(json_object_get(u, "mics"), k);
			done += m && json_is_number(json_object_get(m, "momentary")) &&
			        fabs(json_number_value(json_object_get(m, "loss_pct")) -
			             100.0 / 51.0) < 0.1;
		}
		if (done == 2)
			break;
	}
	m = json_array_get(json_object_get(u, "mics"), 0);
	assert_non_null(m);
	assert_true(json_integer_value(json_object_get(m, "client")) == 5 ||
	            json_integer_value(json_object_get(m, "client")) == 6);
	assert_string_equal(json_string_value(json_object_get(m, "channel")), "en");
	assert_true(fabs(real(m, "momentary") + 23.0) < 1.0);
	assert_true(json_is_number(json_object_get(m, "rms")) ||
	            json_is_null(json_object_get(m, "rms")));
	real(m, "jitter_ms");
	assert_true(json_is_integer(json_object_get(m, "clips")));
	/* One seq skipped in 51: about 2 % lost. */
	assert_true(fabs(real(m, "loss_pct") - 100.0 / 51.0) < 0.1);
	/* Two microphones live on "en": the alarm is raised, once, to technicians. */
	a = fake_last(&f, 1, "levels.alarm");
	if (!a) {
		fake_clear(&f);
		tick(&f);
	}
	u = fake_last(&f, 1, "levels.update");
	assert_non_null(u);
	{
		size_t i;
		const json_t *x;
		bool found = false;

		json_array_foreach(json_object_get(u, "alarms"), i, x) found |=
		    !strcmp(json_string_value(json_object_get(x, "id")), "two_mics:en");
		assert_true(found);
	}
	assert_true(fake_log_count(&f, "alarm raised two_mics:en") == 1);
	/* The room input is lost, then back. */
	fake_clear(&f);
	stats.source_lost = 1;
	tick(&f);
	a = fake_last(&f, 1, "levels.alarm");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")), "raised");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "source_lost");
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "source_lost");
	assert_true(json_is_string(json_object_get(a, "message")));
	assert_true(json_is_integer(json_object_get(a, "t")));
	stats.source_lost = 0;
	fake_clear(&f);
	tick(&f);
	a = fake_last(&f, 1, "levels.alarm");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")), "cleared");
	/* Microphones leave with their clients. */
	fake_disconnect(&f, 5);
	fake_disconnect(&f, 6);
	fake_clear(&f);
	tick(&f);
	assert_int_equal(
	    json_array_size(json_object_get(fake_last(&f, 1, "levels.update"), "mics")), 0);
	fake_host_fini(&f);
}

static void test_metrics(void **unused)
{
	struct fake_host f;
	struct puente_http_response res;
	const char *out = getenv("LEVELS_METRICS_OUT");

	(void)unused;
	start(&f, false);
	stats.packets_published = 1234;
	stats.packets_dropped = 5;
	stats.refused_role = 2;
	fake_connect(&f, 2, PUENTE_ROLE_LISTENER);
	f.clients[0].channel = 0;
	wait_floor_read();
	tick(&f);
	assert_int_equal(fake_http(&f, "GET", "/levels/metrics", "", NULL, NULL, 0, &res), 0);
	assert_int_equal(res.status, 401);
	free(res.body);
	assert_int_equal(
	    fake_http(&f, "GET", "/levels/metrics", "token=nottheone", NULL, NULL, 0, &res), 0);
	assert_int_equal(res.status, 403);
	free(res.body);
	assert_int_equal(
	    fake_http(&f, "GET", "/levels/metrics", "token=" TOKEN, NULL, NULL, 0, &res), 0);
	assert_int_equal(res.status, 200);
	assert_non_null(res.body);
	assert_true(res.body_len == strlen(res.body));
	assert_non_null(strstr(res.body, "# TYPE puente_channel_peak_dbfs gauge\n"));
	assert_non_null(strstr(res.body, "puente_channel_peak_dbfs{channel=\"floor\"} -"));
	assert_non_null(strstr(res.body, "puente_channel_peak_dbfs{channel=\"en\"} -Inf\n"));
	assert_non_null(strstr(
	    res.body, "puente_channel_loudness_lufs{channel=\"floor\",window=\"integrated\"} -2"));
	assert_non_null(strstr(res.body, "puente_channel_clips_total{channel=\"floor\"} 0"));
	assert_non_null(strstr(res.body, "puente_listeners{channel=\"floor\"} 1"));
	assert_non_null(strstr(res.body, "puente_packets_published_total 1234\n"));
	assert_non_null(strstr(res.body, "puente_packets_dropped_total 5\n"));
	assert_non_null(strstr(res.body, "puente_refused_total{reason=\"role\"} 2\n"));
	assert_non_null(strstr(res.body, "# HELP puente_alarms_active "));
	assert_non_null(strstr(res.body, "puente_process_cpu_seconds_total "));
	assert_null(strstr(res.body, "puente_process_resident_memory_bytes 0\n"));
	if (out) {
		FILE *fp = fopen(out, "w");

		assert_non_null(fp);
		assert_int_equal(fwrite(res.body, 1, res.body_len, fp), res.body_len);
		assert_int_equal(fclose(fp), 0);
	}
	free(res.body);
	fake_host_fini(&f);

	/* metrics_open = yes: no token needed. */
	start(&f, true);
	assert_int_equal(fake_http(&f, "GET", "/levels/metrics", "", NULL, NULL, 0, &res), 0);
	assert_int_equal(res.status, 200);
	free(res.body);
	fake_host_fini(&f);
}

static void test_bad_config(void **unused)
{
	struct fake_host f;

	(void)unused;
	fake_host_init(&f, &levels_plugin);
	fake_host_config(&f, "rate_hz", "0");
	assert_int_equal(fake_host_start(&f), -EINVAL);
	fake_host_fini(&f);
	fake_host_init(&f, &levels_plugin);
	fake_host_config(&f, "metrics_token", "short");
	assert_int_equal(fake_host_start(&f), -EINVAL);
	fake_host_fini(&f);
	/* No readers at all (the fake as it is): runs, says the channels are not metered. */
	fake_host_init(&f, &levels_plugin);
	assert_int_equal(fake_host_start(&f), 0);
	assert_true(fake_log_count(&f, "not metered") == 3);
	assert_true(fake_log_count(&f, "/levels/metrics?token=") == 1);
	fake_host_fini(&f);
}

/* silence_s = 1: the floor goes quiet after its tone, the alarm fires, and clears when audio
 * returns. */
static void test_silence_on_floor(void **unused)
{
	struct fake_host f;
	const json_t *a = NULL, *u;
	struct timespec t0, t1;

	(void)unused;
	memset(&stats, 0, sizeof(stats));
	fake_host_init(&f, &levels_plugin);
	f.host.reader_open = t_reader_open;
	f.host.reader_next = t_reader_next;
	f.host.reader_wait = t_reader_wait;
	f.host.reader_close = t_reader_close;
	f.host.relay_stats = t_relay_stats;
	fake_host_config(&f, "silence_s", "1");
	fake_host_config(&f, "metrics_open", "yes");
	assert_int_equal(fake_host_start(&f), 0);
	fake_connect(&f, 1, PUENTE_ROLE_TECHNICIAN);
	wait_floor_read();
	tick(&f);
	assert_null(fake_last(&f, 1, "levels.alarm"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 40 && !a; i++) {
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
		tick(&f);
		a = fake_last(&f, 1, "levels.alarm");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")), "raised");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "silence:floor");
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "silence");
	assert_string_equal(json_string_value(json_object_get(a, "channel")), "floor");
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 900);
	u = fake_last(&f, 1, "levels.update");
	assert_true(real(chan_of(u, "floor"), "silent_s") >= 1.0);
	assert_int_equal(json_array_size(json_object_get(u, "alarms")), 1);
	assert_true(fake_log_count(&f, "alarm raised silence:floor") == 1);
	/* The tone again: cleared on the next update. */
	fake_clear(&f);
	__atomic_store_n(&floor_reader.next, 0, __ATOMIC_RELEASE);
	wait_floor_read();
	tick(&f);
	a = fake_last(&f, 1, "levels.alarm");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")), "cleared");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "silence:floor");
	assert_true(fake_log_count(&f, "alarm cleared silence:floor") == 1);
	fake_host_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_shape),    cmocka_unit_test(test_listener_refused),
	    cmocka_unit_test(test_mics_and_alarms), cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_bad_config),      cmocka_unit_test(test_silence_on_floor),
	};

	encode_tone();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
