/* Control message parsing: each message kind, and each refusal with its wire code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "control.h"

static int parse(const char *text, struct puente__ctl *c)
{
	return puente__ctl_parse(text, strlen(text), c);
}

static void test_valid_messages(void **state)
{
	struct puente__ctl c;

	(void)state;
	assert_int_equal(parse("{\"type\":\"core.subscribe\",\"channel\":\"es\"}", &c), 0);
	assert_int_equal(c.kind, PUENTE_CTL_SUBSCRIBE);
	assert_string_equal(c.channel, "es");
	puente__ctl_fini(&c);

	assert_int_equal(parse("{\"type\":\"core.hello\",\"role\":\"listener\"}", &c), 0);
	assert_int_equal(c.kind, PUENTE_CTL_HELLO);
	assert_string_equal(c.role, "listener");
	puente__ctl_fini(&c);

	assert_int_equal(parse("{\"type\":\"core.hello\"}", &c), 0);
	assert_null(c.role);
	puente__ctl_fini(&c);

	assert_int_equal(parse("{\"type\":\"core.ping\",\"id\":[1,\"a\"]}", &c), 0);
	assert_int_equal(c.kind, PUENTE_CTL_PING);
	assert_true(json_is_array(c.id));
	puente__ctl_fini(&c);

	assert_int_equal(parse("{\"type\":\"core.unsubscribe\"}", &c), 0);
	assert_int_equal(c.kind, PUENTE_CTL_UNSUBSCRIBE);
	puente__ctl_fini(&c);

	assert_int_equal(parse("{\"type\":\"core.unban\",\"address\":\"2001:db8::7\"}", &c), 0);
	assert_int_equal(c.kind, PUENTE_CTL_UNBAN);
	assert_string_equal(c.address, "2001:db8::7");
	puente__ctl_fini(&c);
}

static void expect_error(const char *text, size_t len, const char *code)
{
	struct puente__ctl c;

	assert_int_equal(puente__ctl_parse(text, len, &c), -EINVAL);
	assert_string_equal(c.error, code);
	assert_non_null(c.message);
	puente__ctl_fini(&c);
}

static void test_refusals(void **state)
{
	static const char nul[] = "{\"type\":\"core.ping\"}\0trailing";

	(void)state;
	expect_error("not json", 8, "bad_json");
	expect_error("", 0, "bad_json");
	expect_error("[\"core.subscribe\"]", 18, "bad_json");
	expect_error("{\"type\":5}", 10, "bad_json");
	expect_error("{\"type\":\"core.subscribe\",\"channel\":\"a\",\"channel\":\"b\"}", 53,
	             "bad_json");
	expect_error(nul, sizeof(nul) - 1, "bad_json");
	expect_error("{\"type\":\"core.subscribe\"}", 25, "bad_field");
	expect_error("{\"type\":\"core.subscribe\",\"channel\":7}", 37, "bad_field");
	expect_error("{\"type\":\"core.hello\",\"role\":{}}", 31, "bad_field");
	expect_error("{\"type\":\"core.unban\"}", 21, "bad_field");
	expect_error("{\"type\":\"core.unban\",\"address\":\"\"}", 34, "bad_field");
	expect_error("{\"type\":\"core.unban\",\"address\":"
	             "\"123456789012345678901234567890123456789012345678\"}",
	             82, "bad_field");
	expect_error("{\"type\":\"core.nope\"}", 20, "unknown_type");
	expect_error("{\"type\":\"interp.claim\"}", 23, "unknown_type");
}

static void test_unknown_type_keeps_type_for_the_reply(void **state)
{
	struct puente__ctl c;

	(void)state;
	parse("{\"type\":\"core.nope\"}", &c);
	assert_string_equal(c.type, "core.nope");
	puente__ctl_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_messages),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_unknown_type_keeps_type_for_the_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
