/* Limits per client address: bans for bad links, caps on handshakes and WebSockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "gate.h"
#include "room.h"

struct fixture {
	struct puente__config cfg;
	struct puente__stats stats;
	struct puente__gate gate;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(puente__config_defaults(&f.cfg), 0);
	f.cfg.max_pending_per_address = 2;
	f.cfg.max_conns_per_address = 3;
	assert_int_equal(puente__gate_init(&f.gate, &f.cfg, &f.stats), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	puente__gate_fini(&f->gate);
	puente__config_fini(&f->cfg);
	return 0;
}

static struct sockaddr_in addr4(const char *ip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	return sa;
}

static void test_addresses_read_as_text(void **state)
{
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
	struct sockaddr_in sa = addr4("192.0.2.7");
	char out[PUENTE_ADDR_MAX], mapped[PUENTE_ADDR_MAX] = "::ffff:198.51.100.1";

	(void)state;
	puente__gate_addr((struct sockaddr *)&sa, out);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(inet_pton(AF_INET6, "::ffff:203.0.113.9", &sa6.sin6_addr), 1);
	puente__gate_addr((struct sockaddr *)&sa6, out);
	assert_string_equal(out, "203.0.113.9");
	puente__gate_addr_tidy(mapped);
	assert_string_equal(mapped, "198.51.100.1");
}

/* ban_failures (10) bad links ban one address and only that one. */
static void test_bad_links_ban_their_address(void **state)
{
	struct fixture *f = *state;
	unsigned retry = 0;

	for (int i = 0; i < f->cfg.ban_failures - 1; i++)
		puente__gate_failed(&f->gate, "192.0.2.2");
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.2", &retry), PUENTE_GATE_OK);
	assert_int_equal(f->stats.bans, 0);
	puente__gate_failed(&f->gate, "192.0.2.2");
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.2", &retry), PUENTE_GATE_BANNED);
	assert_true(retry >= (unsigned)f->cfg.ban_s - 1 && retry <= (unsigned)f->cfg.ban_s);
	assert_int_equal(f->stats.bans, 1);
	assert_int_equal(f->stats.banned_now, 1);
	assert_int_equal(f->stats.refused_banned, 1);
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.3", &retry), PUENTE_GATE_OK);
	/* The ban outlives a sweep: it is state worth keeping. */
	puente__gate_sweep(&f->gate);
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.2", &retry), PUENTE_GATE_BANNED);
	assert_int_equal(f->stats.banned_now, 1);
}

static void test_unban_lifts_a_ban(void **state)
{
	struct fixture *f = *state;
	struct puente__gate_ban bans[4];
	unsigned retry = 0;

	for (int i = 0; i < f->cfg.ban_failures; i++)
		puente__gate_failed(&f->gate, "192.0.2.9");
	assert_int_equal(puente__gate_bans(&f->gate, bans, 4), 1);
	assert_string_equal(bans[0].addr, "192.0.2.9");
	assert_true(bans[0].seconds > 0 && bans[0].seconds <= (unsigned)f->cfg.ban_s);
	assert_int_equal(puente__gate_unban(&f->gate, "192.0.2.10"), -ENOENT);
	assert_int_equal(puente__gate_unban(&f->gate, "192.0.2.9"), 0);
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.9", &retry), PUENTE_GATE_OK);
	assert_int_equal(puente__gate_bans(&f->gate, bans, 4), 0);
	assert_int_equal(f->stats.banned_now, 0);
	assert_int_equal(puente__gate_unban(&f->gate, "192.0.2.9"), -ENOENT);
	/* Its count of bad links starts again: one more is no ban. */
	assert_false(puente__gate_failed(&f->gate, "192.0.2.9"));
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.9", &retry), PUENTE_GATE_OK);
}

static void test_ban_time_zero_never_bans(void **state)
{
	struct fixture *f = *state;
	unsigned retry = 0;

	f->cfg.ban_s = 0;
	for (int i = 0; i < 50; i++)
		puente__gate_failed(&f->gate, "192.0.2.4");
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.4", &retry), PUENTE_GATE_OK);
	assert_int_equal(f->stats.bans, 0);
}

static void test_websockets_capped_per_address(void **state)
{
	struct fixture *f = *state;
	unsigned retry = 0;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(puente__gate_check(&f->gate, "192.0.2.5", &retry), PUENTE_GATE_OK);
		puente__gate_open(&f->gate, "192.0.2.5");
	}
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.5", &retry), PUENTE_GATE_TOO_MANY);
	assert_int_equal(f->stats.refused_conns, 1);
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.6", &retry), PUENTE_GATE_OK);
	puente__gate_close(&f->gate, "192.0.2.5");
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.5", &retry), PUENTE_GATE_OK);
	/* Open sockets keep their address through a sweep. */
	puente__gate_sweep(&f->gate);
	puente__gate_open(&f->gate, "192.0.2.5");
	assert_int_equal(puente__gate_check(&f->gate, "192.0.2.5", &retry), PUENTE_GATE_TOO_MANY);
}

/* Real descriptors: the sweep notices a handshake whose socket was closed. */
static void test_pending_handshakes_freed_by_the_sweep(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = addr4("192.0.2.8");
	int a[2], b[2], c[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_true(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, a[0]));
	assert_true(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, b[0]));
	assert_false(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, c[0]));
	assert_int_equal(f->stats.refused_pending, 1);

	/* One sends its request: room for another. */
	puente__gate_ready(&f->gate, a[0]);
	assert_true(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, c[0]));
	/* One hangs up during its handshake: the sweep gives its place back. */
	close(b[0]);
	close(b[1]);
	assert_false(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, a[1]));
	puente__gate_sweep(&f->gate);
	assert_true(puente__gate_accept(&f->gate, (struct sockaddr *)&sa, a[1]));
	close(a[0]);
	close(a[1]);
	close(c[0]);
	close(c[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addresses_read_as_text),
	    cmocka_unit_test_setup_teardown(test_bad_links_ban_their_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unban_lifts_a_ban, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ban_time_zero_never_bans, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_websockets_capped_per_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_handshakes_freed_by_the_sweep, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
