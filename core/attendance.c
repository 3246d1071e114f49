/* The attendance log: JSON lines, appended and fdatasync'd on a writer thread. */
#include "attendance.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <puente/access.h>

#include "log.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *writer(void *arg)
{
	struct puente__attendance *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (a->head == a->tail && !a->stop)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->head == a->tail)
			break;
		char *line = a->queue[a->tail % PUENTE_ATTENDANCE_QUEUE];

		a->tail++;
		pthread_mutex_unlock(&a->lock);
		if (write_all(a->fd, line, strlen(line)) || fdatasync(a->fd))
			atomic_fetch_add(&a->stats->attendance_dropped, 1);
		free(line);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void push(struct puente__attendance *a, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(14));
	char *line = text ? malloc(strlen(text) + 2) : NULL;
	bool full;

	json_decref(obj);
	if (line)
		sprintf(line, "%s\n", text);
	free(text);
	pthread_mutex_lock(&a->lock);
	full = !line || a->head - a->tail >= PUENTE_ATTENDANCE_QUEUE;
	if (!full) {
		a->queue[a->head % PUENTE_ATTENDANCE_QUEUE] = line;
		a->head++;
		pthread_cond_signal(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	if (full) {
		free(line);
		atomic_fetch_add(&a->stats->attendance_dropped, 1);
		if (!a->warned)
			log_warn("attendance log: the disk is not keeping up; lines are being lost "
			         "(counted)");
		a->warned = true;
	}
}

static json_t *line_for(struct puente__attendance *a, const char *ev)
{
	double t = (double)puente__now_unix_us() / 1e6;

	/* Milliseconds are plenty, and keep the lines short. */
	return json_pack("{s:f, s:s, s:s}", "t", (double)(long long)(t * 1000.0) / 1000.0, "ev", ev,
	                 "run", a->run);
}

int puente__attendance_open(struct puente__attendance *a, const char *path, const char *room,
                            struct puente__stats *stats)
{
	unsigned char id[8];
	char token[PUENTE_TOKEN_LEN + 1];

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->stats = stats;
	if (!path || !path[0])
		return 0;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		log_error("%s: cannot open the attendance log: %s", path, strerror(errno));
		return -errno;
	}
	/* A run id that will not repeat: the first bytes of a fresh token. */
	if (puente_token_new(token)) {
		close(a->fd);
		a->fd = -1;
		return -EIO;
	}
	memcpy(id, token, sizeof(id));
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(a->run + 2 * i, 3, "%02x", id[i]);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (pthread_create(&a->thread, NULL, writer, a)) {
		close(a->fd);
		a->fd = -1;
		return -EAGAIN;
	}
	json_t *start = line_for(a, "start");

	json_object_set_new(start, "room", json_string(room));
	push(a, start);
	log_info("attendance log: %s (run %s)", path, a->run);
	return 0;
}

void puente__attendance_close(struct puente__attendance *a)
{
	if (a->fd < 0)
		return;
	push(a, line_for(a, "stop"));
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	close(a->fd);
	a->fd = -1;
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
}

void puente__attendance_event(struct puente__attendance *a, const char *ev, uint64_t conn,
                              const char *who, const char *key, const char *value)
{
	json_t *line;

	if (a->fd < 0)
		return;
	line = line_for(a, ev);
	json_object_set_new(line, "conn", json_integer((json_int_t)conn));
	json_object_set_new(line, "who", who ? json_string(who) : json_null());
	if (key)
		json_object_set_new(line, key, value ? json_string(value) : json_null());
	push(a, line);
}

void puente__attendance_alive(struct puente__attendance *a)
{
	if (a->fd >= 0)
		push(a, line_for(a, "alive"));
}
