/*
 * The built module as the relay's loader sees it: one exported entry symbol,
 * a descriptor of this ABI named "levels", its helpers hidden, an init that
 * succeeds on the default configuration and registers /levels/metrics and a
 * 100 ms timer. argv[1] is the path of levels.so.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_host.h"

static const char *module_path;

static void loads(void **state)
{
	void *dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	puente_plugin_entry_fn entry;
	const struct puente_plugin *p;
	struct fake_host f;

	(void)state;
	assert_non_null(dl);
	*(void **)&entry = dlsym(dl, PUENTE_PLUGIN_SYMBOL);
	assert_non_null(entry);
	assert_null(dlsym(dl, "meter_feed"));
	assert_null(dlsym(dl, "alarms_set"));
	assert_null(dlsym(dl, "levels_plugin"));
	p = entry();
	assert_int_equal(p->abi, PUENTE_PLUGIN_ABI);
	assert_int_equal(p->size, sizeof(struct puente_plugin));
	assert_string_equal(p->name, "levels");
	assert_non_null(p->message);
	assert_non_null(p->audio);
	assert_non_null(p->tick);

	fake_host_init(&f, p);
	assert_int_equal(fake_host_start(&f), 0);
	assert_int_equal(f.n_routes, 1);
	assert_string_equal(f.routes[0].path, "/levels/metrics");
	assert_int_equal(f.tick_ms, 100);
	fake_host_fini(&f);
	dlclose(dl);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loads),
	};

	if (argc != 2)
		return 2;
	module_path = argv[1];
	return cmocka_run_group_tests_name("plugin_levels_load", tests, NULL, NULL);
}
