/*
 * The caption archive (see archive.h).
 *
 * Threads: archive_create/destroy on the main thread; archive_push and
 * archive_copy on the service thread (or any); everything that touches a file
 * on the archive's own thread. The queue and the thread's state are guarded by
 * {lock}; the memory copies by {mirror_lock}, which the thread holds only for a
 * memcpy, never across I/O, so a download never waits for the disk.
 */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <puente/protocol.h>

#include "cues.h"
#include "text.h"

static const char vtt_header[] = "WEBVTT\n\n";

struct entry {
	int lang;
	uint64_t start, end;
	char *text;
	size_t len;
};

/* One file of one language. */
struct file {
	/* archive thread only */
	int fd; /* -1: not open */
	bool failed;
	off_t size; /* bytes written whole: a failed write is cut back to this */
	/* {mirror_lock} */
	struct strbuf mirror;
	bool mirror_over; /* past ARCHIVE_MIRROR_MAX (or out of memory): no longer kept */
};

struct archive_lang {
	char tag[64];
	/* archive thread only */
	bool opened;
	bool has_start;
	uint64_t last_start;
	uint64_t written; /* cues: SubRip's index */
	struct file files[ARCHIVE_FORMATS];
};

struct archive {
	const struct puente_host *host;
	char *dir; /* NULL: memory copies only */
	struct archive_lang *langs;
	int n_langs;
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct entry queue[ARCHIVE_QUEUE]; /* {lock}, a ring */
	size_t head, n;                    /* {lock} */
	bool stop, busy, held;             /* {lock} */

	pthread_mutex_t mirror_lock;

	_Atomic uint64_t cues, dropped, clamped, write_errors;
};

const char *archive_ext(enum archive_format fmt)
{
	static const char *const ext[ARCHIVE_FORMATS] = {"vtt", "srt", "txt"};

	return ext[fmt];
}

/* ---- formatting (pure) ---- */

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void strbuf_addz(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_fini(struct strbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void archive_format_time(char out[32], uint64_t media_time, char sep)
{
	uint64_t ms = media_time / (PUENTE_SAMPLE_RATE / 1000);

	snprintf(out, 32, "%02llu:%02u:%02u%c%03u", (unsigned long long)(ms / 3600000),
	         (unsigned)(ms / 60000 % 60), (unsigned)(ms / 1000 % 60), sep,
	         (unsigned)(ms % 1000));
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ')
			return false;
	return true;
}

/* One line of cue text as WebVTT cue text: the three characters markup uses, escaped. */
static void add_vtt_line(struct strbuf *b, const char *s, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		const char *esc = s[i] == '&'   ? "&amp;"
		                  : s[i] == '<' ? "&lt;"
		                  : s[i] == '>' ? "&gt;"
		                                : NULL;

		if (!esc)
			continue;
		strbuf_add(b, s + from, i - from);
		strbuf_addz(b, esc);
		from = i + 1;
	}
	strbuf_add(b, s + from, n - from);
}

static void add_dashes(struct strbuf *b, size_t n)
{
	while (n) {
		size_t m = n < 8 ? n : 8;

		strbuf_add(b, "--------", m);
		n -= m;
	}
}

/*
 * One line as SubRip text, where "-->" would read as a timing line: a '>'
 * after two or more '-' keeps only one of them, so "--->" becomes "->" too.
 */
static void add_srt_line(struct strbuf *b, const char *s, size_t n)
{
	size_t dashes = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-') {
			dashes++;
			continue;
		}
		add_dashes(b, s[i] == '>' && dashes > 1 ? 1 : dashes);
		dashes = 0;
		strbuf_add(b, s + i, 1);
	}
	add_dashes(b, dashes);
}

