/* Configuration: embedded default, file overlay, validation messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/puente-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_embedded_default(void **state)
{
	struct puente__config c;

	(void)state;
	assert_int_equal(puente__config_defaults(&c), 0);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.frame_ms, 20);
	assert_int_equal(c.bitrate, 32000);
	assert_int_equal(c.n_channels, 3);
	assert_string_equal(c.channels[0].name, "floor");
	assert_string_equal(c.channels[1].name, "es");
	assert_string_equal(c.channels[1].lang, "es");
	assert_string_equal(c.channels[2].name, "en");
	assert_int_equal(c.source, PUENTE_SOURCE_AUTO);
	assert_true(c.libev);
	assert_int_equal(c.bundle_above, 1500);
	assert_int_equal(c.bundle_auto, 3);
	assert_int_equal(puente__config_validate(&c), 0);
	puente__config_fini(&c);
}

static void test_file_overrides_and_replaces_channels(void **state)
{
	struct puente__config c;
	char *path = write_tmp("[core]\nport = 9000\nframe_ms = 10\ntone = yes\n"
	                       "event_loop = poll\nbundle_above = 0\nbundle_auto = 2\n"
	                       "[channel.floor]\nlabel = Sala\n"
	                       "[channel.pt]\nlabel = Português\nlang = pt\n"
	                       "[plugin.captions]\nhistory = 20\n");

	(void)state;
	puente__config_defaults(&c);
	assert_int_equal(puente__config_load_file(&c, path), 0);
	assert_int_equal(c.port, 9000);
	assert_int_equal(c.frame_ms, 10);
	assert_int_equal(c.source, PUENTE_SOURCE_TONE);
	assert_false(c.libev);
	assert_int_equal(c.bundle_above, 0);
	assert_int_equal(c.bundle_auto, 2);
	assert_int_equal(c.n_channels, 2);
	assert_string_equal(c.channels[0].label, "Sala");
	assert_string_equal(c.channels[1].name, "pt");
	assert_int_equal(c.n_plugin_kv, 1);
	assert_string_equal(c.plugin_kv[0].section, "captions");
	assert_string_equal(c.plugin_kv[0].value, "20");
	assert_int_equal(puente__config_validate(&c), 0);
	puente__config_fini(&c);
	unlink(path);
}

static void test_bad_values_are_errors(void **state)
{
	struct puente__config c;
	char *path = write_tmp("[core]\nport = 70000\n");

	(void)state;
	puente__config_defaults(&c);
	assert_int_equal(puente__config_load_file(&c, path), -EINVAL);
	unlink(path);
	puente__config_fini(&c);

	puente__config_defaults(&c);
	path = write_tmp("[channel.Bad Name]\nlabel = x\n");
	assert_int_equal(puente__config_load_file(&c, path), -EINVAL);
	unlink(path);
	puente__config_fini(&c);

	puente__config_defaults(&c);
	path = write_tmp("this is not ini\n");
	assert_int_equal(puente__config_load_file(&c, path), -EINVAL);
	unlink(path);
	puente__config_fini(&c);

	static const char *const bad[] = {"[core]\nevent_loop = select\n",
	                                  "[core]\nbundle_auto = 4\n", "[core]\nbundle_auto = 0\n",
	                                  "[core]\nbundle_above = -1\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		puente__config_defaults(&c);
		path = write_tmp(bad[i]);
		assert_int_equal(puente__config_load_file(&c, path), -EINVAL);
		unlink(path);
		puente__config_fini(&c);
	}

	puente__config_defaults(&c);
	assert_int_equal(puente__config_load_file(&c, "/nonexistent/puente.ini"), -ENOENT);
	puente__config_fini(&c);
}

static void test_unknown_keys_only_warn(void **state)
{
	struct puente__config c;
	char *path = write_tmp("[core]\nfuture_knob = 1\n[somewhere]\nx = 1\n");

	(void)state;
	puente__config_defaults(&c);
	assert_int_equal(puente__config_load_file(&c, path), 0);
	puente__config_fini(&c);
	unlink(path);
}

static void test_validate_needs_floor(void **state)
{
	struct puente__config c;
	char *path = write_tmp("[channel.es]\nlabel = Español\n");

	(void)state;
	puente__config_defaults(&c);
	assert_int_equal(puente__config_load_file(&c, path), 0);
	assert_int_equal(puente__config_validate(&c), -EINVAL);
	puente__config_fini(&c);
	unlink(path);

	puente__config_defaults(&c);
	strcpy(c.output, "speakers");
	strcpy(c.output_channel, "fr");
	assert_int_equal(puente__config_validate(&c), -EINVAL);
	puente__config_fini(&c);
}

/* [access] and TLS: defaults, a file over them, flags' parser, bad values, pairs. */
static void test_access_and_tls(void **state)
{
	struct puente__config c;
	char *path;

	(void)state;
	puente__config_defaults(&c);
	assert_false(c.anonymous_listeners);
	assert_true(c.takeover);
	assert_int_equal(c.ban_failures, 10);
	assert_int_equal(c.ban_window_s, 120);
	assert_int_equal(c.ban_s, 300);
	assert_int_equal(c.max_pending_per_address, 8);
	assert_int_equal(c.max_conns_per_address, 20);
	assert_int_equal(c.message_burst, 20);
	assert_int_equal(c.captioner_rate, 30);
	assert_int_equal(c.tls_required, -1);
	assert_string_equal(c.invitees, "");
	path = write_tmp("[access]\ninvitees = people.json\nanonymous_listeners = yes\n"
	                 "duplicate = refuse\nban_time = 0\n");
	assert_int_equal(puente__config_load_file(&c, path), 0);
	unlink(path);
	assert_string_equal(c.invitees, "people.json");
	assert_true(c.anonymous_listeners);
	assert_false(c.takeover);
	assert_int_equal(c.ban_s, 0);
	assert_int_equal(puente__config_set_access(&c, "duplicate", "both"), -1);
	assert_int_equal(puente__config_set_access(&c, "max_conns_per_address", "-1"), -1);
	assert_int_equal(puente__config_set_access(&c, "no_such_key", "1"), 1);
	assert_int_equal(puente__config_validate(&c), 0);

	/* A certificate needs its key, and requiring TLS needs both. */
	assert_int_equal(puente__config_set_core(&c, "cert", "/etc/cert.pem"), 0);
	assert_int_equal(puente__config_validate(&c), -EINVAL);
	assert_int_equal(puente__config_set_core(&c, "key", "/etc/key.pem"), 0);
	assert_int_equal(puente__config_validate(&c), 0);
	puente__config_fini(&c);
	puente__config_defaults(&c);
	assert_int_equal(puente__config_set_core(&c, "tls_required", "yes"), 0);
	assert_int_equal(puente__config_validate(&c), -EINVAL);
	puente__config_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded_default),
	    cmocka_unit_test(test_file_overrides_and_replaces_channels),
	    cmocka_unit_test(test_bad_values_are_errors),
	    cmocka_unit_test(test_unknown_keys_only_warn),
	    cmocka_unit_test(test_validate_needs_floor),
	    cmocka_unit_test(test_access_and_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
