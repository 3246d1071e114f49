/*
 * The built module as the relay's loader sees it: one exported entry symbol,
 * a descriptor of this ABI named "captions", an init that succeeds on the
 * default configuration (archive in memory only here) and registers its two
 * HTTP routes. argv[1] is the path of captions.so.
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
	assert_null(dlsym(dl, "text_utf8_valid"));
	assert_null(dlsym(dl, "archive_create"));
	assert_null(dlsym(dl, "captions_token_equal"));
	p = entry();
	assert_int_equal(p->abi, PUENTE_PLUGIN_ABI);
	assert_int_equal(p->size, sizeof(struct puente_plugin));
	assert_string_equal(p->name, "captions");
	assert_non_null(p->client_leave);
	assert_non_null(p->message);

	fake_host_init(&f, p);
	fake_host_config(&f, "archive_dir", "");
	assert_int_equal(fake_host_start(&f), 0);
	assert_int_equal(f.n_routes, 2);
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
	return cmocka_run_group_tests_name("plugin_captions_load", tests, NULL, NULL);
}