bool archive_format_cue(struct strbuf *b, enum archive_format fmt, uint64_t index, uint64_t start,
                        uint64_t end, const char *text, size_t len)
{
	char t0[32], t1[32], num[32];
	bool any = false;
	size_t mark = b->len;

	if (end < start)
		end = start;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		if (!is_blank(text + i, n)) {
			const char *s = text + i;
			size_t m = n;

			while (m > 0 && s[m - 1] == ' ')
				m--;
			while (m > 0 && *s == ' ' && fmt == ARCHIVE_TXT) {
				s++;
				m--;
			}
			if (!any) {
				switch (fmt) {
				case ARCHIVE_VTT:
					archive_format_time(t0, start, '.');
					archive_format_time(t1, end, '.');
					strbuf_addz(b, t0);
					strbuf_addz(b, " --> ");
					strbuf_addz(b, t1);
					strbuf_addz(b, "\n");
					break;
				case ARCHIVE_SRT:
					snprintf(num, sizeof(num), "%llu\n",
					         (unsigned long long)index);
					archive_format_time(t0, start, ',');
					archive_format_time(t1, end, ',');
					strbuf_addz(b, num);
					strbuf_addz(b, t0);
					strbuf_addz(b, " --> ");
					strbuf_addz(b, t1);
					strbuf_addz(b, "\n");
					break;
				default:
					archive_format_time(t0, start, '.');
					t0[8] = 0; /* [HH:MM:SS] */
					strbuf_addz(b, "[");
					strbuf_addz(b, t0);
					strbuf_addz(b, "] ");
					break;
				}
			} else {
				strbuf_addz(b, fmt == ARCHIVE_TXT ? " " : "\n");
			}
			any = true;
			if (fmt == ARCHIVE_VTT)
				add_vtt_line(b, s, m);
			else if (fmt == ARCHIVE_SRT)
				add_srt_line(b, s, m);
			else
				strbuf_add(b, s, m);
		}
		i += n + 1;
	}
	if (any)
		strbuf_addz(b, fmt == ARCHIVE_TXT ? "\n" : "\n\n");
	if (b->failed || !any) {
		b->len = mark;
		if (b->s)
			b->s[mark] = 0;
		return false;
	}
	return true;
}

/* ---- files (archive thread) ---- */

/* mkdir -p; 0 or -errno. */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != 0)
			continue;
		path[i] = 0;
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		path[i] = dir[i];
	}
	return 0;
}

/*
 * A regular, non-empty file left by an earlier run is moved aside as
 * <lang>-<its mtime, UTC>.<ext>: the room clock starts again at each run, so
 * appending would make the times go back. Anything else (nothing, an empty
 * file, a symlink, a device) is opened as it is.
 */
