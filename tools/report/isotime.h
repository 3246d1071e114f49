/* Times for puente-report: ISO 8601 or unix seconds in, UTC text out; milliseconds inside. */
#ifndef RPT_ISOTIME_H
#define RPT_ISOTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * "2026-11-28T14:00Z", "2026-11-28 09:00:30.5-05:00", "...+0100", or unix
 * seconds ("1764338400", "1764338400.25"), as unix milliseconds. ISO times
 * need a zone: a local time would mean something else on another machine.
 */
bool rpt_time_parse(const char *s, int64_t *ms);
/* "2026-11-28 14:00Z" (with_seconds false) or "2026-11-28 14:00:05Z", in UTC. */
const char *rpt_time_format(int64_t ms, bool with_seconds, char *buf, size_t cap);

#endif
