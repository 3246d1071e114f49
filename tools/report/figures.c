/*
 * Aggregates the log over one scope. A person connected twice at once (a
 * take-over overlaps the old device and the new) counts once: participants
 * are distinct ids, the peak counts people, and presence merges overlaps.
 * Channel and caption minutes are per connection, anonymous ones included.
 */
#include "report/figures.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report/grow.h"

/* A connection's stretch within one window, for one person. */
struct piece {
	size_t person; /* an attendee, or n_attendees + k for the k-th anonymous connection */
	int64_t from, to;
};

struct edge {
	int64_t t;
	int up; /* 0: leaves, 1: arrives; leaving sorts first, so a reconnection at the same instant
	           is no overlap */
	size_t person;
};

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t overlap(int64_t from, int64_t to, const struct rpt_window *w)
{
	return max64(0, min64(to, w->to) - max64(from, w->from));
}

static bool in_scope(const struct rpt_conn *c, const struct rpt_scope *s)
{
	if (s->run >= 0 && c->run != (size_t)s->run)
		return false;
	for (size_t i = 0; i < s->n; i++) {
		const struct rpt_window *w = &s->windows[i];

		/* A connection of no length (joined and left at once) was there if it fell inside.
		 */
		if ((c->from < w->to && c->to > w->from) ||
		    (c->from == c->to && c->from >= w->from && c->from <= w->to))
			return true;
	}
	return false;
}

static int tally_add(struct rpt_tally *t, const char *key, int64_t n)
{
	struct rpt_count *v;

	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].key, key)) {
			t->v[i].n += n;
			return 0;
		}
	if (!(v = rpt_grow(t->v, t->n, &t->cap, sizeof *v)))
		return -ENOMEM;
	t->v = v;
	t->v[t->n++] = (struct rpt_count){.key = key, .n = n};
	return 0;
}