static void move_aside(struct archive *a, const struct archive_lang *l, enum archive_format fmt,
                       const char *path)
{
	struct stat st;
	struct tm tm;
	char stamp[32], to[4200];

	if (lstat(path, &st) || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	gmtime_r(&st.st_mtime, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int k = 1; k < 100; k++) {
		if (k == 1)
			snprintf(to, sizeof(to), "%s/%s-%s.%s", a->dir, l->tag, stamp,
			         archive_ext(fmt));
		else
			snprintf(to, sizeof(to), "%s/%s-%s-%d.%s", a->dir, l->tag, stamp, k,
			         archive_ext(fmt));
		if (access(to, F_OK) == 0)
			continue;
		if (rename(path, to) == 0)
			a->host->log(a->host->ctx, PUENTE_LOG_INFO,
			             "archive: the previous %s.%s is now %s", l->tag,
			             archive_ext(fmt), to);
		return;
	}
}

/* Logs once, counts, and stops a file; what was written whole stays. */
static void file_fail(struct archive *a, const struct archive_lang *l, enum archive_format fmt,
                      struct file *f, const char *what, int err)
{
	a->host->log(a->host->ctx, PUENTE_LOG_ERROR,
	             "archive: %s %s/%s.%s failed (%s); that file stops here, captions go on", what,
	             a->dir, l->tag, archive_ext(fmt), strerror(err));
	atomic_fetch_add(&a->write_errors, 1);
	if (f->fd >= 0) {
		if (ftruncate(f->fd, f->size)) {
			/* A device or a full disk: nothing more to do. */
		}
		close(f->fd);
	}
	f->fd = -1;
	f->failed = true;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends to the file, flushed to the disk; special files cannot fdatasync, and need not. */
static void file_write(struct archive *a, const struct archive_lang *l, enum archive_format fmt,
                       struct file *f, const char *s, size_t n)
{
	int err;

	if (f->fd < 0 || !n)
		return;
	err = write_all(f->fd, s, n);
	if (!err && fdatasync(f->fd) && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
		err = -errno;
	if (err) {
		file_fail(a, l, fmt, f, "writing", -err);
		return;
	}
	f->size += (off_t)n;
}

static void lang_open(struct archive *a, struct archive_lang *l)
{
	int err;

	l->opened = true;
	if (!a->dir)
		return;
	err = make_dirs(a->dir);
	for (int fmt = 0; fmt < ARCHIVE_FORMATS; fmt++) {
		struct file *f = &l->files[fmt];
		char path[4200];

		if (err) {
			file_fail(a, l, fmt, f, "creating the folder of", -err);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.%s", a->dir, l->tag, archive_ext(fmt));
		move_aside(a, l, fmt, path);
		f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd < 0) {
			file_fail(a, l, fmt, f, "opening", errno);
			continue;
		}
		if (fmt == ARCHIVE_VTT)
			file_write(a, l, fmt, f, vtt_header, sizeof(vtt_header) - 1);
	}
}

static void mirror_add(struct archive *a, struct file *f, const struct strbuf *b)
{
	pthread_mutex_lock(&a->mirror_lock);
	if (!f->mirror_over && f->mirror.len + b->len > ARCHIVE_MIRROR_MAX) {
		f->mirror_over = true;
		strbuf_fini(&f->mirror);
	}
	if (!f->mirror_over)
		strbuf_add(&f->mirror, b->s, b->len);
	if (f->mirror.failed) { /* out of memory: a partial copy must not pass for the file */
		f->mirror_over = true;
		strbuf_fini(&f->mirror);
	}
	pthread_mutex_unlock(&a->mirror_lock);
}

static void write_entry(struct archive *a, struct entry *e)
{
	struct archive_lang *l = &a->langs[e->lang];
	uint64_t start = e->start, end = e->end;
	bool written = false;

	/* A cue that starts before the previous one moves after it, keeping its length. */
	if (l->has_start && start < l->last_start) {
		end += l->last_start - start;
		start = l->last_start;
		atomic_fetch_add(&a->clamped, 1);
	}
	/* WebVTT wants an end after the start: an empty span gets the usual estimate. */
	if (end <= start)
		end = start + cue_estimate(text_chars(e->text, e->len));
	for (int fmt = 0; fmt < ARCHIVE_FORMATS; fmt++) {
		struct strbuf b = {0};

		if (!archive_format_cue(&b, fmt, l->written + 1, start, end, e->text, e->len)) {
			strbuf_fini(&b);
			continue;
		}
		if (!l->opened)
			lang_open(a, l);
		mirror_add(a, &l->files[fmt], &b);
		file_write(a, l, fmt, &l->files[fmt], b.s, b.len);
		strbuf_fini(&b);
		written = true;
	}
	if (written) {
		l->has_start = true;
		l->last_start = start;
		l->written++;
		atomic_fetch_add(&a->cues, 1);
	}
}

static void *archive_main(void *arg)
{
	struct archive *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct entry e;

		while (!a->stop && (a->n == 0 || a->held))
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->n == 0)
			break; /* stopping, and everything is written */
		e = a->queue[a->head];
		a->head = (a->head + 1) % ARCHIVE_QUEUE;
		a->n--;
		a->busy = true;
		pthread_mutex_unlock(&a->lock);

		write_entry(a, &e);
		free(e.text);

		pthread_mutex_lock(&a->lock);
		a->busy = false;
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- the rest of the plugin's side ---- */

struct archive *archive_create(const struct puente_host *host, const char *dir,
                               const char *const *tags, int n_langs, int *err)
{
	struct archive *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;

	if (!a)
		goto fail;
	a->host = host;
	a->n_langs = n_langs;
	a->langs = calloc((size_t)(n_langs > 0 ? n_langs : 1), sizeof(*a->langs));
	if (!a->langs || (dir && dir[0] && !(a->dir = strdup(dir))))
		goto free_archive;
	for (int i = 0; i < n_langs; i++) {
		struct archive_lang *l = &a->langs[i];

		snprintf(l->tag, sizeof(l->tag), "%s", tags[i]);
		for (int fmt = 0; fmt < ARCHIVE_FORMATS; fmt++)
			l->files[fmt].fd = -1;
		strbuf_add(&l->files[ARCHIVE_VTT].mirror, vtt_header, sizeof(vtt_header) - 1);
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->mirror_lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->idle, NULL);
	rc = -pthread_create(&a->thread, NULL, archive_main, a);
	if (rc)
		goto destroy_sync;
	return a;

destroy_sync:
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mirror_lock);
	pthread_mutex_destroy(&a->lock);
	for (int i = 0; i < n_langs; i++)
		strbuf_fini(&a->langs[i].files[ARCHIVE_VTT].mirror);
free_archive:
	free(a->dir);
	free(a->langs);
	free(a);
fail:
	if (err)
		*err = rc;
	return NULL;
}

void archive_destroy(struct archive *a, struct archive_stats *st)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	a->held = false;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	if (st)
		archive_get_stats(a, st);
	for (int i = 0; i < a->n_langs; i++) {
		for (int fmt = 0; fmt < ARCHIVE_FORMATS; fmt++) {
			struct file *f = &a->langs[i].files[fmt];

			if (f->fd >= 0)
				close(f->fd);
			strbuf_fini(&f->mirror);
		}
	}
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mirror_lock);
	pthread_mutex_destroy(&a->lock);
	free(a->dir);
	free(a->langs);
	free(a);
}

