/*
 * The captions plugin: captioners (people or speech recognisers) push caption
 * text per language, over the WebSocket (captions.cue) or the HTTP caption API
 * that CART software speaks; each client chooses a language (captions.choose)
 * and receives its cues, partial lines and their final form; final cues are
 * kept for late comers (captions.history) and archived as WebVTT, SubRip and a
 * transcript (README, "Caption messages"). A WebSocket captioner whose
 * invitation names caption languages (the host's client_grant "languages")
 * writes only those; each client's choice goes to the attendance log.
 *
 * Threads: init() and destroy() on the main thread; the events and the HTTP
 * routes on the lws service thread, one at a time, so the state needs no lock.
 * The only other thread is the archive's (archive.c), which owns the files;
 * the service thread hands it final cues through a bounded queue and never
 * touches a file, not even for a download (served from the archive's memory copy).
 */
#include "captions.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>
#include <puente/protocol.h>

#include "text.h"

#define NS         "captions"
#define API_PATH   "/captions/api"
#define SEQ_PATH   "/captions/api/seq"
#define FILES_PATH "/captions/files"
/* How far a caption's own timestamp may be from the server's time and still be used. */
#define TIMESTAMP_WINDOW_NS (60ull * 1000000000ull)
#define LOG_EXCERPT_CHARS   40

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

bool captions_token_equal(const char *secret, size_t secret_len, const char *given,
                          size_t given_len)
{
	volatile unsigned char diff = secret_len != given_len;

	for (size_t i = 0; i < secret_len; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
	return diff == 0;
}

/* ---- languages ---- */

static bool is_tag(const char *s, size_t n)
{
	if (n == 0 || n > CAPTIONS_MAX_TAG || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/*
 * The caption language a tag stands for: the same tag, or one whose whole tag
 * is the given tag's primary language ("en-US" -> "en"); case-insensitive. -1
 * for none.
 */
static int lang_find(const struct captions *st, const char *tag, size_t n)
{
	size_t primary;

	if (!is_tag(tag, n))
		return -1;
	for (int i = 0; i < st->n_langs; i++)
		if (strlen(st->langs[i].tag) == n && !strncasecmp(st->langs[i].tag, tag, n))
			return i;
	primary = strcspn(tag, "-");
	if (primary > n)
		primary = n;
	for (int i = 0; i < st->n_langs; i++)
		if (strlen(st->langs[i].tag) == primary &&
		    !strncasecmp(st->langs[i].tag, tag, primary))
			return i;
	return -1;
}

/* Spaces and tabs off both ends of the n bytes at *s. */
static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* ---- captioners ---- */

/*
 * The caption languages a WebSocket captioner may write: those its
 * invitation's "languages" grant names (a tag stands for the caption language
 * lang_find gives it), or any when it names none. A name that is no caption
 * language is logged and allows nothing: a mistyped grant must not open them all.
 */
static void ws_may(struct captions *st, struct captioner *c)
{
	const struct puente_host *h = st->host;
	const char *grant = PUENTE_HAS(h, client_grant) && h->client_grant
	                        ? h->client_grant(h->ctx, c->client, "languages")
	                        : NULL;

	for (int i = 0; i < st->n_langs; i++)
		c->may[i] = !grant;
	for (const char *p = grant; p && *p;) {
		size_t n = strcspn(p, ",");
		const char *item = p;
		size_t len = n;
		int lang;

		trim(&item, &len);
		if (len && (lang = lang_find(st, item, len)) >= 0)
			c->may[lang] = true;
		else if (len)
			h->log(h->ctx, PUENTE_LOG_WARN,
			       "client %llu: its invitation names caption language '%.*s', which "
			       "this relay does not have",
			       (unsigned long long)c->client, (int)(len > 40 ? 40 : len), item);
		p += n + (p[n] == ',');
	}
}

static struct captioner *ws_captioner(struct captions *st, puente_client_id id, bool create)
{
	struct captioner *c;

	for (size_t i = 0; i < st->n_ws; i++)
		if (st->ws[i].client == id)
			return &st->ws[i];
	if (!create)
		return NULL;
	if (st->n_ws == st->cap_ws) {
		size_t cap = st->cap_ws ? 2 * st->cap_ws : 8;
		struct captioner *v = realloc(st->ws, cap * sizeof(*v));

		if (!v)
			return NULL;
		st->ws = v;
		st->cap_ws = cap;
	}
	c = &st->ws[st->n_ws++];
	memset(c, 0, sizeof(*c));
	c->client = id;
	ws_may(st, c);
	return c;
}

static void ws_captioner_remove(struct captions *st, puente_client_id id)
{
	struct captioner *c = ws_captioner(st, id, false);

	if (c)
		*c = st->ws[--st->n_ws];
}

/* The named captioner whose token this is; every token is compared, whatever matches. */
static struct captioner *http_captioner(struct captions *st, const char *token, size_t len)
{
	struct captioner *found = NULL;

	for (int i = 0; i < st->n_http; i++)
		if (captions_token_equal(st->http[i].token, st->http[i].token_len, token, len))
			found = &st->http[i];
	return found;
}

/* ---- cues out ---- */

/*
 * Sends one cue to the clients that chose its language (technicians also get
 * `from`), and keeps a final one for the history and the archive. Takes from.
 */
static void emit(struct captions *st, int lang, const char *id, const char *text, size_t len,
                 bool final, uint64_t start, uint64_t end, json_t *from)
{
	const struct puente_host *h = st->host;
	struct lang *l = &st->langs[lang];
	char excerpt[256], id_safe[4 * CAPTIONS_MAX_ID + 8];
	json_t *cue, *cue_from;

	if (end < start)
		end = start;
	l->seq++;
	cue = json_pack("{s:s, s:s, s:I, s:s, s:s%, s:b, s:I, s:I}", "type", "captions.cue", "lang",
	                l->tag, "seq", (json_int_t)l->seq, "id", id, "text", text, len, "final",
	                final, "start", (json_int_t)start, "end", (json_int_t)end);
	cue_from = cue ? json_copy(cue) : NULL;
	if (!cue_from || json_object_set_new(cue_from, "from", from)) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "out of memory for a cue");
		json_decref(cue);
		json_decref(cue_from);
		return;
	}
	for (size_t i = 0; i < l->n_subs; i++)
		if (h->send_json(h->ctx, l->subs[i].id, l->subs[i].technician ? cue_from : cue) < 0)
			st->n.send_failed++;
	if (final) {
		l->finals++;
		st->n.finals++;
	} else {
		l->partials++;
		st->n.partials++;
	}
	if (final && len) {
		lang_history_add(l, json_incref(cue_from));
		if (archive_push(st->archive, lang, start, end, text, len))
			st->n.archive_refused++;
	}
	/* Log-safe: a caption must not be able to forge log lines or hide text in them. */
	text_excerpt(excerpt, sizeof(excerpt), text, len, LOG_EXCERPT_CHARS);
	text_excerpt(id_safe, sizeof(id_safe), id, strlen(id), CAPTIONS_MAX_ID);
	h->log(h->ctx, PUENTE_LOG_DEBUG, "%s cue %llu (%s, id '%s'): '%s'", l->tag,
	       (unsigned long long)l->seq, final ? "final" : "partial", id_safe, excerpt);
	json_decref(cue);
	json_decref(cue_from);
}

static void send_error(struct captions *st, puente_client_id to, const char *code,
                       const char *message)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "type", "core.error", "code", code, "message",
	                      message, "ref", "captions.cue");

	if (m && st->host->send_json(st->host->ctx, to, m) < 0)
		st->n.send_failed++;
	json_decref(m);
}

