/*
 * Reading the store (JSON) with every check the relay relies on: known
 * roles, well-formed hashes, unique e-mails and ids. Errors are one line
 * naming the file and the entry.
 */
#include "puente/access.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

struct loader {
	const char *path;
	char *err;
	size_t errlen;
};

static int fail(const struct loader *ld, size_t entry, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "PATH: entry N (ID): what" (entry 0 = the file as a whole). Returns -EINVAL. */
static int fail(const struct loader *ld, size_t entry, const char *id, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!entry)
		snprintf(ld->err, ld->errlen, "%s: %s", ld->path, what);
	else if (id)
		snprintf(ld->err, ld->errlen, "%s: entry %zu (%s): %s", ld->path, entry, id, what);
	else
		snprintf(ld->err, ld->errlen, "%s: entry %zu: %s", ld->path, entry, what);
	return -EINVAL;
}

/* A string field: 1 with *out set, 0 when null or missing, -1 for another type. */
static int str_field(const json_t *o, const char *key, const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

/* A time field: unix seconds >= 0; missing or null is 0. */
static bool time_field(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

static bool hex64(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return n == PUENTE_TOKEN_HASH_LEN;
}

static int load_entry(const struct loader *ld, size_t k, const json_t *e,
                      struct puente_invitees *out)
{
	static const char *const optional[] = {"name",   "lang",   "country",  "sector",
	                                       "gender", "booths", "languages"};
	const char *opt[sizeof(optional) / sizeof(optional[0])];
	struct puente_invitee inv = {0};
	int role;

	if (!json_is_object(e))
		return fail(ld, k, NULL, "not a JSON object");
	if (str_field(e, "id", (const char **)&inv.id) != 1 || !*inv.id)
		return fail(ld, k, NULL, "no id");
	if (str_field(e, "hash", (const char **)&inv.hash) != 1)
		return fail(ld, k, inv.id, "no hash");
	if (!hex64(inv.hash))
		return fail(ld, k, inv.id, "hash is not 64 lowercase hex digits");
	if (str_field(e, "email", (const char **)&inv.email) != 1 || !strchr(inv.email, '@'))
		return fail(ld, k, inv.id, "no e-mail address");
	if (str_field(e, "role", (const char **)&inv.role) != 1)
		return fail(ld, k, inv.id, "no role");
	role = puente_role_from_name(inv.role);
	if (role < 0)
		return fail(ld, k, inv.id, "unknown role \"%.40s\"", inv.role);
	inv.role = (char *)puente_role_to_name(role);
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (str_field(e, optional[i], &opt[i]) < 0)
			return fail(ld, k, inv.id, "\"%s\" is not a string", optional[i]);
	inv.name = (char *)opt[0];
	inv.lang = (char *)opt[1];
	inv.country = (char *)opt[2];
	inv.sector = (char *)opt[3];
	inv.gender = (char *)opt[4];
	inv.booths = (char *)opt[5];
	inv.languages = (char *)opt[6];
	if (!time_field(e, "not_before", &inv.not_before) ||
	    !time_field(e, "not_after", &inv.not_after) ||
	    !time_field(e, "revoked_at", &inv.revoked_at))
		return fail(ld, k, inv.id, "times must be unix seconds (0 for none)");
	for (size_t j = 0; j < out->n; j++) {
		if (!strcmp(out->v[j].id, inv.id))
			return fail(ld, k, inv.id, "id already used by entry %zu", j + 1);
		if (!strcasecmp(out->v[j].email, inv.email))
			return fail(ld, k, inv.id, "e-mail %.80s already used by entry %zu (%s)",
			            inv.email, j + 1, out->v[j].id);
	}
	if (puente_invitees_add(out, &inv))
		return fail(ld, k, inv.id, "out of memory");
	return 0;
}

static int load_json(const struct loader *ld, const json_t *root, struct puente_invitees *out)
{
	const json_t *version = json_object_get(root, "version");
	const json_t *list = json_object_get(root, "invitees");
	const char *event;
	size_t k;
	const json_t *e;
	int rc;

	if (!json_is_object(root) || !json_is_array(list))
		return fail(ld, 0, NULL, "not an invitee store (no \"invitees\" list)");
	if (version && !(json_is_integer(version) && json_integer_value(version) == 1))
		return fail(ld, 0, NULL,
		            "store version not supported (this puente reads version 1)");
	if (str_field(root, "event", &event) < 0)
		return fail(ld, 0, NULL, "\"event\" is not a string");
	if (event && !(out->event = strdup(event)))
		return fail(ld, 0, NULL, "out of memory");
	json_array_foreach(list, k, e)
	{
		rc = load_entry(ld, k + 1, e, out);
		if (rc)
			return rc;
	}
	return 0;
}

int puente_invitees_load(const char *path, struct puente_invitees *out, char *err, size_t errlen)
{
	struct loader ld = {path, err, errlen};
	json_error_t jerr;
	json_t *root;
	FILE *f;
	int rc;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!root)
		return fail(&ld, 0, NULL, "not JSON (line %d: %s)", jerr.line, jerr.text);
	rc = load_json(&ld, root, out);
	json_decref(root);
	if (rc)
		puente_invitees_free(out);
	return rc;
}
