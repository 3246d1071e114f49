/*
 * The interpretation plugin against the fake relay: booths, handover, the media
 * time of what interpreters publish, what listeners hear, refusals, booths
 * grants of invitations, config.
 * Room: floor (0), es (1), en (2); booth "es-en"; floor language es.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_host.h"

const struct puente_plugin *puente_plugin_entry(void);

enum { FLOOR = 0, ES = 1, EN = 2, FR = 3 };
enum { TECH = 1, ORGANISER = 2, ANA = 10, BEN = 11, CLARA = 12, LEO = 100, LIA = 101 };
#define FRAME 960

static int setup(void **state)
{
	struct fake_host *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	fake_host_init(f, puente_plugin_entry());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fake_host_fini(*state);
	free(*state);
	return 0;
}

/* ---- helpers ---- */

static json_int_t id_of(const json_t *v)
{
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *str_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The latest booth "es-en" as client `to` was told. */
static const json_t *booth_seen(const struct fake_host *f, puente_client_id to)
{
	const json_t *st = fake_last(f, to, "interpretation.state");

	assert_non_null(st);
	return json_array_get(json_object_get(st, "booths"), 0);
}

static json_int_t live_seen(const struct fake_host *f, puente_client_id to)
{
	return id_of(json_object_get(booth_seen(f, to), "live"));
}

/* The standard room, started, with a technician, interpreters ANA and BEN in es-en. */
static struct fake_host *room(void **state)
{
	struct fake_host *f = *state;

	assert_int_equal(fake_host_start(f), 0);
	fake_connect(f, TECH, PUENTE_ROLE_TECHNICIAN);
	fake_connect(f, ANA, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, BEN, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, BEN, "join", "{s:s}", "booth", "es-en"), 0);
	return f;
}

static void listen_to(struct fake_host *f, puente_client_id id, const char *choice,
                      const char *language)
{
	if (language)
		assert_int_equal(fake_message(f, id, "listen", "{s:s, s:s}", "choice", choice,
		                              "language", language),
		                 0);
	else
		assert_int_equal(fake_message(f, id, "listen", "{s:s}", "choice", choice), 0);
}

static void assert_listening(const struct fake_host *f, puente_client_id id, int channel,
                             const char *channel_name, const char *reason)
{
	const json_t *m = fake_last(f, id, "interpretation.listening");

	assert_int_equal(fake_hears(f, id), channel);
	assert_non_null(m);
	assert_string_equal(str_of(m, "channel"), channel_name);
	assert_string_equal(str_of(m, "reason"), reason);
}

/* Every packet on a channel follows the one before: seq + 1, media_time + its duration. */
static void assert_contiguous(const struct fake_host *f, int channel)
{
	const struct fake_packet *prev = NULL;

	for (size_t i = 0; i < f->n_packets; i++) {
		const struct fake_packet *p = &f->packets[i];

		if (p->channel != channel)
			continue;
		if (prev) {
			assert_int_equal(p->seq, prev->seq + 1);
			assert_int_equal(p->media_time, prev->media_time + prev->samples);
			assert_false(p->flags & PUENTE_FLAG_DISCONT);
		}
		prev = p;
	}
	assert_non_null(prev);
}

/* ---- booths ---- */

static void join_sends_state(void **state)
{
	struct fake_host *f = *state;
	const json_t *b;

	assert_int_equal(fake_host_start(f), 0);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_count(f, LEO, "interpretation.state"), 1);
	assert_string_equal(str_of(fake_last(f, LEO, "interpretation.state"), "floor_language"),
	                    "es");
	b = booth_seen(f, LEO);
	assert_string_equal(str_of(b, "id"), "es-en");
	assert_true(json_is_null(json_object_get(b, "live")));
	assert_true(json_is_null(json_object_get(b, "direction")));
	assert_int_equal(json_array_size(json_object_get(b, "channels")), 2);
}

static void claim(void **state)
{
	struct fake_host *f = room(state);
	const json_t *b;

	/* Joining a booth puts the interpreter on its source: the floor. */
	assert_int_equal(fake_hears(f, ANA), FLOOR);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	b = booth_seen(f, TECH);
	assert_int_equal(id_of(json_object_get(b, "live")), ANA);
	assert_string_equal(str_of(b, "direction"), "en");
	assert_int_equal(json_array_size(json_object_get(b, "partners")), 2);
	/* Live into en: the floor probably speaks es, which it already is. */
	assert_true(json_is_null(
	    json_object_get(fake_last(f, TECH, "interpretation.state"), "suggested_floor")));

	assert_int_equal(fake_audio(f, ANA, 1), 0);
	assert_int_equal(f->n_packets, 1);
	assert_int_equal(f->packets[0].channel, EN);
	assert_true(f->packets[0].flags & PUENTE_FLAG_DISCONT);
	/* The packet ends a jitter margin (60 ms) before the present of the room clock. */
	assert_int_equal(f->packets[0].media_time, f->now - FRAME - 2880);
	/* The partner is not live: its audio is refused. */
	assert_int_equal(fake_audio(f, BEN, 2), -EPERM);
	assert_int_equal(f->n_packets, 1);
}