/* ---- the WebSocket side ---- */

/* An optional media time: absent or null is not given; -EINVAL for anything but an integer >= 0. */
static int body_time(const json_t *body, const char *key, bool *given, uint64_t *out)
{
	const json_t *v = json_object_get(body, key);

	*given = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*given = true;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* An id given by a captioner: 1..CAPTIONS_MAX_ID bytes of text without control characters. */
static bool id_ok(const char *id, size_t n)
{
	if (n == 0 || n > CAPTIONS_MAX_ID || !text_utf8_valid(id, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

/* A text refusal of a cue (bad_text, too_long, rate_limited), or 0 when it may go. */
static const char *judge_text(struct captions *st, struct captioner *c, const char *text,
                              size_t len, int *status)
{
	if (!text_utf8_valid(text, len)) {
		st->n.bad_text++;
		*status = 422;
		return "bad_text";
	}
	if (text_chars(text, len) > st->max_chars) {
		st->n.too_long++;
		*status = 413;
		return "too_long";
	}
	if (!bucket_take(&c->bucket, st->rate, st->burst, st->mono_ns())) {
		st->n.rate_limited++;
		*status = 429;
		return "rate_limited";
	}
	return NULL;
}

static int msg_cue(struct captions *st, puente_client_id from, const json_t *body)
{
	const struct puente_host *h = st->host;
	const json_t *jlang = json_object_get(body, "lang"), *jtext = json_object_get(body, "text");
	const json_t *jfinal = json_object_get(body, "final"), *jid = json_object_get(body, "id");
	uint64_t now, start = 0, end = 0;
	bool has_start, has_end, final;
	struct captioner *c;
	struct open_line *open;
	const char *refusal, *id;
	char id_buf[CAPTIONS_MAX_ID + 1], message[128];
	char *text;
	size_t len;
	int lang, status;

	if (h->client_role(h->ctx, from) != PUENTE_ROLE_CAPTIONER) {
		st->n.forbidden++;
		return -EPERM;
	}
	if (!json_is_string(jlang) || !json_is_string(jtext) || !json_is_boolean(jfinal) ||
	    (jid && !json_is_null(jid) &&
	     (!json_is_string(jid) || !id_ok(json_string_value(jid), json_string_length(jid)))) ||
	    body_time(body, "start", &has_start, &start) ||
	    body_time(body, "end", &has_end, &end) ||
	    (lang = lang_find(st, json_string_value(jlang), json_string_length(jlang))) < 0) {
		st->n.bad_field++;
		return -EINVAL;
	}
	c = ws_captioner(st, from, true);
	if (!c) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "out of memory for a captioner");
		return -EBUSY;
	}
	if (!c->may[lang]) {
		st->n.forbidden++;
		return -EPERM; /* not a language its invitation names */
	}
	len = json_string_length(jtext);
	refusal = judge_text(st, c, json_string_value(jtext), len, &status);
	if (refusal) {
		if (status == 413)
			snprintf(message, sizeof(message), "caption longer than %zu characters",
			         st->max_chars);
		else if (status == 422)
			snprintf(message, sizeof(message), "caption text is not UTF-8");
		else
			snprintf(message, sizeof(message),
			         "more than %g captions at once or %g per second", st->burst,
			         st->rate);
		send_error(st, from, refusal, message);
		return 0;
	}
	text = malloc(len + 1);
	if (!text)
		return -EBUSY;
	len = text_clean(text, json_string_value(jtext), len);
	final = json_is_true(jfinal);
	now = h->media_time_now(h->ctx);

	/*
	 * The line: an id given, or the open line's, or a new one. Updates of a
	 * line keep its start, so the final cue starts when its first partial did.
	 */
	open = &c->open[lang];
	if (jid && json_is_string(jid))
		id = json_string_value(jid);
	else if (open->id[0])
		id = open->id;
	else
		id = NULL;
	if (!id || strcmp(id, open->id)) {
		if (!id) {
			snprintf(id_buf, sizeof(id_buf), "%s.%llu", st->langs[lang].tag,
			         (unsigned long long)st->langs[lang].seq + 1);
			id = id_buf;
		}
		snprintf(open->id, sizeof(open->id), "%s", id);
		open->start = now;
	}
	snprintf(id_buf, sizeof(id_buf), "%s", open->id);
	if (!has_start)
		start = open->start;
	if (!has_end) {
		end = start + cue_estimate(text_chars(text, len));
		if (final && !has_start && end < now)
			end = now; /* the line was up at least until its final form came */
	}
	if (final)
		open->id[0] = 0;
	st->n.cues_ws++;
	c->accepted++;
	emit(st, lang, id_buf, text, len, final, start, end, json_integer((json_int_t)from));
	free(text);
	return 0;
}

static int msg_choose(struct captions *st, puente_client_id from, const json_t *body)
{
	const struct puente_host *h = st->host;
	const json_t *jlang = json_object_get(body, "lang");
	bool technician = h->client_role(h->ctx, from) == PUENTE_ROLE_TECHNICIAN;
	json_t *m;
	int lang = -1, before = choosers_get(&st->choosers, from), now, failed;

	if (!jlang ||
	    (!json_is_null(jlang) &&
	     (!json_is_string(jlang) ||
	      (lang = lang_find(st, json_string_value(jlang), json_string_length(jlang))) < 0))) {
		st->n.bad_field++;
		return -EINVAL;
	}
	failed = choosers_set(&st->choosers, st->langs, from, lang, technician);
	if (failed)
		h->log(h->ctx, PUENTE_LOG_ERROR, "out of memory for a caption choice");
	/* What the client reads now, for the attendance log; a failed move leaves it none. */
	now = choosers_get(&st->choosers, from);
	if (now != before && PUENTE_HAS(h, attendance_note) && h->attendance_note)
		h->attendance_note(h->ctx, from, "captions", now >= 0 ? st->langs[now].tag : NULL);
	if (failed)
		return -EBUSY;
	if (lang < 0)
		m = json_pack("{s:s, s:n, s:[]}", "type", "captions.history", "lang", "cues");
	else
		m = json_pack("{s:s, s:s, s:o}", "type", "captions.history", "lang",
		              st->langs[lang].tag, "cues",
		              lang_history_json(&st->langs[lang], technician));
	if (!m || h->send_json(h->ctx, from, m) < 0)
		st->n.send_failed++;
	json_decref(m);
	return 0;
}

static int captions_message(void *state, puente_client_id from, const char *verb,
                            const json_t *body)
{
	struct captions *st = state;

	if (!strcmp(verb, "cue"))
		return msg_cue(st, from, body);
	if (!strcmp(verb, "choose"))
		return msg_choose(st, from, body);
	return -ENOENT;
}

static void captions_client_leave(void *state, puente_client_id id)
{
	struct captions *st = state;

	choosers_set(&st->choosers, st->langs, id, -1, false);
	ws_captioner_remove(st, id);
}

/* ---- the HTTP caption API ---- */

/* The value of key in a query "a=1&b=2" (lws has decoded it), or NULL. */
static const char *query_get(const char *query, const char *key, size_t *len)
{
	size_t k = strlen(key);

	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > k && !strncmp(p, key, k) && p[k] == '=') {
			*len = n - k - 1;
			return p + k + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* A decimal seq: 1..18 digits, nothing else. */
static bool parse_seq(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "YYYY-MM-DDTHH:MM:SS.mmm" of a wall-clock time in ns, UTC. */
static void format_utc(char out[32], uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&secs, &tm);
	if (!strftime(out, 28, "%Y-%m-%dT%H:%M:%S", &tm))
		out[0] = 0;
	snprintf(out + strlen(out), 5, ".%03u", (unsigned)(ns / 1000000u % 1000u));
}

static bool digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

/*
 * A first line "YYYY-MM-DDTHH:MM:SS[.m[m[m]]][Z]" (UTC; trailing spaces and a
 * CR allowed) to a wall-clock time in ns.
 */
static bool parse_timestamp(const char *s, size_t n, uint64_t *ns)
{
	struct tm tm = {0};
	int y, mo, d, hh, mm, ss, ms = 0, scale = 100;
	size_t i = 19;
	time_t t;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mm) || !digits(s + 17, 2, &ss))
		return false;
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9' && scale; i++, scale /= 10)
			ms += (s[i] - '0') * scale;
		if (scale == 100)
			return false; /* a dot without a digit */
	}
	if (i < n && s[i] == 'Z')
		i++;
	if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    y < 1970 || y > 2500) /* ns since 1970 fit 64 bits until 2554 */
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*ns = (uint64_t)t * 1000000000ull + (uint64_t)ms * 1000000ull;
	return true;
}

