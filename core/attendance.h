/*
 * The attendance log: one JSON line per join, leave and channel or caption
 * choice, appended and flushed to disk (fdatasync) line by line on a thread
 * of its own, so a crash loses nothing already written and a slow disk
 * never holds up the service thread. Format: README "Attendance log".
 */
#ifndef PUENTE_CORE_ATTENDANCE_H
#define PUENTE_CORE_ATTENDANCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "room.h"

#define PUENTE_ATTENDANCE_QUEUE 4096

struct puente__attendance {
	int fd; /* -1: no log */
	char run[17];
	struct puente__stats *stats;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *queue[PUENTE_ATTENDANCE_QUEUE]; /* {lock} lines, each ending in '\n' */
	size_t head, tail;                    /* {lock} */
	bool stop;                            /* {lock} */
	bool warned;                          /* {service thread} */
};

/* Opens (appending) path and writes the run's start line. Empty path: no log. */
int puente__attendance_open(struct puente__attendance *a, const char *path, const char *room,
                            struct puente__stats *stats);
/* Writes the stop line, flushes what is queued, closes. */
void puente__attendance_close(struct puente__attendance *a);

/*
 * Service thread: queues one event. who NULL for an anonymous listener;
 * key/value an extra string field (value NULL writes null), or key NULL.
 */
void puente__attendance_event(struct puente__attendance *a, const char *ev, uint64_t conn,
                              const char *who, const char *key, const char *value);
/* Service thread: the periodic "alive" line that bounds what a crash can lose. */
void puente__attendance_alive(struct puente__attendance *a);

#endif
