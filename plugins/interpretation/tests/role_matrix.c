/* The runner of role_matrix.h. */
#include "role_matrix.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

static const char *const role_names[PUENTE_ROLE_COUNT] = {
    "listener", "interpreter", "captioner", "technician", "organiser",
};

/* How many times the plugin moved any client: a refusal must not move anyone. */
static size_t all_subscribes(const struct fake_host *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_clients; i++)
		n += f->clients[i].subscribes;
	return n;
}

static int send_row(struct fake_host *f, const struct role_row *row)
{
	char type[128];
	json_error_t err;
	json_t *body;
	int rc;

	if (row->verb == ROLE_AUDIO)
		return fake_audio(f, ROLE_SUBJECT, 0x42);
	body = json_loads(row->body, 0, &err);
	if (!body)
		fail_msg("%s: body '%s' is not JSON: %s", row->verb, row->body, err.text);
	snprintf(type, sizeof(type), "%s.%s", f->plugin->name, row->verb);
	json_object_set_new(body, "type", json_string(type));
	rc = f->plugin->message(f->state, ROLE_SUBJECT, row->verb, body);
	json_decref(body);
	return rc;
}

static void run_cell(const struct role_row *row, enum puente_role role, role_start_fn start)
{
	struct fake_host f;
	bool allowed = row->allowed >> role & 1u;
	size_t sent, packets, moves;
	int rc;

	start(&f);
	fake_connect(&f, ROLE_SUBJECT, role);
	if (row->setup)
		row->setup(&f);
	sent = f.n_sent;
	packets = f.n_packets;
	moves = all_subscribes(&f);
	rc = send_row(&f, row);
	print_message("%-20s %-12s -> %d (%s)\n", row->verb ? row->verb : "(audio frame)",
	              role_names[role], rc, allowed ? "allowed" : "refused");
	if (allowed) {
		if (rc != 0)
			fail_msg("%s from a %s: expected 0, got %d",
			         row->verb ? row->verb : "audio", role_names[role], rc);
	} else {
		if (rc != -EPERM)
			fail_msg("%s from a %s: expected -EPERM, got %d",
			         row->verb ? row->verb : "audio", role_names[role], rc);
		assert_int_equal(f.n_sent, sent);
		assert_int_equal(f.n_packets, packets);
		assert_int_equal(all_subscribes(&f), moves);
	}
	fake_host_fini(&f);
}

void role_matrix_run(const struct role_row *rows, size_t n, role_start_fn start)
{
	for (size_t i = 0; i < n; i++)
		for (int role = 0; role < PUENTE_ROLE_COUNT; role++)
			run_cell(&rows[i], (enum puente_role)role, start);
}
