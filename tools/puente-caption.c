/*
 * puente-caption: a captioner on the command line. It sends captions to the
 * relay's captions plugin (README.md, "Caption messages"): the lines of
 * standard input, one final caption each (with --partial: updates of the
 * caption being written, made final by an empty line), or an SRT or WebVTT
 * file replayed in real time. Two forms:
 * - WebSocket (default): core.hello as a captioner, then captions.cue. The
 *   tool also chooses its own language, so the relay hands every accepted
 *   cue back to it like to any listener; a refusal is a core.error about
 *   captions.cue. Both come in order, and at most one caption is in flight,
 *   so each answer belongs to that caption.
 * - HTTP (--http): the caption API that CART software speaks. POST to the
 *   captioner's caption URL with &seq=N&lang=L, the same seq on a retry;
 *   network errors, 5xx and 429 are retried with backoff (bounded).
 * One summary line goes to stdout at the end.
 *
 * Threads: one. The loop reads input without blocking (poll), paces the
 * captions to the relay's default rate, and services the WebSocket between
 * reads; HTTP exchanges are short blocking calls with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/pcl.h"
#include "client/toolkit.h"

#define PROG  "puente-caption"
#define AGENT PROG "/" PUENTE_VERSION

#define SLICE_MS           20    /* longest the loop waits before looking at input again */
#define CLOSE_WAIT_MS      1000  /* closing handshake */
#define WELCOME_TIMEOUT_MS 10000 /* a relay greets at once */
#define ANSWER_TIMEOUT_MS  5000  /* core.hello, captions.choose, a caption's echo */
#define ID_LEN             48
#define EXCERPT_CHARS      48 /* of a caption, in messages */

/* Input bounds. A caption is at most 5000 code points (README: max_chars). */
#define LINE_MAX_BYTES (32 * 1024)    /* one line of standard input or of a file */
#define BOM            "\xef\xbb\xbf" /* UTF-8 byte-order mark */
#define TEXT_MAX_BYTES (32 * 1024)    /* one cue of a file */
#define FILE_MAX_BYTES (64L << 20)    /* a replay file */
#define CUES_MAX       1000000

/* Retries (HTTP: network errors, 5xx, 429; WebSocket: rate_limited). */
#define ATTEMPTS_MAX    6 /* per caption: backoff 0.25, 0.5, 1, 2, 4 s between them */
#define RETRY_FIRST_MS  250
#define RETRY_MAX_MS    4000
#define RETRY_AFTER_MAX 10 /* s: a longer Retry-After is cut to this */
#define RECONNECTS_MAX  5  /* WebSocket: consecutive failed reconnections */

/* Pacing: the relay's default caption rate (5/s) and a burst under its 20. */
#define RATE_PER_S 5.0
#define BURST      15.0

/* HTTP exchanges. */
#define HTTP_TIMEOUT_MS 10000 /* connect, send and answer */
#define HTTP_ANSWER_MAX 65536
#define HTTP_REQ_HEAD   2048

struct options {
	const char *url;                /* WebSocket form */
	const char *token, *token_file; /* --token, --token-file */
	struct pcl_target target;       /* --url and the token, resolved */
	const char *http;               /* HTTP form: the caption URL */
	const char *lang;
	const char *replay;
	bool partial;
	bool quiet;
};

struct http_url {
	char host[PCL_HOST_MAX]; /* IPv6 without brackets */
	char port[8];
	char host_header[PCL_HOST_MAX + 8];
	char path[PCL_PATH_MAX];  /* e.g. /captions/api */
	char query[PCL_PATH_MAX]; /* after '?', e.g. token=... */
};

struct http_answer {
	int status;
	int retry_after; /* s; -1: none */
	char *body;      /* NUL-terminated, inside buf */
	size_t body_len;
	int64_t sent_us, recv_us; /* wall clock around the exchange */
	char buf[HTTP_ANSWER_MAX + 1];
};

/* One cue of a replay file. */
struct cue {
	int64_t start_ms, end_ms;
	char *text;
	size_t len;
	unsigned long line; /* of its timing line, for messages */
};

struct cues {
	struct cue *v;
	size_t n, cap;
	unsigned long skipped; /* blocks that were not cues */
};

/* Standard input, split into lines without ever blocking. */
struct line_reader {
	char buf[LINE_MAX_BYTES];
	size_t len;
	bool discarding; /* inside a line longer than buf */
	bool eof;
	bool started; /* past a possible byte-order mark */
	unsigned long lineno;
};

enum line_result { LINE_NONE, LINE_READY, LINE_TOO_LONG, LINE_END };

/* The caption being sent. */
struct caption {
	char *text;
	size_t len;
	bool final;
	char id[ID_LEN];
	unsigned long n;  /* 1-based, for messages */
	int64_t stamp_us; /* wall clock: the caption's time (HTTP timestamp line) */
	int64_t due_ms;   /* pcl_mono_ms(): not before */
	int attempts;     /* made so far */
	bool maybe_taken; /* HTTP: an attempt failed after the request may have gone out */
	char stamp[80];   /* HTTP: its timestamp line, fixed at the first attempt */
	int64_t retry_ms; /* pcl_mono_ms(): next attempt not before */
};

struct tool {
	struct options opt;

	/* input */
	struct line_reader *in;
	struct cues cues;
	size_t next_cue;
	int64_t replay_t0_ms; /* pcl_mono_ms() of the first cue; 0 until ready */
	bool input_done;
	bool partial_open; /* --partial: a caption is being written */
	char *partial_text;
	size_t partial_len;
	char partial_id[ID_LEN];
	unsigned long n_captions;
	unsigned session; /* makes ids unique across runs */

	bool have_cur;
	struct caption cur;

	double tokens;
	int64_t tokens_ms;

	/* WebSocket */
	struct pcl_client *cl;
	bool opened, welcomed, ready, inflight, ever_ready, closing;
	int64_t opened_ms, inflight_ms, reconnect_ms;
	unsigned reconnects;

	/* HTTP */
	struct http_url http;
	unsigned long seq; /* the next caption's */
	bool have_offset;
	int64_t offset_us; /* relay clock - ours */
	int64_t best_rtt_us;
	struct http_answer *ans;

	uint64_t sent, refused, duplicates, failed;
	int fatal; /* exit status an error decided; 0: none */
};

static void sleep_ms(int64_t ms)
{
	if (ms > 0)
		poll(NULL, 0, (int)ms); /* a signal ends it early */
}

/* Progress for people: silenced by --quiet. */
#define note(t, ...) pcl_note((t)->opt.quiet, __VA_ARGS__)
/* The run cannot go on: it ends with exit status status. */
#define fail(t, status, ...) pcl_fail(&(t)->fatal, status, __VA_ARGS__)

/* --- text --- */

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p++;
		unsigned need, min, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < need)
			return false;
		for (unsigned i = 0; i < need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += need;
	}
	return true;
}

/* The first EXCERPT_CHARS code points of text, safe for a terminal. */
static const char *excerpt(char *dst, size_t cap, const char *text, size_t len)
{
	char tmp[EXCERPT_CHARS * 4 + 4];
	size_t i = 0, chars = 0;

	while (i < len && chars < EXCERPT_CHARS) {
		size_t step = 1;

		while (step < 4 && i + step < len && ((unsigned char)text[i + step] & 0xc0) == 0x80)
			step++;
		memcpy(tmp + i, text + i, step);
		i += step;
		chars++;
	}
	if (i < len)
		memcpy(tmp + i, "...", 4);
	else
		tmp[i] = '\0';
	return pcl_sanitize(dst, cap, tmp);
}

/* A line of input as a caption: tabs become spaces, other controls go. */
static size_t clean_line(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			s[o++] = ' ';
		else if (c >= 0x20 && c != 0x7f)
			s[o++] = (char)c;
	}
	while (o && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	return o;
}

/* --- standard input --- */

/*
 * Takes one complete line (without its end: LF, CRLF) into out (cap
 * LINE_MAX_BYTES + 1), reading what is there within wait_ms. The last line
 * may lack its LF. A line longer than LINE_MAX_BYTES is dropped whole and
 * reported once as LINE_TOO_LONG.
 */
