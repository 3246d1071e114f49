/*
 * Who may send what: a plugin's tests give a table with one row per message
 * type it accepts and the roles it accepts it from; role_matrix_run sends each
 * message once from a client of every role, each on a fresh plugin, and
 * checks the table. A role the row allows must be accepted (0) in the state
 * the row's setup reaches; any other role must be refused with -EPERM and
 * leave no trace: nothing sent, published or moved.
 */
#ifndef PUENTE_ROLE_MATRIX_H
#define PUENTE_ROLE_MATRIX_H

#include <stdbool.h>

#include "fake_host.h"

/* The client whose role each cell tries; setups may connect others (ids >= 2). */
#define ROLE_SUBJECT ((puente_client_id)1)

/* The columns of a row, in the order of enum puente_role. */
#define Y 1u
#define N 0u
#define ROLES(listener, interpreter, captioner, technician, organiser)                             \
	((listener) << PUENTE_ROLE_LISTENER | (interpreter) << PUENTE_ROLE_INTERPRETER |           \
	 (captioner) << PUENTE_ROLE_CAPTIONER | (technician) << PUENTE_ROLE_TECHNICIAN |           \
	 (organiser) << PUENTE_ROLE_ORGANISER)

/* The verb of a row that sends a binary audio frame (the plugin's audio entry) instead. */
#define ROLE_AUDIO NULL

struct role_row {
	const char *verb; /* "<plugin>.<verb>" without "<plugin>.", or ROLE_AUDIO */
	unsigned allowed; /* ROLES(...) */
	const char *body; /* the message's fields as JSON text, "type" added */
	/* Brings the plugin to where the message makes sense for the subject; NULL: nothing. */
	void (*setup)(struct fake_host *f);
};

/* A started plugin on f (fake_host_init and fake_host_start included). */
typedef void (*role_start_fn)(struct fake_host *f);

void role_matrix_run(const struct role_row *rows, size_t n, role_start_fn start);

#endif
