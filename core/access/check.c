/* The verdict on a presented token: who it is, and whether it is valid now. */
#include "puente/access.h"

#include <openssl/crypto.h>

enum puente_verdict puente_invitees_check(const struct puente_invitees *list, const char *token,
                                          size_t len, int64_t now, int64_t tolerance, size_t *index)
{
	char hash[PUENTE_TOKEN_HASH_LEN + 1];
	const struct puente_invitee *inv;
	size_t found = 0;
	bool any = false;

	if (puente_token_hash(token, len, hash))
		return PUENTE_ACCESS_MALFORMED;
	/* No early exit: the time taken must not say which entry matched. */
	for (size_t i = 0; i < list->n; i++) {
		bool eq = puente_token_hash_equal(hash, list->v[i].hash);

		found = eq && !any ? i : found;
		any |= eq;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!any)
		return PUENTE_ACCESS_UNKNOWN;
	*index = found;
	inv = &list->v[found];
	if (inv->revoked_at)
		return PUENTE_ACCESS_REVOKED;
	if (inv->not_before && now < inv->not_before - tolerance)
		return PUENTE_ACCESS_NOT_YET;
	if (inv->not_after && now > inv->not_after + tolerance)
		return PUENTE_ACCESS_EXPIRED;
	return PUENTE_ACCESS_OK;
}

const char *puente_verdict_name(enum puente_verdict v)
{
	switch (v) {
	case PUENTE_ACCESS_OK:
		return "ok";
	case PUENTE_ACCESS_MALFORMED:
		return "malformed";
	case PUENTE_ACCESS_UNKNOWN:
		return "unknown";
	case PUENTE_ACCESS_NOT_YET:
		return "not_yet";
	case PUENTE_ACCESS_EXPIRED:
		return "expired";
	case PUENTE_ACCESS_REVOKED:
		return "revoked";
	}
	return "unknown";
}