static enum line_result read_line(struct line_reader *r, int wait_ms, char *out, size_t *out_len)
{
	for (int round = 0; round < 2; round++) {
		char *nl = memchr(r->buf, '\n', r->len);

		if (nl || (r->eof && r->len)) {
			size_t n = nl ? (size_t)(nl - r->buf) : r->len;
			size_t used = nl ? n + 1 : n;
			bool was_discarding = r->discarding;

			r->lineno++;
			r->discarding = false;
			if (!was_discarding) {
				if (n && r->buf[n - 1] == '\r')
					n--;
				memcpy(out, r->buf, n);
				out[n] = '\0';
				*out_len = n;
			}
			memmove(r->buf, r->buf + used, r->len - used);
			r->len -= used;
			return was_discarding ? LINE_TOO_LONG : LINE_READY;
		}
		if (r->eof && r->discarding) { /* the last line, too long, without its LF */
			r->discarding = false;
			r->lineno++;
			return LINE_TOO_LONG;
		}
		if (r->eof)
			return LINE_END;
		if (r->len == sizeof(r->buf)) {
			r->discarding = true; /* keep looking for its end */
			r->len = 0;
		}
		if (round)
			break;

		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int ready = poll(&pfd, 1, wait_ms);

		if (ready <= 0)
			return LINE_NONE;
		ssize_t got = read(STDIN_FILENO, r->buf + r->len, sizeof(r->buf) - r->len);

		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return LINE_NONE;
			pcl_warn("cannot read standard input: %s", strerror(errno));
			r->eof = true;
		} else if (got == 0) {
			r->eof = true;
		} else {
			r->len += (size_t)got;
		}
		if (!r->started && (r->len >= 3 || r->eof || memcmp(r->buf, BOM, r->len))) {
			r->started = true;
			if (r->len >= 3 && !memcmp(r->buf, BOM, 3)) {
				memmove(r->buf, r->buf + 3, r->len - 3);
				r->len -= 3;
			}
		} else if (!r->started) {
			return LINE_NONE; /* a BOM may still be coming */
		}
	}
	return LINE_NONE;
}

/* --- SRT and WebVTT --- */

/* Windows-1252 for 0x80..0x9f (0: undefined there, kept as U+FFFD). */
static const unsigned short cp1252[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A file that is not UTF-8 is read as Windows-1252 (Latin-1's superset). */
static char *from_cp1252(const char *s, size_t n, size_t *out_len)
{
	char *o = malloc(n * 3 + 1);
	size_t k = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp = c;

		if (c >= 0x80 && c <= 0x9f)
			cp = cp1252[c - 0x80] ? cp1252[c - 0x80] : 0xfffd;
		k += put_utf8(o + k, cp);
	}
	o[k] = '\0';
	*out_len = k;
	return o;
}

/* Digits at *p into *v (at most max of them, at least 1). */
static bool take_digits(const char **p, int max, long *v, int *count)
{
	int n = 0;

	*v = 0;
	while (n < max && **p >= '0' && **p <= '9') {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (count)
		*count = n;
	return n > 0 && !(**p >= '0' && **p <= '9');
}

/*
 * A timestamp: [H+:]MM:SS[,.]mmm (SRT has hours and a comma, WebVTT may
 * omit the hours and has a dot). Tolerated: 1 to 3 digits of fraction, or
 * none. Advances *p past it.
 */
static bool parse_time(const char **p, int64_t *ms)
{
	long a, b, c = -1, frac = 0;
	int frac_digits = 0;

	if (!take_digits(p, 6, &a, NULL) || **p != ':')
		return false;
	(*p)++;
	if (!take_digits(p, 2, &b, NULL))
		return false;
	if (**p == ':') {
		(*p)++;
		if (!take_digits(p, 2, &c, NULL))
			return false;
	}
	if (**p == ',' || **p == '.') {
		(*p)++;
		if (!take_digits(p, 3, &frac, &frac_digits))
			return false;
		for (int i = frac_digits; i < 3; i++)
			frac *= 10;
	}
	if (c < 0) { /* MM:SS */
		if (b > 59)
			return false;
		*ms = (a * 60 + b) * 1000 + frac;
	} else {
		if (b > 59 || c > 59)
			return false;
		*ms = ((int64_t)a * 3600 + b * 60 + c) * 1000 + frac;
	}
	return true;
}

/* "START --> END[ settings]" */
static bool parse_timing(const char *line, int64_t *start, int64_t *end)
{
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!parse_time(&p, start))
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "-->", 3))
		return false;
	p += 3;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!parse_time(&p, end))
		return false;
	return *p == '\0' || *p == ' ' || *p == '\t';
}

static bool word_at(const char *s, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(s, word, n) && (s[n] == '\0' || s[n] == ' ' || s[n] == '\t');
}

/* SRT formatting tags: <i> <b> <u> <font ...> and their ends. */
static size_t srt_tag_len(const char *s)
{
	static const char *const tags[] = {"i", "b", "u", "font", NULL};
	const char *p = s + 1;
	const char *close;

	if (*p == '/')
		p++;
	for (int i = 0; tags[i]; i++) {
		size_t n = strlen(tags[i]);

		if (!strncasecmp(p, tags[i], n) && (p[n] == '>' || p[n] == ' ')) {
			close = strchr(p, '>');
			return close ? (size_t)(close - s) + 1 : 0;
		}
	}
	return 0;
}

static bool is_digit(char c, bool hex)
{
	return (c >= '0' && c <= '9') || (hex && (((c | 0x20) >= 'a' && (c | 0x20) <= 'f')));
}

/* WebVTT character references; returns the bytes consumed, 0 if none. */
static size_t vtt_entity(const char *s, char *out, size_t *out_len)
{
	static const struct {
		const char *name;
		unsigned cp;
	} names[] = {{"amp;", '&'},   {"lt;", '<'},    {"gt;", '>'},     {"quot;", '"'},
	             {"apos;", '\''}, {"nbsp;", 0xa0}, {"lrm;", 0x200e}, {"rlm;", 0x200f}};
	const char *p = s + 1;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);

		if (!strncmp(p, names[i].name, n)) {
			*out_len = put_utf8(out, names[i].cp);
			return n + 1;
		}
	}
	if (*p == '#') {
		bool hex = p[1] == 'x' || p[1] == 'X';
		const char *d = p + 1 + hex;
		char *end;
		unsigned long cp = strtoul(d, &end, hex ? 16 : 10);

		if (is_digit(*d, hex) && end > d && end - d <= 7 && *end == ';' && cp >= 0x20 &&
		    cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && cp != 0x7f &&
		    !(cp >= 0x80 && cp <= 0x9f)) {
			*out_len = put_utf8(out, (unsigned)cp);
			return (size_t)(end - s) + 1;
		}
	}
	return 0;
}

/*
 * Appends one text line of a cue to text (a "\n" between lines), without
 * markup: WebVTT tags and character references, SRT formatting tags and
 * {\...} overrides. Lines that were only markup add nothing. Returns false
 * past TEXT_MAX_BYTES.
 */
static bool cue_add_line(char *text, size_t *len, const char *line, bool vtt)
{
	char buf[LINE_MAX_BYTES + 8];
	size_t o = 0;

	for (const char *p = line; *p;) {
		size_t skip = 0, n = 0;
		char ref[4];

		if (*p == '<') {
			const char *close = strchr(p, '>');

			skip = vtt ? (close ? (size_t)(close - p) + 1 : 0) : srt_tag_len(p);
		} else if (!vtt && p[0] == '{' && p[1] == '\\') {
			const char *close = strchr(p, '}');

			skip = close ? (size_t)(close - p) + 1 : 0;
		} else if (vtt && *p == '&') {
			skip = vtt_entity(p, ref, &n);
			if (skip) {
				memcpy(buf + o, ref, n);
				o += n;
			}
		}
		if (skip) {
			p += skip;
			continue;
		}
		buf[o++] = *p == '\t' ? ' ' : *p;
		p++;
	}
	o = clean_line(buf, o);
	if (!o)
		return true;
	if (*len + o + 1 > TEXT_MAX_BYTES)
		return false;
	if (*len)
		text[(*len)++] = '\n';
	memcpy(text + *len, buf, o);
	*len += o;
	text[*len] = '\0';
	return true;
}