/*
 * The answer: the server's time on the first line (the caption software's
 * clock reference), then an optional line saying what went wrong.
 */
static void answer(struct captions *st, struct puente_http_response *res, int status,
                   const char *fmt, ...)
{
	char line[32], why[256] = "";
	int n;

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	format_utc(line, st->wall_ns());
	res->status = status;
	snprintf(res->content_type, sizeof(res->content_type), "text/plain; charset=utf-8");
	n = snprintf(NULL, 0, "%s\n%s%s", line, why, why[0] ? "\n" : "");
	res->body = malloc((size_t)n + 1);
	if (!res->body) {
		res->status = 500;
		res->body_len = 0;
		return;
	}
	snprintf(res->body, (size_t)n + 1, "%s\n%s%s", line, why, why[0] ? "\n" : "");
	res->body_len = (size_t)n;
}

static bool is_text_plain(const char *ct)
{
	const char *semi;
	size_t n;

	ct += strspn(ct, " ");
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n != 10 || strncasecmp(ct, "text/plain", 10))
		return false;
	while (semi) { /* parameters: only a charset of UTF-8 or its subset ASCII */
		const char *p = semi + 1 + strspn(semi + 1, " ");

		semi = strchr(p, ';');
		if (!strncasecmp(p, "charset=", 8)) {
			const char *v = p + 8;
			size_t vn = semi ? (size_t)(semi - v) : strlen(v);

			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
				v++;
				vn -= 2;
			}
			while (vn > 0 && v[vn - 1] == ' ')
				vn--;
			if (!((vn == 5 && !strncasecmp(v, "utf-8", 5)) ||
			      (vn == 4 && !strncasecmp(v, "utf8", 4)) ||
			      (vn == 8 && !strncasecmp(v, "us-ascii", 8))))
				return false;
		}
	}
	return true;
}