static void claim_race(void **state)
{
	struct fake_host *f = room(state);

	/* Events come one at a time on the service thread: the first claim wins. */
	assert_int_equal(fake_message(f, BEN, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), -EBUSY);
	assert_int_equal(live_seen(f, TECH), BEN);
	assert_string_equal(str_of(booth_seen(f, TECH), "direction"), "es");
	/* The live one claiming again is busy too. */
	assert_int_equal(fake_message(f, BEN, "claim", "{s:s}", "channel", "en"), -EBUSY);
	/* Live into es: the floor probably speaks en. */
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "suggested_floor"),
	                    "en");
}

static void claim_outside_booth(void **state)
{
	struct fake_host *f = *state;

	assert_int_equal(fake_host_start(f), 0);
	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, CLARA, "claim", "{s:s}", "channel", "es"), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "fr"), -EINVAL);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, CLARA, "claim", "{s:s}", "channel", "floor"), -EINVAL);
	assert_int_equal(fake_message(f, CLARA, "claim", "{s:i}", "channel", 1), -EINVAL);
	assert_int_equal(fake_message(f, CLARA, "claim", NULL), -EINVAL);
	assert_int_equal(live_seen(f, CLARA), 0);
}

/* ---- handover ---- */

static void handover_accept(void **state)
{
	struct fake_host *f = room(state);
	const json_t *h;

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_audio(f, ANA, 1), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	h = fake_last(f, ANA, "interpretation.handover");
	assert_non_null(h);
	assert_string_equal(str_of(h, "state"), "requested");
	assert_int_equal(id_of(json_object_get(h, "from")), ANA);
	assert_int_equal(id_of(json_object_get(h, "to")), BEN);
	assert_int_equal(id_of(json_object_get(booth_seen(f, TECH), "pending")), BEN);
	/* While pending, the partner hears the live interpretation. */
	assert_int_equal(fake_hears(f, BEN), EN);
	/* Only the live one answers; nobody else may ask meanwhile. */
	assert_int_equal(fake_message(f, BEN, "handover.accept", NULL), -EPERM);
	assert_int_equal(fake_audio(f, ANA, 2), 0);

	assert_int_equal(fake_message(f, ANA, "handover.accept", NULL), 0);
	h = fake_last(f, BEN, "interpretation.handover");
	assert_string_equal(str_of(h, "state"), "done");
	assert_int_equal(live_seen(f, TECH), BEN);
	assert_true(json_is_null(json_object_get(booth_seen(f, TECH), "pending")));
	assert_int_equal(fake_hears(f, BEN), FLOOR);
	/* From the next packet on, the channel is the new interpreter's. */
	assert_int_equal(fake_audio(f, ANA, 3), -EPERM);
	assert_int_equal(fake_audio(f, BEN, 4), 0);
	assert_int_equal(f->n_packets, 3);
	assert_int_equal(f->packets[2].first_byte, 4);
	assert_contiguous(f, EN);
}

static void handover_decline(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, ANA, "handover.decline", NULL), -EBUSY);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_hears(f, BEN), ES);
	assert_int_equal(fake_message(f, ANA, "handover.decline", NULL), 0);
	assert_string_equal(str_of(fake_last(f, BEN, "interpretation.handover"), "state"),
	                    "declined");
	assert_int_equal(fake_hears(f, BEN), FLOOR);
	assert_int_equal(live_seen(f, TECH), ANA);
	assert_true(json_is_null(json_object_get(booth_seen(f, TECH), "pending")));
	assert_int_equal(fake_audio(f, BEN, 1), -EPERM);
	assert_int_equal(fake_audio(f, ANA, 2), 0);
}

static void handover_request_refusals(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	/* Nobody live: claim instead. */
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), -EBUSY);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, ANA, "handover.request", NULL), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "handover.request", NULL), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, CLARA, "handover.request", NULL), -EBUSY);
	assert_int_equal(id_of(json_object_get(booth_seen(f, TECH), "pending")), BEN);
}

