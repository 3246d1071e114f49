/*
 * The built module as the relay's loader sees it: one exported entry symbol,
 * a descriptor of this ABI named "interpretation", and an init that succeeds
 * on the default configuration. argv[1] is the path of interpretation.so.
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
	/* Everything else stays hidden: no symbol of the plugin can clash with the core's. */
	assert_null(dlsym(dl, "interp_init"));
	p = entry();
	assert_int_equal(p->abi, PUENTE_PLUGIN_ABI);
	assert_int_equal(p->size, sizeof(struct puente_plugin));
	assert_string_equal(p->name, "interpretation");
	assert_non_null(p->client_join);
	assert_non_null(p->client_leave);
	assert_non_null(p->message);
	assert_non_null(p->audio);

	fake_host_init(&f, p);
	assert_int_equal(fake_host_start(&f), 0);
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
	return cmocka_run_group_tests_name("plugin_interpretation_load", tests, NULL, NULL);
}