/* Channel or caption time within the scope's windows. */
static int tally_spans(struct rpt_tally *t, const struct rpt_spans *sp, const struct rpt_scope *s)
{
	for (size_t i = 0; i < sp->n; i++) {
		int64_t ms = 0;

		for (size_t j = 0; j < s->n; j++)
			ms += overlap(sp->v[i].from, sp->v[i].to, &s->windows[j]);
		if (ms && tally_add(t, sp->v[i].key, ms) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const struct puente_invitee *invitee(const struct puente_invitees *store, const char *id)
{
	long i = store ? puente_invitees_find(store, id) : -1;

	/* find also matches e-mails: the log names ids only. */
	return i >= 0 && !strcmp(store->v[i].id, id) ? &store->v[i] : NULL;
}

static long attendee(const struct rpt_figures *f, const char *id)
{
	for (size_t i = 0; i < f->n_attendees; i++)
		if (!strcmp(f->attendees[i].id, id))
			return (long)i;
	return -1;
}

/* First pass: who was there. */
static int gather(struct rpt_figures *f, const struct rpt_log *log,
                  const struct puente_invitees *store, const struct rpt_scope *s)
{
	for (size_t i = 0; i < log->n_conns; i++) {
		const struct rpt_conn *c = &log->conns[i];
		struct rpt_attendee *a;

		if (!in_scope(c, s))
			continue;
		if (tally_spans(&f->channels, &c->channels, s) < 0 ||
		    tally_spans(&f->captions, &c->captions, s) < 0)
			return -ENOMEM;
		if (!c->who) {
			f->anonymous++;
			continue;
		}
		if (attendee(f, c->who) >= 0)
			continue;
		if (!(a = rpt_grow(f->attendees, f->n_attendees, &f->cap_attendees, sizeof *a)))
			return -ENOMEM;
		f->attendees = a;
		a = &f->attendees[f->n_attendees++];
		*a = (struct rpt_attendee){
		    .id = c->who, .inv = invitee(store, c->who), .role = c->role};
		if (a->inv && a->inv->role)
			a->role = a->inv->role;
		if (store && !a->inv)
			f->not_in_store++;
	}
	return 0;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	if (x->person != y->person)
		return x->person < y->person ? -1 : 1;
	return (x->from > y->from) - (x->from < y->from);
}

static int cmp_edge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->up - y->up;
}

/* Every connection's stretches within the windows, by person. */
static int cut(const struct rpt_figures *f, const struct rpt_log *log, const struct rpt_scope *s,
               struct piece **out, size_t *n)
{
	struct piece *p = NULL, *np;
	size_t cap = 0, anon = 0;

	*n = 0;
	for (size_t i = 0; i < log->n_conns; i++) {
		const struct rpt_conn *c = &log->conns[i];
		size_t person;

		if (!in_scope(c, s))
			continue;
		person = c->who ? (size_t)attendee(f, c->who) : f->n_attendees + anon++;
		for (size_t j = 0; j < s->n; j++) {
			int64_t from = max64(c->from, s->windows[j].from);
			int64_t to = min64(c->to, s->windows[j].to);

			if (to <= from)
				continue;
			if (!(np = rpt_grow(p, *n, &cap, sizeof *np))) {
				free(p);
				return -ENOMEM;
			}
			p = np;
			p[(*n)++] = (struct piece){.person = person, .from = from, .to = to};
		}
	}
	*out = p;
	return 0;
}

/* Time present per attendee: each person's stretches merged, so overlaps count once. */
static void presence(struct rpt_figures *f, struct piece *p, size_t n)
{
	if (n)
		qsort(p, n, sizeof *p, cmp_piece);
	for (size_t i = 0; i < n;) {
		size_t person = p[i].person;
		int64_t from = p[i].from, to = p[i].to, ms = 0;

		for (; i < n && p[i].person == person; i++) {
			if (p[i].from > to) {
				ms += to - from;
				from = p[i].from;
			}
			to = max64(to, p[i].to);
		}
		if (person < f->n_attendees)
			f->attendees[person].ms = ms + (to - from);
	}
}

static int peak(struct rpt_figures *f, const struct piece *p, size_t n)
{
	struct edge *e = malloc((2 * n + 1) * sizeof *e);
	size_t *open = calloc(f->n_attendees + f->anonymous + 1, sizeof *open);
	size_t now = 0;

	if (!e || !open) {
		free(e);
		free(open);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		e[2 * i] = (struct edge){.t = p[i].from, .up = 1, .person = p[i].person};
		e[2 * i + 1] = (struct edge){.t = p[i].to, .up = 0, .person = p[i].person};
	}
	qsort(e, 2 * n, sizeof *e, cmp_edge);
	for (size_t i = 0; i < 2 * n; i++) {
		if (!e[i].up) {
			if (--open[e[i].person] == 0)
				now--;
		} else if (open[e[i].person]++ == 0 && ++now > f->peak) {
			f->peak = now;
			f->peak_at = e[i].t;
		}
	}
	free(e);
	free(open);
	return 0;
}

static int tally_people(struct rpt_figures *f, bool by_attribute)
{
	for (size_t i = 0; i < f->n_attendees; i++) {
		const struct rpt_attendee *a = &f->attendees[i];
		const struct puente_invitee *inv = a->inv;
		const char *country = inv && inv->country && *inv->country ? inv->country : NULL;
		const char *sector = inv && inv->sector && *inv->sector ? inv->sector : NULL;
		const char *gender = inv && inv->gender && *inv->gender ? inv->gender : NULL;

		if (tally_add(&f->roles, a->role, 1) < 0)
			return -ENOMEM;
		if (!by_attribute)
			continue;
		if (tally_add(&f->countries, country ? country : RPT_NOT_GIVEN, 1) < 0 ||
		    tally_add(&f->sectors, sector ? sector : RPT_NOT_GIVEN, 1) < 0 ||
		    tally_add(&f->genders, gender ? gender : RPT_NOT_GIVEN, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The most first; "not given" last whatever its count; ties by name. */
static int cmp_people(const void *a, const void *b)
{
	const struct rpt_count *x = a, *y = b;
	bool xn = !strcmp(x->key, RPT_NOT_GIVEN), yn = !strcmp(y->key, RPT_NOT_GIVEN);

	if (xn != yn)
		return xn - yn;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The store's order of roles (listener first); a role it does not know, last. */
static int cmp_role(const void *a, const void *b)
{
	const struct rpt_count *x = a, *y = b;
	unsigned rx = (unsigned)puente_role_from_name(x->key);
	unsigned ry = (unsigned)puente_role_from_name(y->key);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct rpt_count *)a)->key, ((const struct rpt_count *)b)->key);
}

static int cmp_attendee(const void *a, const void *b)
{
	const struct rpt_attendee *x = a, *y = b;
	const char *nx = x->inv && x->inv->name ? x->inv->name : NULL;
	const char *ny = y->inv && y->inv->name ? y->inv->name : NULL;
	int c;

	/* The named first, by name; then the ids without a name. */
	if (!nx != !ny)
		return !nx - !ny;
	if (nx && (c = strcmp(nx, ny)))
		return c;
	return strcmp(x->id, y->id);
}

static void sort_tally(struct rpt_tally *t, int (*cmp)(const void *, const void *))
{
	if (t->n)
		qsort(t->v, t->n, sizeof *t->v, cmp);
}

int rpt_figures_compute(const struct rpt_log *log, const struct puente_invitees *store,
                        const struct rpt_scope *scope, struct rpt_figures *out)
{
	struct piece *p = NULL;
	size_t n = 0;
	int rc;

	*out = (struct rpt_figures){0};
	rc = gather(out, log, store, scope);
	if (!rc)
		rc = cut(out, log, scope, &p, &n);
	if (!rc) {
		presence(out, p, n);
		rc = peak(out, p, n);
	}
	free(p);
	if (!rc)
		rc = tally_people(out, store != NULL);
	if (rc) {
		rpt_figures_free(out);
		return rc;
	}
	sort_tally(&out->roles, cmp_role);
	sort_tally(&out->countries, cmp_people);
	sort_tally(&out->sectors, cmp_people);
	sort_tally(&out->genders, cmp_people);
	sort_tally(&out->channels, cmp_key);
	sort_tally(&out->captions, cmp_key);
	if (out->n_attendees)
		qsort(out->attendees, out->n_attendees, sizeof *out->attendees, cmp_attendee);
	return 0;
}

void rpt_figures_free(struct rpt_figures *f)
{
	free(f->attendees);
	free(f->roles.v);
	free(f->countries.v);
	free(f->sectors.v);
	free(f->genders.v);
	free(f->channels.v);
	free(f->captions.v);
	*f = (struct rpt_figures){0};
}