static int cues_push(struct cues *c, int64_t start, int64_t end, const char *text, size_t len,
                     unsigned long line)
{
	struct cue *q;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct cue *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	q = &c->v[c->n];
	q->text = malloc(len + 1);
	if (!q->text)
		return -ENOMEM;
	memcpy(q->text, text, len + 1);
	q->len = len;
	q->start_ms = start;
	q->end_ms = end < start ? start : end;
	q->line = line;
	c->n++;
	return 0;
}

static int cue_cmp(const void *a, const void *b)
{
	const struct cue *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	/* qsort is not stable: file order breaks ties. */
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Parses SRT or WebVTT (told apart by the WEBVTT signature) from buf (UTF-8,
 * NUL-terminated, no BOM) into c, sorted by start time. Lenient where files
 * in the wild are: CR, LF or CRLF line ends, missing indices or blank lines
 * between cues, cue settings, NOTE, STYLE and REGION blocks. A cue whose
 * timing does not parse, whose text is empty or too long is skipped with a
 * warning. Returns 0, or -ENOMEM.
 */
static int parse_subtitles(char *buf, size_t len, const char *name, struct cues *c)
{
	enum { BETWEEN, SKIP, TEXT } state = BETWEEN;
	bool vtt =
	    !strncmp(buf, "WEBVTT", 6) &&
	    (buf[6] == '\0' || buf[6] == ' ' || buf[6] == '\t' || buf[6] == '\r' || buf[6] == '\n');
	char *text = malloc(TEXT_MAX_BYTES + 1);
	size_t text_len = 0;
	int64_t start = 0, end = 0;
	unsigned long lineno = 0, cue_line = 0;
	bool too_long = false;
	/* The last text line was only digits: maybe the next cue's index. */
	bool last_digits = false;
	size_t before_last = 0;
	char *p = buf, *bufend = buf + len;
	int err = 0;

	if (!text)
		return -ENOMEM;
	if (vtt)
		state = SKIP; /* the header block */
	while (p < bufend && !err) {
		char *eol = p + strcspn(p, "\r\n");
		char *next = eol;
		int64_t s, e;

		if (*next == '\r')
			next++;
		if (*next == '\n')
			next++;
		*eol = '\0';
		lineno++;
		if (eol - p > LINE_MAX_BYTES) {
			pcl_warn("%s:%lu: line longer than %d bytes: its cue is skipped", name,
			         lineno, LINE_MAX_BYTES);
			if (state == TEXT)
				too_long = true;
			else
				c->skipped++;
			p = next;
			continue;
		}
		if (strstr(p, "-->") && parse_timing(p, &s, &e)) {
			if (state == TEXT) {       /* no blank line before this cue */
				if (last_digits) { /* its index, not the previous cue's text */
					text_len = before_last;
					text[text_len] = '\0';
				}
				if (too_long || !text_len)
					c->skipped++;
				else
					err = cues_push(c, start, end, text, text_len, cue_line);
			}
			state = TEXT;
			start = s;
			end = e;
			cue_line = lineno;
			last_digits = false;
			text_len = 0;
			text[0] = '\0';
			too_long = false;
		} else if (!*p || strspn(p, " \t") == strlen(p)) {
			if (state == TEXT) {
				if (too_long) {
					pcl_warn("%s:%lu: cue longer than %d bytes: skipped", name,
					         cue_line, TEXT_MAX_BYTES);
					c->skipped++;
				} else if (text_len) {
					err = cues_push(c, start, end, text, text_len, cue_line);
				}
			}
			state = BETWEEN;
		} else if (state == TEXT) {
			before_last = text_len;
			last_digits = strspn(p, "0123456789") == strlen(p);
			if (!too_long && !cue_add_line(text, &text_len, p, vtt))
				too_long = true;
		} else if (state == BETWEEN) {
			if (vtt &&
			    (word_at(p, "NOTE") || word_at(p, "STYLE") || word_at(p, "REGION"))) {
				state = SKIP;
			} else if (strstr(p, "-->")) {
				pcl_warn("%s:%lu: cannot read the timing '%.40s': cue skipped",
				         name, lineno, p);
				c->skipped++;
				state = SKIP;
			}
			/* Else an index or cue identifier: the timing line follows. */
		}
		if (c->n >= CUES_MAX) {
			pcl_warn("%s: more than %d cues: the rest is ignored", name, CUES_MAX);
			break;
		}
		p = next;
	}
	if (!err && state == TEXT && text_len && !too_long)
		err = cues_push(c, start, end, text, text_len, cue_line);
	free(text);
	if (!err && c->n > 1)
		qsort(c->v, c->n, sizeof(c->v[0]), cue_cmp);
	return err;
}

/* Reads the whole replay file (bounded) and parses it. 0, or an exit status. */
static int load_replay(struct tool *t)
{
	const char *name = t->opt.replay;
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	char *buf = NULL, *conv = NULL, *text;
	size_t len = 0, cap = 0, text_len;
	int err;

	if (fd < 0) {
		pcl_warn("cannot open %s: %s", name, strerror(errno));
		return 2;
	}
	for (;;) {
		ssize_t got;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 1 << 16;
			char *nbuf;

			if (cap >= (size_t)FILE_MAX_BYTES) {
				pcl_warn("%s is larger than %ld MiB: not a subtitle file?", name,
				         FILE_MAX_BYTES >> 20);
				free(buf);
				close(fd);
				return 2;
			}
			nbuf = realloc(buf, ncap + 1);
			if (!nbuf) {
				free(buf);
				close(fd);
				pcl_warn("out of memory");
				return 1;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			pcl_warn("cannot read %s: %s", name, strerror(errno));
			free(buf);
			close(fd);
			return 2;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (!buf)
		buf = calloc(1, 1);
	if (!buf)
		return 1;
	buf[len] = '\0';
	text = buf;
	text_len = len;
	if (text_len >= 3 && !memcmp(text, BOM, 3)) {
		text += 3;
		text_len -= 3;
	}
	if (memchr(text, '\0', text_len)) {
		pcl_warn("%s holds NUL bytes: not a subtitle file (UTF-16 is not read; save it as "
		         "UTF-8)",
		         name);
		free(buf);
		return 2;
	}
	if (!utf8_valid(text, text_len)) {
		conv = from_cp1252(text, text_len, &text_len);
		if (!conv) {
			free(buf);
			return 1;
		}
		pcl_warn("%s is not UTF-8: read as Windows-1252", name);
		text = conv;
	}
	err = parse_subtitles(text, text_len, name, &t->cues);
	free(conv);
	free(buf);
	if (err) {
		pcl_warn("out of memory");
		return 1;
	}
	if (!t->cues.n) {
		pcl_warn("%s holds no cue (expected SRT or WebVTT: 'START --> END' lines)", name);
		return 2;
	}
	note(t, "%s: %zu cue(s) over %.1f s%s", name, t->cues.n,
	     (double)(t->cues.v[t->cues.n - 1].start_ms - t->cues.v[0].start_ms) / 1000.0,
	     t->cues.skipped ? "; some blocks were skipped" : "");
	return 0;
}

/* --- the caption being sent --- */

static void new_id(struct tool *t, char *id)
{
	snprintf(id, ID_LEN, "pc%06x-%lu", t->session, t->n_captions + 1);
}

static int set_cur(struct tool *t, const char *text, size_t len, bool final, const char *id)
{
	struct caption *c = &t->cur;

	memset(c, 0, sizeof(*c));
	c->text = malloc(len + 1);
	if (!c->text) {
		fail(t, 1, "out of memory");
		return -ENOMEM;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->len = len;
	c->final = final;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->n = ++t->n_captions;
	c->stamp_us = pcl_now_unix_us();
	c->due_ms = pcl_mono_ms();
	t->have_cur = true;
	return 0;
}

static void drop_cur(struct tool *t)
{
	free(t->cur.text);
	memset(&t->cur, 0, sizeof(t->cur));
	t->have_cur = false;
	t->inflight = false;
}

static void accepted(struct tool *t, bool duplicate)
{
	char ex[EXCERPT_CHARS * 4 + 8];

	t->sent++;
	if (duplicate)
		t->duplicates++;
	note(t, "%s %lu%s: %s", t->cur.final ? "sent" : "sent partial", t->cur.n,
	     duplicate ? " (the relay had it already)" : "",
	     excerpt(ex, sizeof(ex), t->cur.text, t->cur.len));
	drop_cur(t);
}

static void refused(struct tool *t, const char *why)
{
	char ex[EXCERPT_CHARS * 4 + 8];

	t->refused++;
	pcl_warn("caption %lu refused: %s: %s", t->cur.n, why,
	         excerpt(ex, sizeof(ex), t->cur.text, t->cur.len));
	drop_cur(t);
}

/* Backoff before attempt number t->cur.attempts + 1; false once they are spent. */
static bool schedule_retry(struct tool *t, int retry_after_s, const char *why)
{
	int64_t wait = RETRY_FIRST_MS;

	if (t->cur.attempts >= ATTEMPTS_MAX) {
		t->failed++;
		fail(t, 1, "caption %lu: giving up after %d attempts (%s)", t->cur.n,
		     t->cur.attempts, why);
		drop_cur(t);
		return false;
	}
	for (int i = 1; i < t->cur.attempts && wait < RETRY_MAX_MS; i++)
		wait *= 2;
	if (wait > RETRY_MAX_MS)
		wait = RETRY_MAX_MS;
	if (retry_after_s >= 0)
		wait =
		    (int64_t)(retry_after_s < RETRY_AFTER_MAX ? retry_after_s : RETRY_AFTER_MAX) *
		    1000;
	t->cur.retry_ms = pcl_mono_ms() + wait;
	pcl_warn("caption %lu: %s; retrying in %.2f s (attempt %d of %d)", t->cur.n, why,
	         (double)wait / 1000.0, t->cur.attempts + 1, ATTEMPTS_MAX);
	return true;
}

/* A whole token spent on every attempt, so retries count against the rate too. */
static bool take_token(struct tool *t, int64_t now)
{
	t->tokens += (double)(now - t->tokens_ms) * RATE_PER_S / 1000.0;
	if (t->tokens > BURST)
		t->tokens = BURST;
	t->tokens_ms = now;
	if (t->tokens < 1.0)
		return false;
	t->tokens -= 1.0;
	return true;
}

/* --- input: the next caption --- */

static void next_from_stdin(struct tool *t, int wait_ms)
{
	static char line[LINE_MAX_BYTES + 1];
	size_t len = 0;
	char id[ID_LEN];

	switch (read_line(t->in, wait_ms, line, &len)) {
	case LINE_NONE:
		return;
	case LINE_TOO_LONG:
		t->refused++;
		pcl_warn("line %lu is longer than %d bytes: not sent", t->in->lineno,
		         LINE_MAX_BYTES);
		return;
	case LINE_END:
		if (t->partial_open) {
			t->partial_open = false;
			set_cur(t, t->partial_text, t->partial_len, true, t->partial_id);
		} else {
			t->input_done = true;
		}
		return;
	case LINE_READY:
		break;
	}
	if (!utf8_valid(line, len)) {
		t->refused++;
		pcl_warn("line %lu is not UTF-8: not sent", t->in->lineno);
		return;
	}
	len = clean_line(line, len);
	if (!t->opt.partial) {
		if (len) {
			new_id(t, id);
			set_cur(t, line, len, true, id);
		}
		return;
	}
	if (!len) { /* an empty line ends the caption being written */
		if (t->partial_open) {
			t->partial_open = false;
			set_cur(t, t->partial_text, t->partial_len, true, t->partial_id);
		}
		return;
	}
	if (!t->partial_open) {
		new_id(t, t->partial_id);
		t->partial_open = true;
	}
	free(t->partial_text);
	t->partial_text = strdup(line);
	if (!t->partial_text) {
		fail(t, 1, "out of memory");
		return;
	}
	t->partial_len = len;
	set_cur(t, line, len, false, t->partial_id);
}

static void next_from_replay(struct tool *t)
{
	const struct cue *q;
	char id[ID_LEN];

	if (t->next_cue == t->cues.n) {
		t->input_done = true;
		return;
	}
	q = &t->cues.v[t->next_cue++];
	new_id(t, id);
	if (set_cur(t, q->text, q->len, true, id) < 0)
		return;
	/* Each cue at its start time, counted from the first one's, and stamped with it. */
	t->cur.due_ms = t->replay_t0_ms + (q->start_ms - t->cues.v[0].start_ms);
	if (t->cur.due_ms > pcl_mono_ms())
		t->cur.stamp_us += (t->cur.due_ms - pcl_mono_ms()) * 1000;
}

/* --- WebSocket form --- */

static int ws_send_json(struct tool *t, json_t *msg)
{
	int err = msg ? pcl_send_json(t->cl, msg) : -ENOMEM;

	json_decref(msg);
	return err;
}

static void ws_on_welcome(struct tool *t, const json_t *msg)
{
	json_int_t proto = json_integer_value(json_object_get(msg, "protocol"));

	if (t->welcomed)
		return;
	t->welcomed = true;
	if (proto != PUENTE_PROTO_VERSION) {
		fail(t, 1, "the relay speaks protocol %lld; " PROG " speaks %d", (long long)proto,
		     PUENTE_PROTO_VERSION);
		return;
	}
	if (ws_send_json(t, json_pack("{s:s, s:s, s:s}", "type", "core.hello", "role", "captioner",
	                              "agent", AGENT)) < 0 ||
	    ws_send_json(
	        t, json_pack("{s:s, s:s}", "type", "captions.choose", "lang", t->opt.lang)) < 0)
		fail(t, 1, "cannot send to the relay");
}

static void ws_on_error(struct tool *t, const json_t *msg)
{
	const char *code = json_string_value(json_object_get(msg, "code"));
	const char *text = json_string_value(json_object_get(msg, "message"));
	const char *ref = json_string_value(json_object_get(msg, "ref"));
	char c[64], m[256], r[64], why[400];

	pcl_sanitize(c, sizeof(c), code);
	pcl_sanitize(m, sizeof(m), text);
	pcl_sanitize(r, sizeof(r), ref);
	if (!strcmp(r, "core.hello")) {
		fail(t, 1, "the relay refused the captioner role: %s %s", c, m);
	} else if (!strcmp(r, "captions.choose")) {
		if (!strcmp(c, "unknown_type"))
			fail(t, 1, "the relay has no captions (is its captions plugin loaded?)");
		else
			fail(t, 2, "the relay refused the caption language '%s': %s %s",
			     t->opt.lang, c, m);
	} else if (!strcmp(r, "captions.cue") && t->inflight) {
		snprintf(why, sizeof(why), "%s (%s)", c, m);
		t->inflight = false;
		if (!strcmp(c, "rate_limited"))
			schedule_retry(t, -1, "rate limited by the relay");
		else if (!strcmp(c, "unknown_type"))
			fail(t, 1, "the relay has no captions (is its captions plugin loaded?)");
		else
			refused(t, why);
	} else {
		pcl_warn("relay error %s%s%s: %s", c, *r ? " on " : "", r, m);
	}
}

static void ws_on_json(void *user, const char *type, json_t *msg)
{
	struct tool *t = user;

	if (!strcmp(type, "core.welcome")) {
		ws_on_welcome(t, msg);
	} else if (!strcmp(type, "core.hello")) {
		const char *role = json_string_value(json_object_get(msg, "role"));
		char r[64];

		if (!role || strcmp(role, "captioner"))
			fail(t, 1, "the relay granted the role '%s', not captioner",
			     pcl_sanitize(r, sizeof(r), role));
	} else if (!strcmp(type, "captions.history")) {
		if (!t->ready) {
			t->ready = true;
			if (t->ever_ready)
				note(t, "reconnected");
			else
				note(t, "connected to %s as a captioner for '%s'",
				     t->opt.target.url, t->opt.lang);
			t->ever_ready = true;
			t->reconnects = 0;
		}
	} else if (!strcmp(type, "captions.cue")) {
		const char *id = json_string_value(json_object_get(msg, "id"));

		/* Our own cue, handed back: the relay took it. */
		if (t->inflight && id && !strcmp(id, t->cur.id) &&
		    json_is_true(json_object_get(msg, "final")) == t->cur.final)
			accepted(t, false);
	} else if (!strcmp(type, "core.error")) {
		ws_on_error(t, msg);
	}
}

static void ws_on_open(void *user)
{
	struct tool *t = user;

	t->opened = true;
	t->opened_ms = pcl_mono_ms();
}

static void ws_on_closed(void *user, int code, const char *reason)
{
	struct tool *t = user;

	if (t->closing || t->fatal)
		return;
	if (!t->opened && (!t->ever_ready || pcl_http_status(t->cl)))
		fail(t, 1, "cannot connect to %s: %s", t->opt.target.url, reason);
	else if (code == PUENTE_CLOSE_TAKEN_OVER || code == PUENTE_CLOSE_REVOKED)
		/* Coming back would take the link from the other device, or be refused. */
		fail(t, 1, "the relay closed the connection: %d %s", code, reason);
	else if (t->opened)
		pcl_warn("the connection closed: %d %s", code, reason);
}

static void ws_connect(struct tool *t)
{
	static const struct pcl_callbacks cb = {
	    .open = ws_on_open,
	    .json = ws_on_json,
	    .closed = ws_on_closed,
	};
	int err;

	t->opened = t->welcomed = t->ready = t->inflight = false;
	t->cl = pcl_create(t->opt.target.connect, &cb, t, &err);
	if (!t->cl)
		fail(t, 1, "cannot start a client for %s: %s", t->opt.target.url, strerror(-err));
	/* It follows its own language: a full history can be larger than 16 KiB. */
	else if ((err = pcl_set_text_max(t->cl, PCL_CAPTIONS_TEXT_MAX)) < 0)
		fail(t, 1, "cannot make room for captions: %s", strerror(-err));
}

static void ws_send_cur(struct tool *t)
{
	json_t *msg =
	    json_pack("{s:s, s:s, s:s%, s:b, s:s}", "type", "captions.cue", "lang", t->opt.lang,
	              "text", t->cur.text, t->cur.len, "final", t->cur.final, "id", t->cur.id);
	int err;

	if (!msg) {
		fail(t, 1, "out of memory");
		return;
	}
	err = pcl_send_json(t->cl, msg);
	json_decref(msg);
	t->cur.attempts++;
	if (err == -EMSGSIZE) {
		refused(t, "too long for one message (16 KiB as JSON)");
	} else if (err < 0) {
		t->failed++;
		fail(t, 1, "cannot send caption %lu: %s", t->cur.n, strerror(-err));
		drop_cur(t);
	} else {
		t->inflight = true;
		t->inflight_ms = pcl_mono_ms();
	}
}

/* Services the connection for up to ms; reconnects with backoff when it drops. */
static void ws_service(struct tool *t, int ms)
{
	int64_t now = pcl_mono_ms();

	if (!t->cl) {
		if (now < t->reconnect_ms) {
			sleep_ms(t->reconnect_ms - now < ms ? t->reconnect_ms - now : ms);
			return;
		}
		note(t, "reconnecting to %s", t->opt.target.url);
		ws_connect(t);
		return;
	}
	if (pcl_run_for(t->cl, (uint32_t)ms) < 0) {
		int64_t wait = 500;

		pcl_destroy(t->cl);
		t->cl = NULL;
		t->inflight = false; /* the caption in flight goes again */
		if (t->fatal || t->closing || pcl_stop)
			return;
		if (!t->ever_ready && !t->fatal) {
			fail(t, 1, "the relay closed the connection before accepting a captioner");
			return;
		}
		if (++t->reconnects > RECONNECTS_MAX) {
			fail(t, 1, "giving up after %d failed reconnections", RECONNECTS_MAX);
			return;
		}
		for (unsigned i = 1; i < t->reconnects && wait < 8000; i++)
			wait *= 2;
		t->reconnect_ms = pcl_mono_ms() + wait;
		return;
	}
	now = pcl_mono_ms();
	if (t->opened && !t->welcomed && now - t->opened_ms > WELCOME_TIMEOUT_MS)
		fail(t, 1, "no core.welcome from %s: is it a puente relay?", t->opt.target.url);
	else if (t->welcomed && !t->ready &&
	         now - t->opened_ms > WELCOME_TIMEOUT_MS + ANSWER_TIMEOUT_MS)
		fail(t, 1, "the relay did not answer captions.choose: has it the captions plugin?");
	if (t->inflight && now - t->inflight_ms > ANSWER_TIMEOUT_MS) {
		t->failed++;
		pcl_warn("caption %lu: no answer from the relay within %d s; counted as failed",
		         t->cur.n, ANSWER_TIMEOUT_MS / 1000);
		drop_cur(t);
	}
}

static void ws_close(struct tool *t)
{
	if (!t->cl)
		return;
	t->closing = true;
	pcl_close_wait(t->cl, CLOSE_WAIT_MS, 100);
	pcl_destroy(t->cl);
	t->cl = NULL;
}

/* --- HTTP form --- */

/* "http://HOST[:PORT]/PATH?QUERY" (HOST may be "[v6addr]"). 0 or -EINVAL. */
static int http_url_parse(const char *url, struct http_url *u)
{
	static const char scheme[] = "http://";
	const char *p, *host, *host_end, *q;
	size_t n;
	unsigned long port = 80;

	if (!url || strncasecmp(url, scheme, sizeof(scheme) - 1))
		return -EINVAL;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return -EINVAL;
	host = url + sizeof(scheme) - 1;
	if (*host == '[') {
		host_end = strchr(++host, ']');
		if (!host_end)
			return -EINVAL;
		p = host_end + 1;
	} else {
		host_end = host + strcspn(host, ":/?@");
		p = host_end;
	}
	n = (size_t)(host_end - host);
	if (!n || n >= sizeof(u->host) || memchr(host, '@', n))
		return -EINVAL;
	memcpy(u->host, host, n);
	u->host[n] = '\0';
	if (*p == ':') {
		const char *d = ++p;

		port = 0;
		for (; *p >= '0' && *p <= '9' && p - d < 6; p++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (p == d || port == 0 || port > 65535)
			return -EINVAL;
	}
	snprintf(u->port, sizeof(u->port), "%lu", port);
	if (strchr(u->host, ':'))
		snprintf(u->host_header, sizeof(u->host_header), "[%s]:%lu", u->host, port);
	else
		snprintf(u->host_header, sizeof(u->host_header), "%s:%lu", u->host, port);
	if (*p != '/')
		return -EINVAL;
	q = strchr(p, '?');
	if (!q || !q[1])
		return -EINVAL; /* the token is in the query */
	n = (size_t)(q - p);
	if (n >= sizeof(u->path) || strlen(q + 1) >= sizeof(u->query))
		return -EINVAL;
	memcpy(u->path, p, n);
	u->path[n] = '\0';
	strcpy(u->query, q + 1);
	return 0;
}

/* The query has a parameter called name. */
static bool query_has(const char *query, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = query; p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
		if (!strncasecmp(p, name, n) && (p[n] == '=' || p[n] == '&' || !p[n]))
			return true;
	return false;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - pcl_mono_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int http_connect(const struct http_url *u, int64_t deadline, char *err, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &res);
	int fd = -1, e = ECONNREFUSED;

	if (rc) {
		snprintf(err, cap, "cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			socklen_t len = sizeof(e);
			int w = wait_fd(fd, POLLOUT, deadline);

			if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && !e)
				break;
			if (w < 0)
				e = -w;
		} else {
			e = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, cap, "cannot connect to %s: %s", u->host_header, strerror(e));
	return fd;
}

/* The value of header name (with its colon) in head, or NULL. */
static const char *header_value(const char *head, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (!strncasecmp(p, name, n)) {
			p += n;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	return NULL;
}

/* Decodes a chunked body in place; false if it is malformed or incomplete. */
static bool dechunk(char *body, size_t len, size_t *out_len)
{
	size_t i = 0, o = 0;

	for (;;) {
		char *end;
		unsigned long n = strtoul(body + i, &end, 16);
		char *crlf = strstr(body + i, "\r\n");

		if (end == body + i || !crlf)
			return false;
		i = (size_t)(crlf - body) + 2;
		if (n == 0) {
			body[o] = '\0';
			*out_len = o;
			return true;
		}
		if (n > len - i || len - i - n < 2)
			return false;
		memmove(body + o, body + i, n);
		o += n;
		i += n + 2;
	}
}

/*
 * One HTTP/1.1 exchange with Connection: close, bounded by HTTP_TIMEOUT_MS
 * and HTTP_ANSWER_MAX. Returns 0 with a filled, or -1 with err set (network
 * errors and answers that are not HTTP: the caller may retry).
 */
static int http_exchange(const struct http_url *u, const char *method, const char *target,
                         const char *body, size_t body_len, struct http_answer *a, char *err,
                         size_t cap)
{
	int64_t deadline = pcl_mono_ms() + HTTP_TIMEOUT_MS;
	char *req = malloc(HTTP_REQ_HEAD + body_len);
	size_t req_len, got = 0, off = 0;
	char *head_end;
	const char *cl;
	int fd, w;

	if (!req) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	req_len =
	    (size_t)snprintf(req, HTTP_REQ_HEAD,
	                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " AGENT "\r\n"
	                     "%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
	                     method, target, u->host_header,
	                     body ? "Content-Type: text/plain; charset=utf-8\r\n" : "", body_len);
	if (req_len >= HTTP_REQ_HEAD) {
		free(req);
		snprintf(err, cap, "request too long");
		return -1;
	}
	if (body_len)
		memcpy(req + req_len, body, body_len);
	req_len += body_len;

	a->sent_us = pcl_now_unix_us();
	fd = http_connect(u, deadline, err, cap);
	if (fd < 0) {
		free(req);
		return -1;
	}
	while (off < req_len) {
		ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, cap, "sending to %s: %s", u->host_header, strerror(errno));
			goto fail;
		}
		if ((w = wait_fd(fd, POLLOUT, deadline)) < 0) {
			snprintf(err, cap, "sending to %s: %s", u->host_header, strerror(-w));
			goto fail;
		}
	}
	free(req);
	req = NULL;
	for (;;) {
		ssize_t n;

		if (got == HTTP_ANSWER_MAX) {
			snprintf(err, cap, "the answer is longer than %d bytes", HTTP_ANSWER_MAX);
			goto fail;
		}
		n = recv(fd, a->buf + got, HTTP_ANSWER_MAX - got, 0);
		if (n > 0) {
			got += (size_t)n;
			a->buf[got] = '\0';
			/* Done once the headers and Content-Length bytes are in. */
			head_end = strstr(a->buf, "\r\n\r\n");
			cl = head_end ? header_value(a->buf, "content-length:") : NULL;
			if (cl && cl < head_end &&
			    got - (size_t)(head_end + 4 - a->buf) >= strtoul(cl, NULL, 10))
				break;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, cap, "reading from %s: %s", u->host_header, strerror(errno));
			goto fail;
		}
		if ((w = wait_fd(fd, POLLIN, deadline)) < 0) {
			snprintf(err, cap, "no answer from %s within %d s", u->host_header,
			         HTTP_TIMEOUT_MS / 1000);
			goto fail;
		}
	}
	close(fd);
	a->recv_us = pcl_now_unix_us();
	a->buf[got] = '\0';

	head_end = strstr(a->buf, "\r\n\r\n");
	if (!head_end || strncmp(a->buf, "HTTP/1.", 7) || a->buf[8] != ' ' ||
	    sscanf(a->buf + 9, "%3d", &a->status) != 1 || a->status < 100 || a->status > 599) {
		snprintf(err, cap, "%s did not answer in HTTP", u->host_header);
		return -1;
	}
	*head_end = '\0';
	a->body = head_end + 4;
	a->body_len = got - (size_t)(a->body - a->buf);
	a->retry_after = -1;
	if ((cl = header_value(a->buf, "retry-after:")) && *cl >= '0' && *cl <= '9')
		a->retry_after = (int)strtol(cl, NULL, 10);
	if ((cl = header_value(a->buf, "transfer-encoding:")) && !strncasecmp(cl, "chunked", 7)) {
		if (!dechunk(a->body, a->body_len, &a->body_len)) {
			snprintf(err, cap, "%s sent a malformed chunked answer", u->host_header);
			return -1;
		}
	} else if ((cl = header_value(a->buf, "content-length:"))) {
		unsigned long want = strtoul(cl, NULL, 10);

		if (want > a->body_len) {
			snprintf(err, cap, "the answer from %s was cut short", u->host_header);
			return -1;
		}
		a->body_len = want;
		a->body[want] = '\0';
	}
	return 0;
fail:
	free(req);
	close(fd);
	return -1;
}

/* "YYYY-MM-DDTHH:MM:SS.mmm" (UTC) at s into µs since 1970. */
static bool parse_stamp(const char *s, int64_t *us)
{
	struct tm tm = {0};
	int ms, used = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 ||
	    used != 23)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*us = ((int64_t)timegm(&tm) * 1000 + ms) * 1000;
	return true;
}

static void format_stamp(int64_t us, char *out, size_t cap)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us / 1000 % 1000));
}

