/*
 * The caption archive: per language, <lang>.vtt (WebVTT), <lang>.srt (SubRip)
 * and <lang>.txt (a transcript, one "[HH:MM:SS] text" line per cue) of the
 * final cues, written by a thread of its own that a bounded queue feeds, so
 * that no file I/O ever happens on the service thread. Each cue is flushed and
 * fdatasync()ed; a file that fails (ENOSPC...) is logged once, counted and
 * stops, and the rest goes on. A copy of each file is kept in memory (up to
 * ARCHIVE_MIRROR_MAX) for downloads, which the service thread serves.
 *
 * Times: media times (48 kHz room clock) from the clock's zero. Within a
 * language, a cue that starts before the previous one is moved to its start
 * (keeping its length), so the files' start times never go back; a cue that
 * would end at or before its start gets the usual length estimate.
 */
#ifndef PUENTE_CAPTIONS_ARCHIVE_H
#define PUENTE_CAPTIONS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <puente/plugin.h>

#define ARCHIVE_QUEUE      256        /* cues waiting for the thread */
#define ARCHIVE_MIRROR_MAX (8u << 20) /* bytes of each file kept for downloads */

enum archive_format { ARCHIVE_VTT, ARCHIVE_SRT, ARCHIVE_TXT, ARCHIVE_FORMATS };

struct archive_stats {
	uint64_t cues;         /* written (to the memory copies at least) */
	uint64_t dropped;      /* the queue was full */
	uint64_t clamped;      /* started before the previous cue */
	uint64_t write_errors; /* files stopped */
};

struct archive;

/* "vtt", "srt", "txt". */
const char *archive_ext(enum archive_format fmt);

/*
 * Starts the thread. dir NULL or "": memory copies only, no files. tags are
 * the languages (copied). NULL and *err = -errno on failure. Main thread.
 */
struct archive *archive_create(const struct puente_host *host, const char *dir,
                               const char *const *tags, int n_langs, int *err);
/*
 * Writes what is queued, joins the thread, closes the files, and gives the
 * final counts (st may be NULL). Main thread.
 */
void archive_destroy(struct archive *a, struct archive_stats *st);

/* Queues a final cue (text copied). 0, -ENOBUFS when the queue is full (counted). Any thread. */
int archive_push(struct archive *a, int lang, uint64_t start, uint64_t end, const char *text,
                 size_t len);
/*
 * A malloc'd copy of a file as written so far (the memory copy, which also
 * survives a failed disk). 0, -EFBIG past ARCHIVE_MIRROR_MAX, -ENOMEM. Any thread.
 */
int archive_copy(struct archive *a, int lang, enum archive_format fmt, char **out, size_t *len);
void archive_get_stats(struct archive *a, struct archive_stats *st);

/* For tests: waits until every cue pushed so far is written (never while held). */
void archive_drain(struct archive *a);
/* For tests: while held, the thread takes nothing from the queue. */
void archive_hold(struct archive *a, bool hold);

/* A growable string; on allocation failure it stays as it was and says so. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_fini(struct strbuf *b);

/*
 * Appends one cue in a format (pure; for tests too): index is SubRip's
 * (1-based). Blank lines are dropped, WebVTT escapes & < > (so no "-->"
 * either), SubRip turns "-->" into "->", the transcript joins the lines with
 * spaces. Returns false, appending nothing, when the text has no visible line.
 */
bool archive_format_cue(struct strbuf *b, enum archive_format fmt, uint64_t index, uint64_t start,
                        uint64_t end, const char *text, size_t len);
/* "HH:MM:SS.mmm" (sep '.') or "HH:MM:SS,mmm" (sep ','); hours grow past 99. */
void archive_format_time(char out[32], uint64_t media_time, char sep);

#endif
