/* Logging: timestamped lines on stderr; any thread but the audio callbacks. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int log_level = PUENTE_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void puente__log_set_level(enum puente__log_level level)
{
	atomic_store(&log_level, (int)level);
}

void puente__log(enum puente__log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;

	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[1024];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent threads do not interleave mid-line. */
	fprintf(stderr, "%s.%03ld puente %s: %s\n", stamp, ts.tv_nsec / 1000000, level_names[level],
	        line);
}