/*
 * Every answer starts with the relay's time: the offset between its clock
 * and ours, from the exchange with the shortest round trip so far, stamps
 * captions in the relay's time even when the two clocks disagree.
 */
static const char *answer_rest(struct tool *t, const struct http_answer *a)
{
	const char *nl = strchr(a->body, '\n');
	int64_t server_us, rtt = a->recv_us - a->sent_us;

	if (parse_stamp(a->body, &server_us) && (!t->have_offset || rtt < t->best_rtt_us)) {
		t->have_offset = true;
		t->best_rtt_us = rtt;
		t->offset_us = server_us - (a->sent_us + rtt / 2);
	}
	return nl ? nl + 1 : a->body;
}

/* The first line of what follows the time, for messages. */
static const char *answer_text(struct tool *t, const struct http_answer *a, char *buf, size_t cap)
{
	const char *rest = answer_rest(t, a);
	size_t n = strcspn(rest, "\r\n");
	char tmp[256];

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, rest, n);
	tmp[n] = '\0';
	return pcl_sanitize(buf, cap, tmp);
}

/*
 * One GET .../seq: the last seq the relay accepted for this token. Returns 0
 * with *last; -EAGAIN (network error, 408, 429, 5xx: err says which); or
 * -EPERM for any other answer (err says which, *status has it).
 */