static void handover_force(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_message(f, TECH, "handover.force", "{s:s, s:I}", "booth", "es-en",
	                              "to", (json_int_t)BEN),
	                 -EBUSY);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_audio(f, ANA, 1), 0);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, CLARA, "handover.request", NULL), 0);

	/* Only a technician forces, and only to a partner of that booth. */
	assert_int_equal(fake_message(f, LEO, "handover.force", "{s:s, s:I}", "booth", "es-en",
	                              "to", (json_int_t)BEN),
	                 -EPERM);
	assert_int_equal(fake_message(f, BEN, "handover.force", "{s:s, s:I}", "booth", "es-en",
	                              "to", (json_int_t)BEN),
	                 -EPERM);
	assert_int_equal(fake_message(f, TECH, "handover.force", "{s:s, s:I}", "booth", "es-en",
	                              "to", (json_int_t)LEO),
	                 -EINVAL);
	assert_int_equal(
	    fake_message(f, TECH, "handover.force", "{s:s, s:s}", "booth", "es-en", "to", "11"),
	    -EINVAL);
	assert_int_equal(fake_message(f, TECH, "handover.force", "{s:s, s:I}", "booth", "fr", "to",
	                              (json_int_t)BEN),
	                 -EINVAL);
	assert_int_equal(live_seen(f, TECH), ANA);

	/* Forced to BEN: CLARA's pending request is declined and she hears her source again. */
	assert_int_equal(fake_message(f, TECH, "handover.force", "{s:s, s:I}", "booth", "es-en",
	                              "to", (json_int_t)BEN),
	                 0);
	assert_int_equal(live_seen(f, TECH), BEN);
	assert_true(json_is_null(json_object_get(booth_seen(f, TECH), "pending")));
	assert_int_equal(fake_hears(f, CLARA), FLOOR);
	assert_int_equal(fake_count(f, CLARA, "interpretation.handover"),
	                 3); /* requested, declined, done */
	assert_string_equal(str_of(fake_last(f, ANA, "interpretation.handover"), "state"), "done");
	assert_int_equal(fake_audio(f, ANA, 2), -EPERM);
	assert_int_equal(fake_audio(f, BEN, 3), 0);
	assert_contiguous(f, EN);
}

/* ---- media time ---- */

static void direction_switch(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	for (unsigned char i = 1; i <= 3; i++)
		assert_int_equal(fake_audio(f, ANA, i), 0);
	/* The speaker changes language: the booth turns round between two packets. */
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "es"), 0);
	assert_string_equal(str_of(booth_seen(f, TECH), "direction"), "es");
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "suggested_floor"),
	                    "en");
	/* It arrives late: the stamp follows the speech, not the arrival. */
	f->now += FRAME / 2;
	for (unsigned char i = 4; i <= 6; i++)
		assert_int_equal(fake_audio(f, ANA, i), 0);

	assert_int_equal(f->n_packets, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(f->packets[i].channel, i < 3 ? EN : ES);
	/* The interpreter's speech goes on without a gap or an overlap, now on es. */
	for (size_t i = 1; i < 6; i++)
		assert_int_equal(f->packets[i].media_time, f->packets[i - 1].media_time + FRAME);
	/* es starts a new run of packets: its listeners' decoders must know. */
	assert_true(f->packets[3].flags & PUENTE_FLAG_DISCONT);
	assert_int_equal(f->packets[3].seq, 0);
	assert_contiguous(f, ES);
	assert_contiguous(f, EN);

	/* Same direction again: nothing changes, the sender gets the state. */
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "floor"), -EINVAL);
	assert_int_equal(fake_message(f, BEN, "direction", "{s:s}", "channel", "en"), -EPERM);
}

static void pending_partner_follows_direction(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_hears(f, BEN), EN);
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_hears(f, BEN), ES);
}

static void handover_contiguity_under_jitter(void **state)
{
	struct fake_host *f = room(state);
	/* Arrival jitter in samples: packets come early and late around their 20 ms. */
	static const int jitter[] = {0, 300, -300, 900, -900, 0, 600, -600, 0, 0};

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	for (int i = 0; i < 10; i++) {
		f->now += (uint64_t)(int64_t)jitter[i];
		assert_int_equal(fake_audio(f, ANA, (unsigned char)i), 0);
	}
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, ANA, "handover.accept", NULL), 0);
	for (int i = 0; i < 10; i++) {
		f->now += (uint64_t)(int64_t)jitter[9 - i];
		assert_int_equal(fake_audio(f, BEN, (unsigned char)(100 + i)), 0);
	}
	assert_int_equal(f->n_packets, 20);
	assert_int_equal(f->packets[9].first_byte, 9);
	assert_int_equal(f->packets[10].first_byte, 100);
	/* No gap and no overlap where one voice hands over to the other. */
	assert_contiguous(f, ES);
}

static void idle_channel_reanchors(void **state)
{
	struct fake_host *f = room(state);
	uint64_t end;

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_audio(f, ANA, 1), 0);
	assert_int_equal(fake_audio(f, ANA, 2), 0);
	end = f->packets[1].media_time + FRAME;
	/* Two packets late is still the same run (network jitter)... */
	f->now += 2 * FRAME;
	assert_int_equal(fake_audio(f, ANA, 3), 0);
	assert_int_equal(f->packets[2].media_time, end);
	assert_false(f->packets[2].flags & PUENTE_FLAG_DISCONT);
	/* ... a second of nothing is not: the channel starts again on the room clock. */
	f->now += PUENTE_SAMPLE_RATE;
	assert_int_equal(fake_audio(f, ANA, 4), 0);
	assert_true(f->packets[3].flags & PUENTE_FLAG_DISCONT);
	/* A new run starts a jitter margin (60 ms) behind the room clock. */
	assert_int_equal(f->packets[3].media_time, f->now - FRAME - 2880);
	assert_int_equal(f->packets[3].seq, f->packets[2].seq + 1);
}