/* Splits an optional timestamp first line off a caption body; true when there was one. */
static bool split_timestamp(const char **text, size_t *len, uint64_t *ns)
{
	const char *nl = memchr(*text, '\n', *len);
	size_t first = nl ? (size_t)(nl - *text) : *len;

	if (!parse_timestamp(*text, first, ns))
		return false;
	*text += nl ? first + 1 : first;
	*len -= nl ? first + 1 : first;
	return true;
}

static void api_post(struct captions *st, struct captioner *c,
                     const struct puente_http_request *req, struct puente_http_response *res)
{
	const struct puente_host *h = st->host;
	const char *lang_s, *seq_s, *reset_s, *body = (const char *)req->body, *refusal;
	size_t lang_n, seq_n, reset_n = 0, len = req->body ? req->body_len : 0;
	uint64_t seq, gap, ts = 0, now_wall, now, start, end;
	bool reset, has_ts;
	enum seq_verdict verdict;
	char id[CAPTIONS_MAX_ID + 1], *text;
	int lang, status;

	if (!is_text_plain(req->content_type)) {
		st->n.bad_type++;
		answer(st, res, 415, "the body must be text/plain; charset=utf-8");
		return;
	}
	lang_s = query_get(req->query, "lang", &lang_n);
	seq_s = query_get(req->query, "seq", &seq_n);
	reset_s = query_get(req->query, "reset", &reset_n);
	reset = reset_s && ((reset_n == 1 && reset_s[0] == '1') ||
	                    (reset_n == 4 && !strncmp(reset_s, "true", 4)));
	lang = lang_s ? lang_find(st, lang_s, lang_n) : -1;
	if (lang < 0 || !seq_s || !parse_seq(seq_s, seq_n, &seq)) {
		st->n.bad_request++;
		answer(st, res, 400, "%s",
		       lang < 0 ? "lang must be one of the caption languages"
		                : "seq must be a decimal number");
		return;
	}
	if (!c->may[lang]) {
		st->n.forbidden++;
		answer(st, res, 403, "%s may not caption %s", c->name, st->langs[lang].tag);
		return;
	}
	verdict = seq_judge(&c->seq, seq, reset, &gap);
	if (verdict == SEQ_DUPLICATE) {
		st->n.duplicates++;
		c->duplicates++;
		answer(st, res, 200, NULL);
		return;
	}
	if (len >= 3 && !memcmp(body, "\xef\xbb\xbf", 3)) { /* a byte order mark */
		body += 3;
		len -= 3;
	}
	has_ts = len && split_timestamp(&body, &len, &ts);
	refusal = judge_text(st, c, body ? body : "", len, &status);
	if (refusal) {
		answer(st, res, status, "%s",
		       status == 413   ? "caption too long"
		       : status == 422 ? "caption text is not UTF-8"
		                       : "too many captions; slow down");
		return;
	}
	seq_accept(&c->seq, seq);
	if (verdict == SEQ_RESTART) {
		st->n.restarts++;
		c->restarts++;
	}
	st->n.gaps += gap;
	c->gaps += gap;
	text = malloc(len + 1);
	if (!text) {
		answer(st, res, 500, "out of memory");
		return;
	}
	len = text_clean(text, body ? body : "", len);
	if (!len) {
		st->n.empty++;
		free(text);
		answer(st, res, 200, NULL);
		return;
	}
	now_wall = st->wall_ns();
	now = h->media_time_now(h->ctx);
	start = now;
	if (has_ts) {
		/* A clock that far off does not tell this caption's time; a future one is now. */
		if (ts + TIMESTAMP_WINDOW_NS < now_wall || ts > now_wall + TIMESTAMP_WINDOW_NS) {
			st->n.bad_timestamps++;
		} else if (ts < now_wall) {
			uint64_t ago = (now_wall - ts) / 1000 * PUENTE_SAMPLE_RATE / 1000000;

			start = ago < now ? now - ago : 0;
		}
	}
	end = start + cue_estimate(text_chars(text, len));
	snprintf(id, sizeof(id), "%s.%llu", st->langs[lang].tag,
	         (unsigned long long)st->langs[lang].seq + 1);
	st->n.cues_http++;
	c->accepted++;
	emit(st, lang, id, text, len, true, start, end, json_string(c->name));
	free(text);
	answer(st, res, 200, NULL);
}