static int http_last_seq(struct tool *t, unsigned long *last, int *status, char *err, size_t cap)
{
	char target[PCL_PATH_MAX * 2 + 128], text[256];
	struct http_answer *a = t->ans;
	const char *rest;
	char *end;

	*status = 0;
	snprintf(target, sizeof(target), "%s/seq?%s", t->http.path, t->http.query);
	if (http_exchange(&t->http, "GET", target, NULL, 0, a, err, cap) < 0)
		return -EAGAIN;
	*status = a->status;
	if (a->status == 200) {
		rest = answer_rest(t, a);
		rest += strspn(rest, " \r\n");
		*last = strtoul(rest, &end, 10);
		if (end > rest)
			return 0;
		snprintf(err, cap, "the relay's answer to GET %.200s/seq holds no seq",
		         t->http.path);
		return -EPERM;
	}
	answer_text(t, a, text, sizeof(text));
	snprintf(err, cap, "%d %s%s", a->status, text,
	         a->status == 401   ? " (the URL has no token)"
	         : a->status == 403 ? " (wrong token)"
	         : a->status == 404 ? " (not a caption URL?)"
	                            : "");
	return a->status == 408 || a->status == 429 || a->status >= 500 ? -EAGAIN : -EPERM;
}

/*
 * Before the first caption: the seq to go on from (1 on a fresh relay), so
 * that a restarted tool never needs reset=1 and every retry stays a retry.
 * 0, or -1 (fatal).
 */