static void burst_then_pause_never_overlaps(void **state)
{
	struct fake_host *f = room(state);
	uint64_t end;

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	/* A network stall delivers ten packets at once: their stamps run ahead of the clock. */
	for (unsigned char i = 0; i < 10; i++) {
		f->now -= FRAME;
		assert_int_equal(fake_audio(f, ANA, i), 0);
	}
	f->now += FRAME;
	end = f->packets[9].media_time + FRAME;
	assert_true(end > f->now);
	/* A pause shorter than 200 ms is jitter: the run goes on, contiguous. */
	f->now += 3 * FRAME;
	assert_int_equal(fake_audio(f, ANA, 10), 0);
	assert_false(f->packets[10].flags & PUENTE_FLAG_DISCONT);
	assert_int_equal(f->packets[10].media_time, end);
	/* A longer one starts a new run, which never goes back over the burst. */
	end = f->packets[10].media_time + FRAME;
	f->now += 11 * FRAME;
	assert_int_equal(fake_audio(f, ANA, 11), 0);
	assert_true(f->packets[11].flags & PUENTE_FLAG_DISCONT);
	assert_true(f->packets[11].media_time >= end);
}

static void mute_and_cough(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, ANA, "mute", "{s:b}", "on", 1), 0);
	assert_true(json_is_true(json_object_get(booth_seen(f, TECH), "muted")));
	for (int i = 0; i < 5; i++)
		assert_int_equal(fake_audio(f, ANA, 1), -EPERM);
	assert_int_equal(f->n_packets, 0);
	assert_int_equal(fake_message(f, ANA, "mute", "{s:b}", "on", 0), 0);
	assert_int_equal(fake_audio(f, ANA, 2), 0);
	assert_int_equal(f->n_packets, 1);

	assert_int_equal(fake_message(f, ANA, "cough", "{s:b}", "on", 1), 0);
	assert_true(json_is_true(json_object_get(booth_seen(f, TECH), "cough")));
	assert_int_equal(fake_audio(f, ANA, 3), -EPERM);
	assert_int_equal(fake_message(f, ANA, "cough", "{s:b}", "on", 0), 0);
	assert_int_equal(fake_audio(f, ANA, 4), 0);
	assert_int_equal(f->n_packets, 2);
	assert_int_equal(f->packets[1].first_byte, 4);

	/* Only the live interpreter, and only with a boolean. */
	assert_int_equal(fake_message(f, BEN, "mute", "{s:b}", "on", 1), -EPERM);
	assert_int_equal(fake_message(f, ANA, "mute", "{s:s}", "on", "yes"), -EINVAL);
	assert_int_equal(fake_message(f, ANA, "cough", NULL), -EINVAL);
	/* A mute belongs to the one who pressed it: a handover clears it. */
	assert_int_equal(fake_message(f, ANA, "mute", "{s:b}", "on", 1), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, ANA, "handover.accept", NULL), 0);
	assert_false(json_is_true(json_object_get(booth_seen(f, TECH), "muted")));
	assert_int_equal(fake_audio(f, BEN, 5), 0);
}

/* ---- disconnects ---- */

static void live_disconnect_without_partner(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	listen_to(f, LEO, "en", NULL);
	assert_listening(f, LEO, EN, "en", "chosen");
	fake_disconnect(f, ANA);
	assert_int_equal(live_seen(f, LEO), 0);
	assert_int_equal(json_array_size(json_object_get(booth_seen(f, TECH), "partners")), 1);
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter");
	assert_int_equal(fake_audio(f, ANA, 1), -EPERM);
}

static void live_disconnect_with_pending_partner(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	listen_to(f, LEO, "en", NULL);
	assert_int_equal(fake_audio(f, ANA, 1), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	fake_disconnect(f, ANA);
	/* BEN had asked to take over: the channel goes on with BEN, the listener stays. */
	assert_int_equal(live_seen(f, LEO), BEN);
	assert_string_equal(str_of(fake_last(f, BEN, "interpretation.handover"), "state"), "done");
	assert_int_equal(fake_hears(f, BEN), FLOOR);
	assert_int_equal(fake_hears(f, LEO), EN);
	assert_int_equal(fake_count(f, LEO, "interpretation.listening"), 1);
	assert_int_equal(fake_audio(f, BEN, 2), 0);
	assert_contiguous(f, EN);
}

static void pending_partner_disconnect(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	fake_disconnect(f, BEN);
	assert_true(json_is_null(json_object_get(booth_seen(f, TECH), "pending")));
	assert_int_equal(fake_message(f, ANA, "handover.accept", NULL), -EBUSY);
	assert_int_equal(live_seen(f, TECH), ANA);
}

static void release(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	listen_to(f, LEO, "es", NULL);
	assert_int_equal(fake_message(f, ANA, "release", NULL), -EPERM);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, BEN, "release", NULL), -EPERM);
	assert_int_equal(fake_message(f, ANA, "release", NULL), 0);
	assert_int_equal(live_seen(f, TECH), 0);
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter");
	/* Released with a partner waiting: the partner goes on. */
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, ANA, "release", NULL), 0);
	assert_int_equal(live_seen(f, TECH), BEN);
	assert_listening(f, LEO, ES, "es", "chosen");
}

