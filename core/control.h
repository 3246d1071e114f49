/*
 * Control messages (JSON text frames): parsing and validation, apart from
 * their effects, so that a fuzz target can reach every branch without a
 * socket. Service thread (or any single thread).
 */
#ifndef PUENTE_CORE_CONTROL_H
#define PUENTE_CORE_CONTROL_H

#include <jansson.h>
#include <stddef.h>

enum puente__ctl_kind {
	PUENTE_CTL_HELLO,
	PUENTE_CTL_SUBSCRIBE,
	PUENTE_CTL_UNSUBSCRIBE,
	PUENTE_CTL_PING,
	PUENTE_CTL_UNBAN,   /* a technician lifts an address's ban */
	PUENTE_CTL_UNKNOWN, /* a well-formed message of a type nobody handles */
};

struct puente__ctl {
	enum puente__ctl_kind kind;
	json_t *root;        /* owned; released by puente__ctl_fini */
	const char *type;    /* borrowed from root */
	const char *channel; /* subscribe */
	const char *role;    /* hello; NULL when absent */
	int bundle;          /* hello: packets per message 1..3, or 0 (absent, "auto") */
	json_t *id;          /* ping; borrowed, may be NULL */
	const char *address; /* unban */
	const char *error;   /* on failure: wire error code */
	const char *message; /* on failure: English text */
};

/*
 * Parses one complete text message. Returns 0, or -EINVAL with error and
 * message set (type too, when the message had one). Call puente__ctl_fini
 * either way.
 */
int puente__ctl_parse(const char *text, size_t len, struct puente__ctl *out);
void puente__ctl_fini(struct puente__ctl *c);

#endif
