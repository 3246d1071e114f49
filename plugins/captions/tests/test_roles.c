/*
 * Who may send each captions message (README "Who may send
 * what"): the table below is that matrix, checked for every role on the fake
 * relay. Caption languages es and en (the room's); the archive in memory only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "role_matrix.h"

const struct puente_plugin *puente_plugin_entry(void);

static void start(struct fake_host *f)
{
	fake_host_init(f, puente_plugin_entry());
	fake_host_config(f, "archive_dir", "");
	assert_int_equal(fake_host_start(f), 0);
}

/*
 * One row per message type. ROLES(listener, interpreter, captioner,
 * technician, organiser): Y may send it, N is refused (-EPERM).
 */
/* clang-format off */
static const struct role_row rows[] = {
	/* captions.*    L  I  C  T  O   body                                                       setup */
	{"cue",    ROLES(N, N, Y, N, N), "{\"lang\": \"es\", \"text\": \"Hola\", \"final\": true}", NULL},
	{"choose", ROLES(Y, Y, Y, Y, Y), "{\"lang\": \"es\"}",                                      NULL},
};
/* clang-format on */

static void captions_roles(void **unused)
{
	(void)unused;
	role_matrix_run(rows, sizeof(rows) / sizeof(rows[0]), start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(captions_roles),
	};

	return cmocka_run_group_tests_name("plugin_captions_roles", tests, NULL, NULL);
}