static int http_start(struct tool *t)
{
	char err[300];
	int attempts = 0, status, rc;
	int64_t wait = RETRY_FIRST_MS;
	unsigned long last;

	while (!pcl_stop) {
		attempts++;
		rc = http_last_seq(t, &last, &status, err, sizeof(err));
		if (rc == 0) {
			t->seq = last + 1;
			note(t,
			     "caption URL http://%s%s: last accepted seq %lu; sending from seq %lu",
			     t->http.host_header, t->http.path, last, t->seq);
			return 0;
		}
		if (rc == -EPERM) {
			fail(t, status >= 400 && status < 500 ? 2 : 1,
			     "the relay refused the caption URL: %s", err);
			return -1;
		}
		if (attempts >= ATTEMPTS_MAX) {
			fail(t, 1, "giving up after %d attempts: %s", attempts, err);
			return -1;
		}
		pcl_warn("%s; retrying in %.2f s", err, (double)wait / 1000.0);
		sleep_ms(wait);
		if (wait < RETRY_MAX_MS)
			wait *= 2;
	}
	return -1;
}

static void http_send_cur(struct tool *t)
{
	char target[PCL_PATH_MAX * 2 + 128], err[300], text[256], stamp[80], why[400];
	struct http_answer *a = t->ans;
	char *body;
	size_t len;

	/*
	 * The first line stamps the caption with its time on the relay's clock;
	 * it also keeps a caption that starts like a timestamp from being read
	 * as one.
	 */
	if (!t->cur.stamp[0]) /* once: a retry repeats the request byte for byte */
		format_stamp(t->cur.stamp_us + t->offset_us, t->cur.stamp, sizeof(t->cur.stamp));
	snprintf(stamp, sizeof(stamp), "%s", t->cur.stamp);
	len = strlen(stamp) + 1 + t->cur.len;
	body = malloc(len + 1);
	if (!body) {
		fail(t, 1, "out of memory");
		return;
	}
	snprintf(body, len + 1, "%s\n%s", stamp, t->cur.text);
	snprintf(target, sizeof(target), "%s?%s&seq=%lu&lang=%s", t->http.path, t->http.query,
	         t->seq, t->opt.lang);
	/*
	 * After a network error the relay may have taken the caption and only
	 * the answer been lost: its last seq says. (A 200 to the retry would
	 * not: the relay answers a duplicate like a new caption.)
	 */
	if (t->cur.maybe_taken) {
		unsigned long last;
		int status;

		t->cur.maybe_taken = false;
		if (http_last_seq(t, &last, &status, err, sizeof(err)) == 0 && last >= t->seq) {
			free(body);
			t->seq++;
			accepted(t, true);
			return;
		}
	}
	t->cur.attempts++;
	if (http_exchange(&t->http, "POST", target, body, len, a, err, sizeof(err)) < 0) {
		free(body);
		t->cur.maybe_taken = true;
		schedule_retry(t, -1, err);
		return;
	}
	free(body);
	answer_text(t, a, text, sizeof(text));
	if (a->status >= 200 && a->status < 300) {
		t->seq++;
		accepted(t, false);
	} else if (a->status == 429 || a->status == 408 || a->status >= 500) {
		snprintf(why, sizeof(why), "%d %s", a->status, text);
		schedule_retry(t, a->status == 429 ? a->retry_after : -1, why);
	} else if (a->status == 413 || a->status == 422) {
		/* This caption only: the next one takes its seq. */
		snprintf(why, sizeof(why), "%d %s", a->status,
		         a->status == 413 ? "too long" : "not UTF-8");
		refused(t, why);
	} else {
		t->refused++;
		fail(t, a->status >= 400 && a->status < 500 ? 2 : 1,
		     "the relay refused caption %lu: %d %s%s; stopping", t->cur.n, a->status, text,
		     a->status == 401   ? " (the URL has no token)"
		     : a->status == 403 ? " (wrong token, or a language this captioner may not "
		                          "caption)"
		     : a->status == 400 ? " (bad seq or language)"
		     : a->status == 415 ? " (not text/plain)"
		                        : "");
		drop_cur(t);
	}
}

