/* Logging: timestamped lines on stderr; any thread but the audio callbacks. */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int log_level = PUENTE_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void puente__log_set_level(enum puente_log_level level)
{
	atomic_store(&log_level, (int)level);
}

void puente__logv(enum puente_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	if ((int)level < 0 || level > PUENTE_LOG_DEBUG ||
	    (int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;

	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[1024];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Control characters from plugins or peers never reach the terminal or log raw. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '.';
	/* One fprintf per line so concurrent threads do not interleave mid-line. */
	fprintf(stderr, "%s.%03ld puente %s: %s%s%s\n", stamp, ts.tv_nsec / 1000000,
	        level_names[level], prefix ? prefix : "", prefix ? ": " : "", line);
}

void puente__log(enum puente_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	puente__logv(level, NULL, fmt, ap);
	va_end(ap);
}