static void role_change_while_live(void **state)
{
	struct fake_host *f = room(state);

	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	/* A join for a client it knows (core.hello again): the old role leaves first. */
	f->plugin->client_join(f->state, ANA, PUENTE_ROLE_LISTENER);
	assert_int_equal(live_seen(f, TECH), 0);
	assert_int_equal(json_array_size(json_object_get(booth_seen(f, TECH), "partners")), 1);
	assert_int_equal(fake_audio(f, ANA, 1), -EPERM);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), -EPERM);
}

/* ---- listeners ---- */

static void listener_auto_follows_floor(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	fake_connect(f, LIA, PUENTE_ROLE_LISTENER);
	fake_connect(f, ORGANISER, PUENTE_ROLE_ORGANISER);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	/* A browser's tag: en-GB matches the en channel. */
	listen_to(f, LEO, "auto", "en-GB");
	listen_to(f, LIA, "auto", "es");
	assert_listening(f, LEO, EN, "en", "interpretation");
	assert_listening(f, LIA, FLOOR, "floor", "floor_is_your_language");
	assert_string_equal(str_of(fake_last(f, LEO, "interpretation.listening"), "language"),
	                    "en-GB");

	/* The speaker changes to English; the booth turns round; the organiser confirms. */
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "es"), 0);
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter"); /* en carries nothing yet */
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "suggested_floor"),
	                    "en");
	/* The suggestion is shown, never applied by itself. */
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "floor_language"),
	                    "es");
	assert_int_equal(fake_message(f, ORGANISER, "floor", "{s:s}", "language", "en"), 0);
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "floor_language"),
	                    "en");
	assert_true(json_is_null(
	    json_object_get(fake_last(f, TECH, "interpretation.state"), "suggested_floor")));
	assert_listening(f, LEO, FLOOR, "floor", "floor_is_your_language");
	assert_listening(f, LIA, ES, "es", "interpretation");
}

static void listener_fallback_floor_and_back(void **state)
{
	struct fake_host *f = room(state);
	size_t moves;

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	listen_to(f, LEO, "en", NULL);
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter");
	assert_string_equal(str_of(fake_last(f, LEO, "interpretation.listening"), "choice"), "en");
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_listening(f, LEO, EN, "en", "chosen");
	moves = fake_subscribes(f, LEO);
	/* A change that does not concern it moves it nowhere. */
	assert_int_equal(fake_message(f, ANA, "mute", "{s:b}", "on", 1), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, ANA, "handover.accept", NULL), 0);
	assert_int_equal(fake_subscribes(f, LEO), moves);
	assert_int_equal(fake_message(f, BEN, "release", NULL), 0);
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter");
	listen_to(f, LEO, "floor", NULL);
	assert_listening(f, LEO, FLOOR, "floor", "chosen");
}

static void listener_fallback_silence(void **state)
{
	struct fake_host *f = *state;

	fake_host_config(f, "fallback", "silence");
	f = room(state);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	listen_to(f, LEO, "auto", "en");
	assert_listening(f, LEO, EN, "en", "no_interpreter");
	assert_string_equal(str_of(fake_last(f, LEO, "interpretation.state"), "fallback"),
	                    "silence");
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_listening(f, LEO, EN, "en", "interpretation");
	assert_int_equal(fake_subscribes(f, LEO), 1);
	/* A language nobody interprets: the floor, with the reason. */
	listen_to(f, LEO, "auto", "de");
	assert_listening(f, LEO, FLOOR, "floor", "no_interpreter");
}

static void listen_refusals(void **state)
{
	struct fake_host *f = room(state);

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_message(f, LEO, "listen", "{s:s}", "choice", "auto"), -EINVAL);
	assert_int_equal(fake_message(f, LEO, "listen", "{s:s}", "choice", "fr"), -EINVAL);
	assert_int_equal(fake_message(f, LEO, "listen", "{s:i}", "choice", 2), -EINVAL);
	assert_int_equal(
	    fake_message(f, LEO, "listen", "{s:s, s:s}", "choice", "auto", "language", "<b>es</b>"),
	    -EINVAL);
	assert_int_equal(
	    fake_message(f, LEO, "listen", "{s:s, s:s}", "choice", "auto", "language", "floor"),
	    -EINVAL);
	assert_int_equal(fake_count(f, LEO, "interpretation.listening"), 0);
	assert_int_equal(fake_subscribes(f, LEO), 0);
	/* Interpreters choose a source instead. */
	assert_int_equal(fake_message(f, ANA, "listen", "{s:s}", "choice", "floor"), -EPERM);
}

/* ---- interpreters' sources ---- */