static void api_files(struct captions *st, const struct puente_http_request *req,
                      struct puente_http_response *res)
{
	static const char *const types[ARCHIVE_FORMATS] = {"text/vtt; charset=utf-8",
	                                                   "application/x-subrip; charset=utf-8",
	                                                   "text/plain; charset=utf-8"};
	const char *name = req->path + strlen(FILES_PATH), *dot;
	int lang = -1, fmt = -1, rc;
	char *data = NULL;
	size_t len = 0;

	if (*name == '/')
		name++;
	dot = strrchr(name, '.');
	for (int i = 0; dot && i < ARCHIVE_FORMATS; i++)
		if (!strcmp(dot + 1, archive_ext(i)))
			fmt = i;
	if (dot && fmt >= 0)
		for (int i = 0; i < st->n_langs; i++)
			if (strlen(st->langs[i].tag) == (size_t)(dot - name) &&
			    !strncasecmp(st->langs[i].tag, name, (size_t)(dot - name)))
				lang = i;
	if (lang < 0 || fmt < 0) {
		st->n.not_found++;
		answer(st, res, 404, "no such file: the files are <lang>.vtt, .srt and .txt");
		return;
	}
	rc = archive_copy(st->archive, lang, fmt, &data, &len);
	if (rc == -EFBIG) {
		answer(st, res, 503,
		       "the file is larger than %u MiB: take it from the relay's archive_dir",
		       ARCHIVE_MIRROR_MAX >> 20);
		return;
	}
	if (rc) {
		answer(st, res, 500, "out of memory");
		return;
	}
	res->status = 200;
	snprintf(res->content_type, sizeof(res->content_type), "%s", types[fmt]);
	res->body = data;
	res->body_len = len;
}

/* Service thread. GET and POST under /captions/api and /captions/files. */
static void captions_http(void *state, const struct puente_http_request *req,
                          struct puente_http_response *res)
{
	struct captions *st = state;
	bool files = !strncmp(req->path, FILES_PATH "/", strlen(FILES_PATH) + 1);
	bool seq = !strcmp(req->path, SEQ_PATH), post = !strcmp(req->method, "POST");
	struct captioner *c = NULL;
	const char *token;
	size_t token_n;

	if (!files && !seq && strcmp(req->path, API_PATH)) {
		st->n.not_found++;
		answer(st, res, 404, "not found");
		return;
	}
	token = query_get(req->query, "token", &token_n);
	if (!token || !token_n) {
		st->n.no_token++;
		answer(st, res, 401, "a token is needed: ?token=...");
		return;
	}
	if (files ? !captions_token_equal(st->organiser_token, st->organiser_len, token, token_n)
	          : !(c = http_captioner(st, token, token_n))) {
		st->n.bad_token++;
		answer(st, res, 403, "wrong token");
		return;
	}
	if (post != (!files && !seq)) {
		st->n.bad_method++;
		answer(st, res, 405, "%s here", files || seq ? "GET" : "POST");
		return;
	}
	if (files)
		api_files(st, req, res);
	else if (seq)
		answer(st, res, 200, "%llu", (unsigned long long)(c->seq.has ? c->seq.last : 0));
	else
		api_post(st, c, req, res);
}

