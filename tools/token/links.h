/*
 * The personal links puente-token hands the organiser (links.csv): the only
 * place a token is ever written, so the file is created new, mode 0600.
 */
#ifndef TOKEN_LINKS_H
#define TOKEN_LINKS_H

#include <stdbool.h>
#include <stdio.h>

#include "puente/access.h"

/* A base URL for links: http(s)://host[:port][/path], no query or fragment. */
bool links_base_ok(const char *base);
/* Creates path (it must not exist) and writes the header; NULL with errno. */
FILE *links_create(const char *path);
/* One row: email, name, role, lang and the link base + page + "#t=" + token. 0 or -errno. */
int links_row(FILE *f, const char *base, const struct puente_invitee *inv, const char *token);
/* Flushes to disk and closes. 0 or -errno. */
int links_close(FILE *f);

#endif