static void interpreter_source(void **state)
{
	struct fake_host *f = *state;
	static const char *const names[] = {"floor", "es", "en", "fr"};
	static const char *const langs[] = {"", "es", "en", "fr"};

	fake_host_channels(f, names, langs, 4);
	fake_host_config(f, "booths", "es-en, fr");
	f = room(state);
	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "fr"), 0);
	/* Relay interpretation: the French booth hears the English channel. */
	assert_int_equal(fake_message(f, CLARA, "source", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_hears(f, CLARA), EN);
	assert_int_equal(fake_message(f, CLARA, "source", "{s:s}", "channel", "fr"), -EINVAL);
	assert_int_equal(fake_message(f, CLARA, "source", "{s:s}", "channel", "de"), -EINVAL);
	assert_int_equal(fake_message(f, LEO, "source", "{s:s}", "channel", "en"), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "claim", "{s:s}", "channel", "fr"), 0);
	assert_int_equal(fake_audio(f, CLARA, 1), 0);
	assert_int_equal(f->packets[0].channel, FR);
	/* A one-way booth says nothing about the floor. */
	assert_true(json_is_null(
	    json_object_get(fake_last(f, TECH, "interpretation.state"), "suggested_floor")));
	/* The live one cannot leave its booth for another. */
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), -EBUSY);
	/* A partner waiting for a handover keeps hearing the live channel until it ends. */
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_message(f, BEN, "handover.request", NULL), 0);
	assert_int_equal(fake_message(f, BEN, "source", "{s:s}", "channel", "fr"), 0);
	assert_int_equal(fake_hears(f, BEN), EN);
	assert_int_equal(fake_message(f, ANA, "handover.decline", NULL), 0);
	assert_int_equal(fake_hears(f, BEN), FR);
}

/* ---- roles and bad input ---- */

static void role_refusals(void **state)
{
	struct fake_host *f = room(state);
	size_t sent;

	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	fake_connect(f, CLARA, PUENTE_ROLE_CAPTIONER);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), 0);
	sent = f->n_sent;
	assert_int_equal(fake_message(f, LEO, "join", "{s:s}", "booth", "es-en"), -EPERM);
	assert_int_equal(fake_message(f, LEO, "claim", "{s:s}", "channel", "en"), -EPERM);
	assert_int_equal(fake_message(f, LEO, "floor", "{s:s}", "language", "en"), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "floor", "{s:s}", "language", "en"), -EPERM);
	assert_int_equal(fake_message(f, ANA, "floor", "{s:s}", "language", "en"), -EPERM);
	assert_int_equal(fake_message(f, LEO, "release", NULL), -EPERM);
	assert_int_equal(fake_message(f, LEO, "mute", "{s:b}", "on", 1), -EPERM);
	assert_int_equal(fake_message(f, LEO, "handover.request", NULL), -EPERM);
	assert_int_equal(fake_message(f, LEO, "handover.accept", NULL), -EPERM);
	assert_int_equal(fake_audio(f, LEO, 1), -EPERM);
	assert_int_equal(fake_audio(f, TECH, 1), -EPERM);
	/* A client the plugin never saw join has no role it can trust. */
	assert_int_equal(fake_message(f, 999, "listen", "{s:s}", "choice", "floor"), -EPERM);
	assert_int_equal(fake_message(f, LEO, "shout", NULL), -ENOENT);
	assert_int_equal(fake_message(f, LEO, "handover", NULL), -ENOENT);
	/* Nothing moved, nothing was published, nobody was told anything. */
	assert_int_equal(f->n_sent, sent);
	assert_int_equal(f->n_packets, 0);
	assert_int_equal(fake_subscribes(f, LEO), 0);
	assert_int_equal(live_seen(f, TECH), ANA);
	assert_string_equal(str_of(fake_last(f, TECH, "interpretation.state"), "floor_language"),
	                    "es");
}

static void floor_language(void **state)
{
	struct fake_host *f = room(state);
	size_t n;

	assert_int_equal(fake_message(f, TECH, "floor", "{s:s}", "language", "es"), 0);
	/* No change: only the sender hears back. */
	assert_int_equal(fake_count(f, ANA, "interpretation.state"), 3);
	/* A channel id stands for its language; anything else must look like a tag. */
	assert_int_equal(fake_message(f, TECH, "floor", "{s:s}", "language", "pt-BR"), 0);
	assert_string_equal(str_of(fake_last(f, ANA, "interpretation.state"), "floor_language"),
	                    "pt-BR");
	n = fake_count(f, ANA, "interpretation.state");
	assert_int_equal(fake_message(f, TECH, "floor", "{s:s}", "language", "floor"), -EINVAL);
	assert_int_equal(fake_message(f, TECH, "floor", "{s:s}", "language", "e s"), -EINVAL);
	assert_int_equal(fake_message(f, TECH, "floor", "{s:s}", "language", ""), -EINVAL);
	assert_int_equal(fake_message(f, TECH, "floor", "{s:n}", "language"), -EINVAL);
	assert_int_equal(fake_message(f, TECH, "floor", "{s:s%}", "language", "e\0s", (size_t)3),
	                 -EINVAL);
	assert_int_equal(fake_count(f, ANA, "interpretation.state"), n);
}

