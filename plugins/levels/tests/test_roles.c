/*
 * Who may send each levels message (README "Who may send what"):
 * the table below is that matrix, checked for every role on the fake relay
 * (without channel readers: nothing is metered, the messages are what counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "levels.h"
#include "role_matrix.h"

static void start(struct fake_host *f)
{
	fake_host_init(f, &levels_plugin);
	fake_host_config(f, "metrics_token", "test-token-0123456789");
	assert_int_equal(fake_host_start(f), 0);
}

/*
 * One row per message type. ROLES(listener, interpreter, captioner,
 * technician, organiser): Y may send it, N is refused (-EPERM).
 */
/* clang-format off */
static const struct role_row rows[] = {
	/* levels.*         L  I  C  T  O   body                        setup */
	{"subscribe", ROLES(N, N, N, Y, Y), "{}",                       NULL},
	{"reset",     ROLES(N, N, N, Y, Y), "{\"channel\": \"floor\"}", NULL},
};
/* clang-format on */

static void levels_roles(void **unused)
{
	(void)unused;
	role_matrix_run(rows, sizeof(rows) / sizeof(rows[0]), start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(levels_roles),
	};

	return cmocka_run_group_tests_name("plugin_levels_roles", tests, NULL, NULL);
}
