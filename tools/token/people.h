/*
 * The organiser's list of people (CSV, header row first), read and checked
 * as a whole before anything is written.
 */
#ifndef TOKEN_PEOPLE_H
#define TOKEN_PEOPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct person {
	long line; /* where its row starts in the file */
	char *email, *name, *role, *lang;
	char *country, *sector, *gender; /* NULL when empty */
	char *booths, *languages;        /* comma-joined; NULL when empty */
	int64_t not_before, not_after;   /* its own times, else the defaults; 0 = none */
	bool has_from, has_until;        /* a time was given (row or default) */
};

struct people {
	struct person *v;
	size_t n, cap;
};

/*
 * Reads path. Every problem is reported on stderr ("FILE: line N: what");
 * returns false if there was any, true with out filled otherwise.
 * default_from/until (0 = none) apply to rows without their own times.
 */
bool people_read(const char *path, int64_t default_from, int64_t default_until, struct people *out);
void people_free(struct people *p);

#endif
