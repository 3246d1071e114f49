/* Parsing and printing times: ISO 8601 with a zone, or unix seconds. */
#include "token/when.h"

#include <stdio.h>
#include <time.h>

/* Exactly n decimal digits. */
static bool digits(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		*out = *out * 10 + (**p - '0');
	}
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

static bool unix_seconds(const char *s, int64_t *t)
{
	int64_t v = 0;
	int n = 0;

	for (; *s >= '0' && *s <= '9' && n < 12; s++, n++)
		v = v * 10 + (*s - '0');
	if (!n || *s)
		return false;
	*t = v;
	return true;
}

/* "Z", or +HH:MM, +HHMM, +HH (or '-'): the zone's offset east of UTC in seconds. */
static bool zone(const char *p, int *offset)
{
	int sign, hh, mm = 0;

	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		*offset = 0;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (!digits(&p, 2, &hh))
		return false;
	if (*p == ':')
		p++;
	if (*p && !digits(&p, 2, &mm))
		return false;
	if (*p || hh > 14 || mm > 59)
		return false;
	*offset = sign * (hh * 3600 + mm * 60);
	return true;
}

bool when_parse(const char *s, int64_t *t)
{
	const char *p = s;
	int y, mo, d, h, mi, sec = 0, offset;

	if (unix_seconds(s, t))
		return true;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
	    !digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
		return false;
	if (*p == ':' && (p++, !digits(&p, 2, &sec)))
		return false;
	if (!zone(p, &offset) || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return false;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	return *t >= 0;
}

const char *when_format(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "%lld", (long long)t);
	return buf;
}
