/* The invitee list in memory: append, look up, free. */
#include "puente/access.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void invitee_free(struct puente_invitee *inv)
{
	char **s[] = {&inv->id,     &inv->hash,   &inv->email,    &inv->name,
	              &inv->role,   &inv->lang,   &inv->country,  &inv->sector,
	              &inv->gender, &inv->booths, &inv->languages};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}

void puente_invitees_free(struct puente_invitees *list)
{
	for (size_t i = 0; i < list->n; i++)
		invitee_free(&list->v[i]);
	free(list->v);
	free(list->event);
	memset(list, 0, sizeof(*list));
}

/* strdup that keeps NULL as NULL; false when memory ran out. */
static bool dup(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

int puente_invitees_add(struct puente_invitees *list, const struct puente_invitee *inv)
{
	struct puente_invitee *c;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct puente_invitee *v = realloc(list->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		list->v = v;
		list->cap = cap;
	}
	c = &list->v[list->n];
	*c = (struct puente_invitee){
	    .not_before = inv->not_before,
	    .not_after = inv->not_after,
	    .revoked_at = inv->revoked_at,
	};
	if (!dup(&c->id, inv->id) || !dup(&c->hash, inv->hash) || !dup(&c->email, inv->email) ||
	    !dup(&c->name, inv->name) || !dup(&c->role, inv->role) || !dup(&c->lang, inv->lang) ||
	    !dup(&c->country, inv->country) || !dup(&c->sector, inv->sector) ||
	    !dup(&c->gender, inv->gender) || !dup(&c->booths, inv->booths) ||
	    !dup(&c->languages, inv->languages)) {
		invitee_free(c);
		return -ENOMEM;
	}
	list->n++;
	return 0;
}

long puente_invitees_find(const struct puente_invitees *list, const char *email_or_id)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct puente_invitee *inv = &list->v[i];

		if ((inv->email && !strcasecmp(inv->email, email_or_id)) ||
		    (inv->id && !strcmp(inv->id, email_or_id)))
			return (long)i;
	}
	return -1;
}
