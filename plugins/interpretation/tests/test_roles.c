/*
 * Who may send each interpretation message (README "Who may send
 * what"): the table below is that matrix, checked for every role on the fake
 * relay. Room: floor, es, en; booth es-en. PARTNER and OTHER are interpreters
 * the setups bring in; the subject (ROLE_SUBJECT) tries every row in every role.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "role_matrix.h"

const struct puente_plugin *puente_plugin_entry(void);

enum { PARTNER = 2, OTHER = 3 };

static void start(struct fake_host *f)
{
	fake_host_init(f, puente_plugin_entry());
	assert_int_equal(fake_host_start(f), 0);
}

/* The setups: where each message makes sense when the subject is an interpreter. */

static void subject_in_booth(struct fake_host *f)
{
	fake_message(f, ROLE_SUBJECT, "join", "{s:s}", "booth", "es-en");
}

static void subject_live(struct fake_host *f)
{
	subject_in_booth(f);
	fake_message(f, ROLE_SUBJECT, "claim", "{s:s}", "channel", "en");
}

static void partner_live(struct fake_host *f)
{
	fake_connect(f, PARTNER, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, PARTNER, "join", "{s:s}", "booth", "es-en"), 0);
	assert_int_equal(fake_message(f, PARTNER, "claim", "{s:s}", "channel", "en"), 0);
}

static void subject_in_booth_partner_live(struct fake_host *f)
{
	partner_live(f);
	subject_in_booth(f);
}

static void subject_live_partner_asks(struct fake_host *f)
{
	subject_live(f);
	fake_connect(f, PARTNER, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, PARTNER, "join", "{s:s}", "booth", "es-en"), 0);
	fake_message(f, PARTNER, "handover.request", NULL);
}

/* PARTNER live, OTHER in the booth: a technician may hand the booth to OTHER (id 3). */
static void two_partners(struct fake_host *f)
{
	partner_live(f);
	fake_connect(f, OTHER, PUENTE_ROLE_INTERPRETER);
	assert_int_equal(fake_message(f, OTHER, "join", "{s:s}", "booth", "es-en"), 0);
}

/*
 * One row per message type. ROLES(listener, interpreter, captioner,
 * technician, organiser): Y may send it, N is refused (-EPERM).
 */
/* clang-format off */
static const struct role_row rows[] = {
	/* interpretation.*        L  I  C  T  O   body                                             setup */
	{"join",             ROLES(N, Y, N, N, N), "{\"booth\": \"es-en\"}",                        NULL},
	{"source",           ROLES(N, Y, N, N, N), "{\"channel\": \"floor\"}",                      NULL},
	{"claim",            ROLES(N, Y, N, N, N), "{\"channel\": \"en\"}",                         subject_in_booth},
	{"release",          ROLES(N, Y, N, N, N), "{}",                                            subject_live},
	{"direction",        ROLES(N, Y, N, N, N), "{\"channel\": \"es\"}",                         subject_live},
	{"mute",             ROLES(N, Y, N, N, N), "{\"on\": true}",                                subject_live},
	{"cough",            ROLES(N, Y, N, N, N), "{\"on\": true}",                                subject_live},
	{"handover.request", ROLES(N, Y, N, N, N), "{}",                                            subject_in_booth_partner_live},
	{"handover.accept",  ROLES(N, Y, N, N, N), "{}",                                            subject_live_partner_asks},
	{"handover.decline", ROLES(N, Y, N, N, N), "{}",                                            subject_live_partner_asks},
	{"handover.force",   ROLES(N, N, N, Y, N), "{\"booth\": \"es-en\", \"to\": 3}",             two_partners},
	{"floor",            ROLES(N, N, N, Y, Y), "{\"language\": \"en\"}",                        NULL},
	{"listen",           ROLES(Y, N, Y, Y, Y), "{\"choice\": \"auto\", \"language\": \"en\"}",  NULL},
	{ROLE_AUDIO,         ROLES(N, Y, N, N, N), NULL,                                            subject_live},
};
/* clang-format on */

static void interpretation_roles(void **unused)
{
	(void)unused;
	role_matrix_run(rows, sizeof(rows) / sizeof(rows[0]), start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(interpretation_roles),
	};

	return cmocka_run_group_tests_name("plugin_interpretation_roles", tests, NULL, NULL);
}