/* --- command line --- */

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " [--url URL|LINK [--token TOKEN | --token-file FILE]\n"                    \
	"                      | --http CAPTION-URL] --lang LANG\n"                                \
	"                      [--replay FILE.srt|FILE.vtt] [--partial] [--quiet]\n"               \
	"                      [--help] [--version]\n"

static void usage(FILE *f)
{
	fputs(SYNOPSIS
	      "\n"
	      "Send captions to a puente relay's captions plugin: the lines of standard\n"
	      "input (one line, one caption), or an SRT or WebVTT file replayed in real\n"
	      "time. Listeners who chose the language see each caption as it arrives.\n"
	      "\n"
	      "Options:\n"
	      "  --url URL        relay endpoint for the WebSocket form (default\n"
	      "                   " PCL_DEFAULT_URL "); the tool says hello as a captioner;\n"
	      "                   or a captioner's personal link,\n"
	      "                   http://HOST:PORT/captions/#t=TOKEN: the tool takes its\n"
	      "                   token and connects to ws://HOST:PORT/ws\n"
	      "  --token TOKEN    WebSocket form: the token of a personal link (what\n"
	      "                   follows #t=); without it, from --token-file, the --url\n"
	      "                   link or the environment variable PUENTE_TOKEN, in that\n"
	      "                   order\n"
	      "  --token-file F   read the token from the first line of file F (keeps it\n"
	      "                   out of the process list and the shell history)\n"
	      "  --http URL       use the HTTP caption API instead: URL is this captioner's\n"
	      "                   caption URL as the relay logged it,\n"
	      "                   http://HOST:PORT/captions/api?token=TOKEN; captions are\n"
	      "                   POSTed with &seq=N&lang=LANG, seq going on from the last\n"
	      "                   one the relay accepted for this token (1 on a fresh relay)\n"
	      "  --lang LANG      caption language, e.g. es, en or en-US (required)\n"
	      "  --replay FILE    send the cues of an SRT or WebVTT file instead of standard\n"
	      "                   input, each at its start time counted from the first cue's\n"
	      "                   (markup is removed: <i>, <b>, <font>, {\\an8}, WebVTT tags\n"
	      "                   and &amp;-style references; a file that is not UTF-8 is\n"
	      "                   read as Windows-1252)\n"
	      "  --partial        WebSocket form, standard input: each line replaces the\n"
	      "                   caption being written (a partial caption, shown at once\n"
	      "                   and updated in place); an empty line or the end of input\n"
	      "                   makes it final\n"
	      "  --quiet          no progress messages: only errors, refusals and the summary\n"
	      "  --help           show this help and exit\n"
	      "  --version        show the version and exit\n"
	      "\n"
	      "Input: UTF-8 text; a byte-order mark, CR before LF and trailing spaces are\n"
	      "dropped, tabs become spaces, other control characters are removed, empty\n"
	      "lines are skipped. A line that is not UTF-8 or longer than 32 KiB is not\n"
	      "sent (counted as refused). Captions go at most 5 per second (bursts of 15),\n"
	      "the relay's default rate; one is in flight at a time.\n"
	      "\n"
	      "Delivery. WebSocket: a caption is sent once the relay hands it back (the\n"
	      "tool follows its own language), refused on a core.error (too_long,\n"
	      "bad_text, forbidden, ...; rate_limited is retried); a dropped connection\n"
	      "is re-established (at most 5 times in a row) and the caption in flight\n"
	      "goes again. HTTP: a caption is sent on a 2xx answer; network errors, 408,\n"
	      "429 and 5xx are retried with the same seq (6 attempts, 0.25 s doubling to\n"
	      "4 s, or the relay's Retry-After); after a network error the tool first\n"
	      "asks for the relay's last seq, and if the caption was taken after all it\n"
	      "counts it sent and a duplicate instead of posting it again; 413 and 422\n"
	      "refuse that caption only (the next one takes its seq); any other answer\n"
	      "stops the tool. Each caption carries its time on the relay's clock (the\n"
	      "body's first line; the offset comes from the relay's answers), so a\n"
	      "retried caption keeps its place.\n"
	      "\n"
	      "At the end one summary line goes to standard output:\n"
	      "  sent=N refused=N duplicates=N failed=N\n"
	      "    sent        captions the relay accepted (partial updates included)\n"
	      "    refused     captions the relay or the tool refused\n"
	      "    duplicates  of the sent ones, those the relay turned out to have\n"
	      "                already (HTTP, after a lost answer)\n"
	      "    failed      captions that could not be delivered (no answer, retries\n"
	      "                spent)\n"
	      "\n"
	      "Ctrl-C (SIGINT) or SIGTERM stops reading; the summary still follows.\n"
	      "\n"
	      "WebSocket form: a link taken over by another device (4409) or revoked\n"
	      "(4403) is not reconnected.\n" PCL_HELP_LINKS "\n"
	      "Examples:\n"
	      "  " PROG " --lang en                               # type, Enter sends\n"
	      "  " PROG " --lang es --replay session.srt\n"
	      "  " PROG " --http 'http://192.0.2.10:8080/captions/api?token=...' --lang en\n"
	      "\n"
	      "Exit status: 0 if every caption was sent; 1 if one was refused or failed,\n"
	      "or the connection failed; 2 on bad usage, an unreadable replay file, or a\n"
	      "caption URL, token or language the relay refuses.\n",
	      f);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o, struct http_url *http)
{
	enum {
		OPT_URL = 256,
		OPT_TOKEN,
		OPT_TOKEN_FILE,
		OPT_HTTP,
		OPT_LANG,
		OPT_REPLAY,
		OPT_PARTIAL,
		OPT_QUIET,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"http", required_argument, NULL, OPT_HTTP},
	    {"lang", required_argument, NULL, OPT_LANG},
	    {"replay", required_argument, NULL, OPT_REPLAY},
	    {"partial", no_argument, NULL, OPT_PARTIAL},
	    {"quiet", no_argument, NULL, OPT_QUIET},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	bool have_url = false;
	int c;

	*o = (struct options){.url = PCL_DEFAULT_URL};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			have_url = true;
			break;
		case OPT_HTTP:
			if (!strncasecmp(optarg, "https://", 8))
				return bad_usage("bad --http: https is not supported; give the "
				                 "relay's http:// caption URL");
			if (http_url_parse(optarg, http) < 0)
				return bad_usage("bad --http '%s': expected the caption URL "
				                 "http://HOST[:PORT]/captions/api?token=TOKEN",
				                 optarg);
			if (query_has(http->query, "seq") || query_has(http->query, "lang") ||
			    query_has(http->query, "reset"))
				return bad_usage("bad --http: the tool adds seq and lang itself; "
				                 "give the caption URL with its token only");
			o->http = optarg;
			break;
		case OPT_LANG:
			if (!pcl_valid_lang(optarg))
				return bad_usage(
				    "bad --lang '%s': a language tag such as es, en or "
				    "en-US (letters, digits and '-')",
				    optarg);
			o->lang = optarg;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_PARTIAL:
			o->partial = true;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION, argv, SYNOPSIS, usage,
			                         PUENTE_VERSION);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!o->lang)
		return bad_usage("--lang is required");
	if (have_url && o->http)
		return bad_usage("--url and --http exclude each other");
	if (o->partial && o->http)
		return bad_usage("--partial needs the WebSocket form: the HTTP caption API "
		                 "takes final captions only");
	if (o->partial && o->replay)
		return bad_usage("--partial applies to standard input, not to --replay");
	if (o->http) {
		if (o->token || o->token_file)
			return bad_usage("--token and --token-file are for the WebSocket form: the "
			                 "--http caption URL carries its own token");
		return -1;
	}
	return pcl_target_option(&o->target, o->url, o->token, o->token_file, SYNOPSIS);
}