int archive_push(struct archive *a, int lang, uint64_t start, uint64_t end, const char *text,
                 size_t len)
{
	char *copy;

	if (lang < 0 || lang >= a->n_langs)
		return -EINVAL;
	/* Allocated outside the lock: the thread never waits for an allocator. */
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = 0;
	pthread_mutex_lock(&a->lock);
	if (a->n == ARCHIVE_QUEUE || a->stop) {
		pthread_mutex_unlock(&a->lock);
		free(copy);
		atomic_fetch_add(&a->dropped, 1);
		return -ENOBUFS;
	}
	a->queue[(a->head + a->n++) % ARCHIVE_QUEUE] =
	    (struct entry){.lang = lang, .start = start, .end = end, .text = copy, .len = len};
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int archive_copy(struct archive *a, int lang, enum archive_format fmt, char **out, size_t *len)
{
	struct file *f;
	int rc = 0;

	if (lang < 0 || lang >= a->n_langs || fmt < 0 || fmt >= ARCHIVE_FORMATS)
		return -EINVAL;
	f = &a->langs[lang].files[fmt];
	pthread_mutex_lock(&a->mirror_lock);
	if (f->mirror_over) {
		rc = -EFBIG;
	} else if (!(*out = malloc(f->mirror.len + 1))) {
		rc = -ENOMEM;
	} else {
		if (f->mirror.len)
			memcpy(*out, f->mirror.s, f->mirror.len);
		(*out)[f->mirror.len] = 0;
		*len = f->mirror.len;
	}
	pthread_mutex_unlock(&a->mirror_lock);
	return rc;
}

void archive_get_stats(struct archive *a, struct archive_stats *st)
{
	st->cues = atomic_load(&a->cues);
	st->dropped = atomic_load(&a->dropped);
	st->clamped = atomic_load(&a->clamped);
	st->write_errors = atomic_load(&a->write_errors);
}

void archive_drain(struct archive *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->n || a->busy)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

void archive_hold(struct archive *a, bool hold)
{
	pthread_mutex_lock(&a->lock);
	a->held = hold;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}