/* ---- configuration ---- */

/* Calls fn on each trimmed, non-empty item of a comma-separated list; stops at its first error. */
static int each_item(const char *list, int (*fn)(struct captions *, const char *, size_t),
                     struct captions *st)
{
	for (const char *p = list; p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *item = p;
		int rc;

		trim(&item, &n);
		if (n && (rc = fn(st, item, n)))
			return rc;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int add_lang(struct captions *st, const char *tag, size_t n)
{
	const struct puente_host *h = st->host;
	char buf[CAPTIONS_MAX_TAG + 1];

	if (!is_tag(tag, n)) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "languages: '%.*s' is not a language tag",
		       (int)(n > 40 ? 40 : n), tag);
		return -EINVAL;
	}
	for (int i = 0; i < st->n_langs; i++)
		if (strlen(st->langs[i].tag) == n && !strncasecmp(st->langs[i].tag, tag, n))
			return 0;
	if (st->n_langs == CAPTIONS_MAX_LANGS) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "languages: more than %d", CAPTIONS_MAX_LANGS);
		return -EINVAL;
	}
	memcpy(buf, tag, n);
	buf[n] = 0;
	if (lang_init(&st->langs[st->n_langs], buf, st->history))
		return -ENOMEM;
	st->n_langs++;
	return 0;
}

static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < CAPTIONS_TOKEN_MIN || n > CAPTIONS_TOKEN_MAX)
		return false;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

/* 128 bits from the kernel's CSPRNG, as 32 hex digits. */
static int random_token(char *out, size_t *len)
{
	unsigned char raw[16];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	*len = 2 * sizeof(raw);
	return 0;
}

/* A token from the config key, or a random one. */
static int set_token(struct captions *st, const char *key, char *out, size_t *len, bool *fixed)
{
	const struct puente_host *h = st->host;
	const char *v = h->config_get(h->ctx, key, NULL);

	if (!v || !v[0]) {
		*fixed = false;
		if (random_token(out, len)) {
			h->log(h->ctx, PUENTE_LOG_ERROR, "getrandom failed: no token for %s", key);
			return -EIO;
		}
		return 0;
	}
	if (!token_ok(v)) {
		h->log(h->ctx, PUENTE_LOG_ERROR,
		       "%s: a token is %d to %d characters of A-Z a-z 0-9 - . _ ~", key,
		       CAPTIONS_TOKEN_MIN, CAPTIONS_TOKEN_MAX);
		return -EINVAL;
	}
	*fixed = true;
	*len = strlen(v);
	memcpy(out, v, *len + 1);
	return 0;
}