/* ---- invitations: booths grants ---- */

/* floor, es, en, fr; booths es-en and fr; the technician connected. */
static struct fake_host *two_booths(void **state)
{
	struct fake_host *f = *state;
	static const char *const names[] = {"floor", "es", "en", "fr"};
	static const char *const langs[] = {"", "es", "en", "fr"};

	fake_host_channels(f, names, langs, 4);
	fake_host_config(f, "booths", "es-en, fr");
	assert_int_equal(fake_host_start(f), 0);
	fake_connect(f, TECH, PUENTE_ROLE_TECHNICIAN);
	return f;
}

/* The booth ids of allowed_booths in the last state a client got, joined by ','. */
static const char *allowed_seen(const struct fake_host *f, puente_client_id id)
{
	static char out[128];
	const json_t *a =
	    json_object_get(fake_last(f, id, "interpretation.state"), "allowed_booths");
	const json_t *v;
	size_t i;

	if (!a)
		return NULL;
	assert_true(json_is_array(a));
	out[0] = 0;
	json_array_foreach(a, i, v) snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
	                                     i ? "," : "", json_string_value(v));
	return out;
}

/* Ends the plugin now, for the counts it logs as it stops. */
static void stop(struct fake_host *f)
{
	f->plugin->destroy(f->state);
	f->started = false;
}

static void grant_limits_booths(void **state)
{
	struct fake_host *f = two_booths(state);

	fake_grant(f, ANA, "booths", "fr");
	fake_connect(f, ANA, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, BEN, PUENTE_ROLE_INTERPRETER); /* no grant: any booth */
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_string_equal(allowed_seen(f, ANA), "fr");
	assert_string_equal(allowed_seen(f, BEN), "es-en,fr");
	/* Only interpreters are told: everyone else gets the state as before. */
	assert_null(allowed_seen(f, LEO));
	assert_null(allowed_seen(f, TECH));

	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "es-en"), -EPERM);
	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "fr"), 0);
	/* A channel of a booth it may not use is refused as such, not as a bad field. */
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "es"), -EPERM);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "floor"), -EINVAL);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "fr"), 0);
	assert_int_equal(fake_message(f, ANA, "direction", "{s:s}", "channel", "en"), -EPERM);
	assert_int_equal(fake_audio(f, ANA, 7), 0);
	assert_int_equal(f->n_packets, 1);
	assert_int_equal(f->packets[0].channel, FR);
	/* Every later state still tells each interpreter its own booths. */
	assert_string_equal(allowed_seen(f, ANA), "fr");
	assert_string_equal(allowed_seen(f, BEN), "es-en,fr");

	/* The unrestricted partner is refused only what was always refused. */
	assert_int_equal(fake_message(f, BEN, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, BEN, "claim", "{s:s}", "channel", "fr"), -EINVAL);
	assert_int_equal(fake_message(f, BEN, "claim", "{s:s}", "channel", "es"), 0);
	stop(f);
	assert_int_equal(fake_log_count(f, "3 booth commands refused by invitations"), 1);
}

static void grant_channels_stand_for_their_booth(void **state)
{
	struct fake_host *f = two_booths(state);

	fake_grant(f, CLARA, "booths", " es , en ");
	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	assert_string_equal(allowed_seen(f, CLARA), "es-en");
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "fr"), -EPERM);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, CLARA, "claim", "{s:s}", "channel", "en"), 0);
	assert_int_equal(fake_message(f, CLARA, "direction", "{s:s}", "channel", "es"), 0);
	assert_int_equal(fake_message(f, CLARA, "direction", "{s:s}", "channel", "fr"), -EPERM);
	assert_string_equal(str_of(booth_seen(f, TECH), "direction"), "es");
}

static void grant_force_respects_invitation(void **state)
{
	struct fake_host *f = two_booths(state);
	const json_t *fr;

	fake_grant(f, ANA, "booths", "fr");
	fake_grant(f, CLARA, "booths", "es-en");
	fake_connect(f, ANA, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "fr"), 0);
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "fr"), 0);
	assert_int_equal(fake_message(f, CLARA, "join", "{s:s}", "booth", "es-en"), 0);
	/* The technician cannot hand booth fr to someone whose invitation is for es-en. */
	assert_int_equal(fake_message(f, TECH, "handover.force", "{s:s, s:I}", "booth", "fr", "to",
	                              (json_int_t)CLARA),
	                 -EPERM);
	fr = json_array_get(json_object_get(fake_last(f, TECH, "interpretation.state"), "booths"),
	                    1);
	assert_string_equal(str_of(fr, "id"), "fr");
	assert_int_equal(id_of(json_object_get(fr, "live")), ANA);
}

