/*
 * Who may enter: the invitee store (from puente-token), re-read when the
 * file changes so revocations take effect during the event, or, with no
 * store, one demo invitation per role made at start. Service thread only.
 */
#ifndef PUENTE_CORE_INVITES_H
#define PUENTE_CORE_INVITES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <puente/access.h>
#include <puente/plugin.h>

#include "config.h"

/* What a session keeps of its invitation (copies: the store may be re-read). */
struct puente__grant {
	bool invited; /* false: an anonymous listener */
	char id[32];
	char hash[PUENTE_TOKEN_HASH_LEN + 1];
	enum puente_role role;
	char *name;
	char *booths;
	char *languages;
};

struct puente__invites {
	const struct puente__config *cfg;
	struct puente_invitees list;
	bool demo;
	char demo_tokens[PUENTE_ROLE_COUNT][PUENTE_TOKEN_LEN + 1]; /* wiped once printed */
	struct timespec mtime;
	uint64_t checked_ns;
};

/* Loads the store, or makes the demo invitations. 0 or -errno (logged). */
int puente__invites_init(struct puente__invites *inv, const struct puente__config *cfg);
void puente__invites_fini(struct puente__invites *inv);

/* Judges a presented token; on OK (and EXPIRED, NOT_YET, REVOKED) fills *grant. */
enum puente_verdict puente__invites_check(struct puente__invites *inv, const char *token,
                                          size_t len, struct puente__grant *grant);
void puente__grant_fini(struct puente__grant *grant);

/*
 * Re-reads the store if its file changed (looked at once a second at most).
 * True when a new list is in place; a store that fails to load is logged
 * and the old list kept.
 */
bool puente__invites_reload(struct puente__invites *inv);
/* Whether a session's invitation still stands in the current list. */
bool puente__invites_still_valid(const struct puente__invites *inv,
                                 const struct puente__grant *grant);

/* Prints the demo links (to the console, never the log) and forgets the tokens. */
void puente__invites_print_demo(struct puente__invites *inv, const char *base_url, FILE *out);

#endif