/* "name:lang[:lang...]" */
static int add_captioner(struct captions *st, const char *spec, size_t n)
{
	const struct puente_host *h = st->host;
	const char *colon = memchr(spec, ':', n);
	size_t name_n = colon ? (size_t)(colon - spec) : n;
	struct captioner *c, *v;
	char key[64];

	if (!colon || name_n == 0 || name_n > CAPTIONS_MAX_NAME ||
	    strspn(spec, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") <
	        name_n) {
		h->log(h->ctx, PUENTE_LOG_ERROR,
		       "captioners: '%.*s' is not name:lang[:lang...] (a name is up to %d of "
		       "A-Z a-z 0-9 - _)",
		       (int)(n > 60 ? 60 : n), spec, CAPTIONS_MAX_NAME);
		return -EINVAL;
	}
	for (int i = 0; i < st->n_http; i++)
		if (strlen(st->http[i].name) == name_n &&
		    !strncmp(st->http[i].name, spec, name_n)) {
			h->log(h->ctx, PUENTE_LOG_ERROR, "captioners: '%.*s' twice", (int)name_n,
			       spec);
			return -EINVAL;
		}
	v = realloc(st->http, (size_t)(st->n_http + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->http = v;
	c = &st->http[st->n_http];
	memset(c, 0, sizeof(*c));
	memcpy(c->name, spec, name_n);
	for (const char *p = colon + 1; p < spec + n;) {
		const char *next = memchr(p, ':', (size_t)(spec + n - p));
		size_t ln = next ? (size_t)(next - p) : (size_t)(spec + n - p);
		int lang = lang_find(st, p, ln);

		if (lang < 0) {
			h->log(h->ctx, PUENTE_LOG_ERROR,
			       "captioners: %s: '%.*s' is not one of the caption languages",
			       c->name, (int)(ln > 40 ? 40 : ln), p);
			return -EINVAL;
		}
		c->may[lang] = true;
		p = next ? next + 1 : spec + n;
	}
	snprintf(key, sizeof(key), "token.%s", c->name);
	if (set_token(st, key, c->token, &c->token_len, &c->fixed_token))
		return -EINVAL;
	st->n_http++;
	return 0;
}

static int config_number(struct captions *st, const char *key, const char *fallback, double min,
                         double max, double *out)
{
	const struct puente_host *h = st->host;
	const char *v = h->config_get(h->ctx, key, fallback);
	char *end;

	*out = strtod(v, &end);
	while (*end == ' ')
		end++;
	if (end == v || *end || !(*out >= min && *out <= max)) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "%s: '%s' is not a number from %g to %g", key, v,
		       min, max);
		return -EINVAL;
	}
	return 0;
}

static int config_count(struct captions *st, const char *key, const char *fallback, double min,
                        double max, size_t *out)
{
	double v;

	if (config_number(st, key, fallback, min, max, &v))
		return -EINVAL;
	if (v != (double)(size_t)v) {
		st->host->log(st->host->ctx, PUENTE_LOG_ERROR, "%s: not a whole number", key);
		return -EINVAL;
	}
	*out = (size_t)v;
	return 0;
}

/* Logs where each captioner posts, and where the archive is downloaded: the only lines with tokens.
 */
static void log_urls(struct captions *st)
{
	const struct puente_host *h = st->host;

	for (int i = 0; i < st->n_http; i++) {
		const struct captioner *c = &st->http[i];
		char langs[CAPTIONS_MAX_LANGS * (CAPTIONS_MAX_TAG + 2) + 1] = "";

		for (int l = 0; l < st->n_langs; l++)
			if (c->may[l])
				snprintf(langs + strlen(langs), sizeof(langs) - strlen(langs),
				         "%s%s", langs[0] ? ", " : "", st->langs[l].tag);
		if (c->fixed_token)
			h->log(
			    h->ctx, PUENTE_LOG_INFO,
			    "caption URL for %s (%s): " API_PATH
			    "?token=<token.%s of the config> (after the relay's http://HOST:PORT)",
			    c->name, langs, c->name);
		else
			h->log(h->ctx, PUENTE_LOG_INFO,
			       "caption URL for %s (%s): " API_PATH
			       "?token=%s (after the relay's http://HOST:PORT)",
			       c->name, langs, c->token);
	}
	if (st->organiser_fixed)
		h->log(h->ctx, PUENTE_LOG_INFO,
		       "archive downloads: " FILES_PATH
		       "/<lang>.vtt|.srt|.txt?token=<organiser_token "
		       "of the config> (after the relay's http://HOST:PORT)");
	else
		h->log(h->ctx, PUENTE_LOG_INFO,
		       "archive downloads: " FILES_PATH "/<lang>.vtt|.srt|.txt?token=%s (after the "
		       "relay's http://HOST:PORT)",
		       st->organiser_token);
}

static int configure(struct captions *st)
{
	const struct puente_host *h = st->host;
	char defaults[CAPTIONS_MAX_LANGS * (CAPTIONS_MAX_TAG + 2) * 3 + 1] = "";
	const char *langs, *captioners;
	size_t history;

	if (config_count(st, "history", "20", 0, CAPTIONS_MAX_HISTORY, &history) ||
	    config_count(st, "max_chars", "5000", 1, 1000000, &st->max_chars) ||
	    config_number(st, "rate", "5", 0.001, 10000, &st->rate) ||
	    config_number(st, "burst", "20", 1, 10000, &st->burst))
		return -EINVAL;
	st->history = history;

	/* The languages of the room's channels, unless the config says otherwise. */
	for (int i = 0; i < PUENTE_MAX_CHANNELS; i++) {
		const struct puente_channel_info *ch = h->channel(h->ctx, i);

		if (!ch)
			break;
		if (ch->lang[0] && strlen(defaults) + strlen(ch->lang) + 2 < sizeof(defaults) / 3)
			snprintf(defaults + strlen(defaults), sizeof(defaults) - strlen(defaults),
			         "%s%s", defaults[0] ? "," : "", ch->lang);
	}
	langs = h->config_get(h->ctx, "languages", defaults);
	if (each_item(langs, add_lang, st))
		return -EINVAL;
	if (st->n_langs == 0) {
		h->log(h->ctx, PUENTE_LOG_ERROR,
		       "no caption languages: the room's channels have none; set languages = ...");
		return -EINVAL;
	}

	/* A captioner per language, cart-<lang>, unless the config says otherwise. */
	defaults[0] = 0;
	for (int i = 0; i < st->n_langs; i++)
		snprintf(defaults + strlen(defaults), sizeof(defaults) - strlen(defaults),
		         "%scart-%s:%s", i ? "," : "", st->langs[i].tag, st->langs[i].tag);
	captioners = h->config_get(h->ctx, "captioners", defaults);
	if (each_item(captioners, add_captioner, st))
		return -EINVAL;
	if (set_token(st, "organiser_token", st->organiser_token, &st->organiser_len,
	              &st->organiser_fixed))
		return -EINVAL;
	return 0;
}

/* ---- life ---- */

static void captions_free(struct captions *st)
{
	for (int i = 0; i < st->n_langs; i++)
		lang_fini(&st->langs[i]);
	choosers_fini(&st->choosers);
	free(st->http);
	free(st->ws);
	free(st);
}

static int captions_init(const struct puente_host *host, void **state)
{
	struct captions *st;
	const char *tags[CAPTIONS_MAX_LANGS];
	const char *dir;
	int err = 0;

	/* http_route is the last service this plugin uses, and the table only grows. */
	if (!PUENTE_HAS(host, http_route) || !host->http_route || !host->config_get)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->mono_ns = mono_ns;
	st->wall_ns = wall_ns;
	if (configure(st))
		goto fail;
	for (int i = 0; i < st->n_langs; i++)
		tags[i] = st->langs[i].tag;
	dir = host->config_get(host->ctx, "archive_dir", "captions");
	st->archive = archive_create(host, dir, tags, st->n_langs, &err);
	if (!st->archive) {
		host->log(host->ctx, PUENTE_LOG_ERROR, "cannot start the archive: %s",
		          strerror(-err));
		goto fail;
	}
	if ((err = host->http_route(host->ctx, API_PATH, captions_http)) ||
	    (err = host->http_route(host->ctx, FILES_PATH, captions_http))) {
		host->log(host->ctx, PUENTE_LOG_ERROR, "cannot route %s: %s", API_PATH,
		          strerror(-err));
		goto destroy_archive;
	}
	log_urls(st);
	host->log(host->ctx, PUENTE_LOG_INFO,
	          "%d caption languages, %d named captioners; archive in %s; max_chars %zu, rate "
	          "%g/s, burst %g, history %zu",
	          st->n_langs, st->n_http, dir[0] ? dir : "(memory only)", st->max_chars, st->rate,
	          st->burst, st->history);
	*state = st;
	return 0;

destroy_archive:
	archive_destroy(st->archive, NULL);
fail:
	captions_free(st);
	return -EINVAL;
}

static void captions_destroy(void *state)
{
	struct captions *st = state;
	const struct captions_counts *n = &st->n;
	struct archive_stats a;

	archive_destroy(st->archive, &a); /* writes what is queued first */
	st->archive = NULL;
	for (int i = 0; i < st->n_http; i++) {
		const struct captioner *c = &st->http[i];

		st->host->log(st->host->ctx, PUENTE_LOG_INFO,
		              "%s: %llu captions, %llu duplicates, %llu seq gaps, %llu restarts",
		              c->name, (unsigned long long)c->accepted,
		              (unsigned long long)c->duplicates, (unsigned long long)c->gaps,
		              (unsigned long long)c->restarts);
	}
	st->host->log(
	    st->host->ctx, PUENTE_LOG_INFO,
	    "%llu cues (%llu WebSocket, %llu HTTP; %llu partial, %llu final); refused: "
	    "%llu forbidden, %llu bad_field, %llu too_long, %llu bad_text, %llu "
	    "rate_limited; HTTP: %llu without token, %llu wrong token, %llu bad request, "
	    "%llu not text/plain, %llu wrong method, %llu not found; %llu duplicates, "
	    "%llu seq gaps, %llu restarts, %llu empty, %llu timestamps ignored; %llu sends "
	    "failed, %llu not archived (queue full)",
	    (unsigned long long)(n->cues_ws + n->cues_http), (unsigned long long)n->cues_ws,
	    (unsigned long long)n->cues_http, (unsigned long long)n->partials,
	    (unsigned long long)n->finals, (unsigned long long)n->forbidden,
	    (unsigned long long)n->bad_field, (unsigned long long)n->too_long,
	    (unsigned long long)n->bad_text, (unsigned long long)n->rate_limited,
	    (unsigned long long)n->no_token, (unsigned long long)n->bad_token,
	    (unsigned long long)n->bad_request, (unsigned long long)n->bad_type,
	    (unsigned long long)n->bad_method, (unsigned long long)n->not_found,
	    (unsigned long long)n->duplicates, (unsigned long long)n->gaps,
	    (unsigned long long)n->restarts, (unsigned long long)n->empty,
	    (unsigned long long)n->bad_timestamps, (unsigned long long)n->send_failed,
	    (unsigned long long)n->archive_refused);
	st->host->log(st->host->ctx, PUENTE_LOG_INFO,
	              "archive: %llu cues written, %llu dropped (queue full), %llu moved to keep "
	              "times in order, %llu files stopped by write errors",
	              (unsigned long long)a.cues, (unsigned long long)a.dropped,
	              (unsigned long long)a.clamped, (unsigned long long)a.write_errors);
	captions_free(st);
}

static const struct puente_plugin captions = {
    .abi = PUENTE_PLUGIN_ABI,
    .size = sizeof(struct puente_plugin),
    .name = NS,
    .version = "0.1.0",
    .init = captions_init,
    .destroy = captions_destroy,
    .client_leave = captions_client_leave,
    .message = captions_message,
};

PUENTE_PLUGIN_DEFINE(captions)
