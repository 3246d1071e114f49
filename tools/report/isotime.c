/* Times for puente-report: ISO 8601 or unix seconds in, UTC text out. */
#include "report/isotime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool unix_seconds(const char *s, int64_t *ms)
{
	char *end;
	double v;

	if (!(*s >= '0' && *s <= '9'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v > 1e14)
		return false;
	*ms = llround(v * 1000.0);
	return true;
}

/* Two digits at s; -1 when they are not. */
static int two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "Z", "+HH:MM", "+HHMM" or "+HH" as seconds east of UTC. */
static bool zone(const char *s, long *east)
{
	int h, m = 0, sign;

	if (!strcmp(s, "Z") || !strcmp(s, "z")) {
		*east = 0;
		return true;
	}
	if (*s != '+' && *s != '-')
		return false;
	sign = *s == '-' ? -1 : 1;
	s++;
	if ((h = two(s)) < 0 || h > 23)
		return false;
	s += 2;
	if (*s == ':')
		s++;
	if (*s && ((m = two(s)) < 0 || m > 59 || s[2]))
		return false;
	*east = sign * (h * 3600L + m * 60L);
	return true;
}

bool rpt_time_parse(const char *s, int64_t *ms)
{
	struct tm tm = {0}, back;
	int frac_ms = 0, n = 0;
	long east;
	time_t t;

	if (unix_seconds(s, ms))
		return true;
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return false;
	s += n;
	if ((*s != 'T' && *s != 't' && *s != ' ') || (tm.tm_hour = two(s + 1)) < 0 || s[3] != ':' ||
	    (tm.tm_min = two(s + 4)) < 0)
		return false;
	s += 6;
	if (*s == ':') {
		if ((tm.tm_sec = two(s + 1)) < 0)
			return false;
		s += 3;
		if (*s == '.' || *s == ',') {
			int scale = 100;

			if (!(*++s >= '0' && *s <= '9'))
				return false;
			for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
				frac_ms += (*s - '0') * scale;
		}
	}
	if (!zone(s, &east) || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	back = tm;
	t = timegm(&tm);
	/* timegm normalises 30 February into March: such a date is a typo. */
	if (t == (time_t)-1 || tm.tm_mday != back.tm_mday || tm.tm_mon != back.tm_mon)
		return false;
	*ms = ((int64_t)t - east) * 1000 + frac_ms;
	return true;
}

const char *rpt_time_format(int64_t ms, bool with_seconds, char *buf, size_t cap)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, cap, with_seconds ? "%Y-%m-%d %H:%M:%SZ" : "%Y-%m-%d %H:%MZ", &tm))
		snprintf(buf, cap, "?");
	return buf;
}