static void grant_unknown_booth_allows_nothing(void **state)
{
	struct fake_host *f = two_booths(state);

	fake_grant(f, ANA, "booths", "de,,fr-it");
	fake_connect(f, ANA, PUENTE_ROLE_INTERPRETER);
	assert_string_equal(allowed_seen(f, ANA), "");
	assert_int_equal(fake_log_count(f, "names booth 'de', which this room does not have"), 1);
	assert_int_equal(fake_log_count(f, "names booth 'fr-it'"), 1);
	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "fr"), -EPERM);
	assert_int_equal(fake_message(f, ANA, "join", "{s:s}", "booth", "es-en"), -EPERM);
}

/* A relay from before invitations has no client_grant: every booth, as always. */
static void grant_old_host_unrestricted(void **state)
{
	struct fake_host *f = *state;

	f->host.size = offsetof(struct puente_host, client_grant);
	fake_grant(f, ANA, "booths", "fr");
	f = room(state);
	fake_connect(f, CLARA, PUENTE_ROLE_INTERPRETER);
	assert_string_equal(allowed_seen(f, ANA), "es-en");
	assert_int_equal(fake_message(f, ANA, "claim", "{s:s}", "channel", "en"), 0);
}

/* ---- configuration ---- */

static void expect_refused(void **state, const char *key, const char *value, const char *says)
{
	struct fake_host *f = *state;

	fake_host_config(f, key, value);
	assert_int_equal(fake_host_start(f), -EINVAL);
	assert_int_equal(f->n_log_errors, 1);
	assert_non_null(strstr(f->last_log, says));
}

static void config_unknown_channel(void **state)
{
	expect_refused(state, "booths", "es-en,fr", "unknown channel 'fr'");
}

static void config_channel_in_two_booths(void **state)
{
	expect_refused(state, "booths", "es-en, en", "channel 'en' is in two booths");
}

static void config_channel_twice_in_a_booth(void **state)
{
	expect_refused(state, "booths", "es-es", "channel 'es' is in two booths");
}

static void config_floor_in_booth(void **state)
{
	expect_refused(state, "booths", "floor-en", "the floor cannot be in a booth");
}

static void config_empty_booth(void **state)
{
	expect_refused(state, "booths", "es-en,", "empty booth");
}

static void config_bad_fallback(void **state)
{
	expect_refused(state, "fallback", "loud", "neither floor nor silence");
}

static void config_bad_floor_language(void **state)
{
	expect_refused(state, "floor_language", "floor", "floor_language");
}

static void config_no_floor(void **state)
{
	struct fake_host *f = *state;
	static const char *const names[] = {"sala", "es"};
	static const char *const langs[] = {"", "es"};

	fake_host_channels(f, names, langs, 2);
	assert_int_equal(fake_host_start(f), -EINVAL);
	assert_int_equal(f->n_log_errors, 1);
}

static void config_floor_language_by_channel(void **state)
{
	struct fake_host *f = *state;
	static const char *const names[] = {"floor", "sala2", "en"};
	static const char *const langs[] = {"", "es-MX", "en"};

	fake_host_channels(f, names, langs, 3);
	fake_host_config(f, "booths", " sala2 - en ");
	fake_host_config(f, "floor_language", "sala2");
	assert_int_equal(fake_host_start(f), 0);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	assert_string_equal(str_of(fake_last(f, LEO, "interpretation.state"), "floor_language"),
	                    "es-MX");
	assert_string_equal(str_of(booth_seen(f, LEO), "id"), "sala2-en");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(join_sends_state),
	    T(claim),
	    T(claim_race),
	    T(claim_outside_booth),
	    T(handover_accept),
	    T(handover_decline),
	    T(handover_request_refusals),
	    T(handover_force),
	    T(direction_switch),
	    T(pending_partner_follows_direction),
	    T(handover_contiguity_under_jitter),
	    T(idle_channel_reanchors),
	    T(burst_then_pause_never_overlaps),
	    T(mute_and_cough),
	    T(live_disconnect_without_partner),
	    T(live_disconnect_with_pending_partner),
	    T(pending_partner_disconnect),
	    T(role_change_while_live),
	    T(release),
	    T(listener_auto_follows_floor),
	    T(listener_fallback_floor_and_back),
	    T(listener_fallback_silence),
	    T(listen_refusals),
	    T(interpreter_source),
	    T(role_refusals),
	    T(floor_language),
	    T(grant_limits_booths),
	    T(grant_channels_stand_for_their_booth),
	    T(grant_force_respects_invitation),
	    T(grant_unknown_booth_allows_nothing),
	    T(grant_old_host_unrestricted),
	    T(config_unknown_channel),
	    T(config_channel_in_two_booths),
	    T(config_channel_twice_in_a_booth),
	    T(config_floor_in_booth),
	    T(config_empty_booth),
	    T(config_bad_fallback),
	    T(config_bad_floor_language),
	    T(config_no_floor),
	    T(config_floor_language_by_channel),
	};

	return cmocka_run_group_tests_name("plugin_interpretation", tests, NULL, NULL);
}