/* --- main --- */

static bool transport_ready(struct tool *t)
{
	return t->opt.http ? true : t->cl && t->ready;
}

static void run(struct tool *t)
{
	bool stopping = false;

	while (!t->fatal) {
		int64_t now = pcl_mono_ms();
		int wait = SLICE_MS;

		if (pcl_stop && !stopping) {
			stopping = true;
			note(t, "stopping");
		}
		/* Stopping: no new caption, but the one in flight gets its answer. */
		if (stopping && !t->inflight)
			break;
		if (t->opt.replay && !t->replay_t0_ms && transport_ready(t))
			t->replay_t0_ms = now;
		if (!stopping && !t->have_cur && !t->input_done) {
			if (t->opt.replay) {
				if (t->replay_t0_ms)
					next_from_replay(t);
			} else {
				/* HTTP has nothing else to wait on: wait for input here. */
				next_from_stdin(t, t->opt.http ? 200 : 0);
				now = pcl_mono_ms();
			}
		}
		if (!t->have_cur && t->input_done)
			break;
		if (t->have_cur && !t->inflight && transport_ready(t) && now >= t->cur.due_ms &&
		    now >= t->cur.retry_ms) {
			if (take_token(t, now)) {
				if (t->opt.http)
					http_send_cur(t);
				else
					ws_send_cur(t);
				continue;
			}
			wait = (int)(1000.0 / RATE_PER_S / 4);
		} else if (t->have_cur && !t->inflight && transport_ready(t)) {
			int64_t until =
			    t->cur.due_ms > t->cur.retry_ms ? t->cur.due_ms : t->cur.retry_ms;

			if (until - now < wait)
				wait = until - now > 0 ? (int)(until - now) : 0;
		}
		if (t->opt.http)
			sleep_ms(t->opt.replay || t->have_cur ? wait : 0);
		else
			ws_service(t, wait > 0 ? wait : 1);
	}
	if (t->have_cur && !t->fatal)
		note(t, "caption %lu not sent", t->cur.n);
}

int main(int argc, char **argv)
{
	static struct tool t; /* static: zeroed */
	int status;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &t.opt, &t.http);
	if (status >= 0)
		return status;
	pcl_catch_signals();
	t.session = (unsigned)((uint64_t)pcl_now_unix_us() ^ (uint64_t)getpid() << 12) & 0xffffff;
	t.tokens = BURST;
	t.tokens_ms = pcl_mono_ms();

	if (t.opt.replay) {
		status = load_replay(&t);
		if (status)
			t.fatal = status;
	} else {
		t.in = calloc(1, sizeof(*t.in));
		if (!t.in)
			t.fatal = 1;
	}
	if (!t.fatal && t.opt.http) {
		t.ans = malloc(sizeof(*t.ans));
		if (!t.ans)
			fail(&t, 1, "out of memory");
		else
			http_start(&t);
	} else if (!t.fatal) {
		ws_connect(&t);
	}
	if (!t.fatal)
		run(&t);
	ws_close(&t);

	printf("sent=%llu refused=%llu duplicates=%llu failed=%llu\n", (unsigned long long)t.sent,
	       (unsigned long long)t.refused, (unsigned long long)t.duplicates,
	       (unsigned long long)t.failed);
	fflush(stdout);
	status = t.fatal ? t.fatal : (t.refused || t.failed) ? 1 : 0;

	if (t.have_cur)
		drop_cur(&t);
	for (size_t i = 0; i < t.cues.n; i++)
		free(t.cues.v[i].text);
	free(t.cues.v);
	free(t.partial_text);
	free(t.in);
	free(t.ans);
	return status;
}
