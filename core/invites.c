/* Who may enter: the invitee store, re-read on change, or demo invitations. */
#include "invites.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "room.h"

#define RELOAD_EVERY_NS 1000000000ull

static int make_demo(struct puente__invites *inv)
{
	for (int r = 0; r < PUENTE_ROLE_COUNT; r++) {
		char hash[PUENTE_TOKEN_HASH_LEN + 1], id[32], name[64];
		const char *role = puente_role_to_name(r);

		if (puente_token_new(inv->demo_tokens[r]) ||
		    puente_token_hash(inv->demo_tokens[r], PUENTE_TOKEN_LEN, hash))
			return -EIO;
		snprintf(id, sizeof(id), "demo-%s", role);
		snprintf(name, sizeof(name), "Demo %s", role);
		struct puente_invitee one = {
		    .id = id, .hash = hash, .name = name, .role = (char *)role};
		if (puente_invitees_add(&inv->list, &one))
			return -ENOMEM;
	}
	return 0;
}

static int load(struct puente__invites *inv, struct puente_invitees *out)
{
	char err[256];
	int rc = puente_invitees_load(inv->cfg->invitees, out, err, sizeof(err));

	if (rc)
		log_error("%s", err);
	return rc;
}

int puente__invites_init(struct puente__invites *inv, const struct puente__config *cfg)
{
	struct stat st;
	int rc;

	memset(inv, 0, sizeof(*inv));
	inv->cfg = cfg;
	inv->checked_ns = puente__now_mono_ns();
	if (!cfg->invitees[0]) {
		inv->demo = true;
		rc = make_demo(inv);
		if (rc)
			log_error("cannot make the demo invitations (no randomness?)");
		return rc;
	}
	/* The file's time first: a change while it is read is then seen next time. */
	if (stat(cfg->invitees, &st)) {
		log_error("%s: cannot read the invitee store: %s", cfg->invitees, strerror(errno));
		return -errno;
	}
	inv->mtime = st.st_mtim;
	rc = load(inv, &inv->list);
	if (rc == 0)
		log_info("%zu invitation(s) from %s", inv->list.n, cfg->invitees);
	return rc;
}

void puente__invites_fini(struct puente__invites *inv)
{
	puente_invitees_free(&inv->list);
	memset(inv->demo_tokens, 0, sizeof(inv->demo_tokens));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

enum puente_verdict puente__invites_check(struct puente__invites *inv, const char *token,
                                          size_t len, struct puente__grant *grant)
{
	size_t i = 0;
	enum puente_verdict v = puente_invitees_check(&inv->list, token, len, (int64_t)time(NULL),
	                                              inv->cfg->clock_tolerance_s, &i);

	if (v == PUENTE_ACCESS_MALFORMED || v == PUENTE_ACCESS_UNKNOWN)
		return v;
	const struct puente_invitee *p = &inv->list.v[i];

	puente__grant_fini(grant);
	grant->invited = true;
	snprintf(grant->id, sizeof(grant->id), "%s", p->id);
	snprintf(grant->hash, sizeof(grant->hash), "%s", p->hash);
	grant->role = (enum puente_role)puente_role_from_name(p->role);
	grant->name = dup_or_null(p->name);
	grant->booths = dup_or_null(p->booths);
	grant->languages = dup_or_null(p->languages);
	return v;
}

void puente__grant_fini(struct puente__grant *grant)
{
	free(grant->name);
	free(grant->booths);
	free(grant->languages);
	memset(grant, 0, sizeof(*grant));
}

bool puente__invites_reload(struct puente__invites *inv)
{
	uint64_t now = puente__now_mono_ns();
	struct puente_invitees fresh = {0};
	struct stat st;

	if (inv->demo || now - inv->checked_ns < RELOAD_EVERY_NS)
		return false;
	inv->checked_ns = now;
	if (stat(inv->cfg->invitees, &st) ||
	    (st.st_mtim.tv_sec == inv->mtime.tv_sec && st.st_mtim.tv_nsec == inv->mtime.tv_nsec))
		return false;
	/* A broken file is not retried every second: it waits for its next change. */
	inv->mtime = st.st_mtim;
	if (load(inv, &fresh)) {
		log_warn("keeping the previous %zu invitation(s)", inv->list.n);
		return false;
	}
	puente_invitees_free(&inv->list);
	inv->list = fresh;
	log_info("invitee store changed: %zu invitation(s) now", inv->list.n);
	return true;
}

bool puente__invites_still_valid(const struct puente__invites *inv,
                                 const struct puente__grant *grant)
{
	long i;

	if (!grant->invited)
		return true;
	i = puente_invitees_find(&inv->list, grant->id);
	if (i < 0)
		return false;
	const struct puente_invitee *p = &inv->list.v[i];

	return !p->revoked_at && puente_token_hash_equal(p->hash, grant->hash);
}

void puente__invites_print_demo(struct puente__invites *inv, const char *base_url, FILE *out)
{
	if (!inv->demo)
		return;
	fprintf(out, "Demo links for this run (anyone with a link enters as that role):\n");
	for (int r = 0; r < PUENTE_ROLE_COUNT; r++)
		fprintf(out, "  %-12s %s%s#t=%s\n", puente_role_to_name(r), base_url,
		        puente_role_page(r), inv->demo_tokens[r]);
	fflush(out);
	memset(inv->demo_tokens, 0, sizeof(inv->demo_tokens));
}
