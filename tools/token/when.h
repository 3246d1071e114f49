/* Times on puente-token's command line and in the organiser's CSV. */
#ifndef TOKEN_WHEN_H
#define TOKEN_WHEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the messages describe an accepted time. */
#define WHEN_FORMATS "2026-11-28T14:00:00-06:00, 2026-11-28T20:00:00Z or unix seconds"

/* ISO 8601 with a zone (seconds optional) or unix seconds; true with *t set. */
bool when_parse(const char *s, int64_t *t);
/* "2026-11-28T20:00:00Z"; buf of at least 32 bytes. */
const char *when_format(int64_t t, char *buf, size_t cap);

#endif
