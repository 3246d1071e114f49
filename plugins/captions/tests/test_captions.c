/*
 * The captions plugin against the fake relay: per-language routing, seq,
 * history, partial and final lines, role refusals, limits, the text rules, the
 * HTTP caption API (status codes, seq deduplication, timestamps, tokens), the
 * archive's files (syntax, times, a full disk, a full queue) and the config.
 * Room: floor (0), es (1), en (2): caption languages es, en.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "captions.h"
#include "fake_host.h"
#include "text.h"

const struct puente_plugin *puente_plugin_entry(void);

enum { CART = 1, TECH = 2, LEO = 10, LIA = 11, NOBODY = 12, INTERP = 13, ORGANISER = 14 };
#define SECOND 48000ull

struct t {
	struct fake_host f;
	char dir[64]; /* the archive's folder, removed at the end */
	char archive_dir[80];
};

static uint64_t mono_now, wall_now;

static uint64_t fake_mono(void)
{
	return mono_now;
}

static uint64_t fake_wall(void)
{
	return wall_now;
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/captions-test-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->archive_dir, sizeof(t->archive_dir), "%s/archive", t->dir);
	fake_host_init(&t->f, puente_plugin_entry());
	fake_host_config(&t->f, "archive_dir", t->archive_dir);
	mono_now = 1000000000ull;
	wall_now = 1740830410000000000ull; /* 2025-03-01T12:00:10.000Z */
	*state = t;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct t *t = *state;

	fake_host_fini(&t->f);
	nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* ---- helpers ---- */

static struct captions *st_of(struct fake_host *f)
{
	return f->state;
}

/* Starts the plugin with the test clocks, and the usual clients. */
static struct fake_host *room(void **state)
{
	struct t *t = *state;
	struct fake_host *f = &t->f;

	assert_int_equal(fake_host_start(f), 0);
	st_of(f)->mono_ns = fake_mono;
	st_of(f)->wall_ns = fake_wall;
	fake_connect(f, CART, PUENTE_ROLE_CAPTIONER);
	fake_connect(f, TECH, PUENTE_ROLE_TECHNICIAN);
	fake_connect(f, LEO, PUENTE_ROLE_LISTENER);
	fake_connect(f, LIA, PUENTE_ROLE_LISTENER);
	fake_connect(f, NOBODY, PUENTE_ROLE_LISTENER);
	fake_connect(f, INTERP, PUENTE_ROLE_INTERPRETER);
	fake_connect(f, ORGANISER, PUENTE_ROLE_ORGANISER);
	return f;
}

static const char *str_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static json_int_t int_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static int choose(struct fake_host *f, puente_client_id id, const char *lang)
{
	return lang ? fake_message(f, id, "choose", "{s:s}", "lang", lang)
	            : fake_message(f, id, "choose", "{s:n}", "lang");
}

static int cue(struct fake_host *f, puente_client_id from, const char *lang, const char *text,
               bool final)
{
	return fake_message(f, from, "cue", "{s:s, s:s, s:b}", "lang", lang, "text", text, "final",
	                    final);
}

/* The last core.error code a client got, or NULL. */
static const char *error_code(struct fake_host *f, puente_client_id id)
{
	const json_t *e = fake_last(f, id, "core.error");

	if (!e)
		return NULL;
	assert_string_equal(str_of(e, "ref"), "captions.cue");
	return str_of(e, "code");
}

static const char *token_of(struct fake_host *f, const char *name)
{
	for (int i = 0; i < st_of(f)->n_http; i++)
		if (!strcmp(st_of(f)->http[i].name, name))
			return st_of(f)->http[i].token;
	fail_msg("no captioner %s", name);
	return NULL;
}

/* Whether s starts with a "YYYY-MM-DDTHH:MM:SS.mmm\n" line. */
static bool time_line(const char *s, size_t n)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.ddd\n";

	if (n < sizeof(pattern) - 1)
		return false;
	for (size_t i = 0; i < sizeof(pattern) - 1; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return false;
	return true;
}

/*
 * One HTTP request; returns the status. Every answer of the caption API starts
 * with the server's time. *body gets the answer (free it) when body is given.
 */
static int http_full(struct fake_host *f, const char *method, const char *path, const char *query,
                     const char *ct, const void *data, size_t len, char **body, char *ctype)
{
	struct puente_http_response res;

	assert_int_equal(fake_http(f, method, path, query, ct, data, len, &res), 0);
	assert_non_null(res.body);
	if (res.status != 200 || strncmp(path, "/captions/files/", 16))
		assert_true(time_line(res.body, res.body_len));
	if (ctype)
		snprintf(ctype, 64, "%s", res.content_type);
	if (body) {
		*body = realloc(res.body, res.body_len + 1);
		(*body)[res.body_len] = 0;
	} else {
		free(res.body);
	}
	return res.status;
}

static int post(struct fake_host *f, const char *token, const char *params, const char *text)
{
	char query[512];

	snprintf(query, sizeof(query), "token=%s&%s", token, params);
	return http_full(f, "POST", "/captions/api", query, "text/plain; charset=utf-8", text,
	                 strlen(text), NULL, NULL);
}

static char *repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);

	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = 0;
	return s;
}

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *s;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = malloc((size_t)n + 1);
	s[fread(s, 1, (size_t)n, fp)] = 0;
	fclose(fp);
	return s;
}

/* ---- start-up, tokens ---- */

static void starts_with_defaults(void **state)
{
	struct fake_host *f = room(state);
	struct captions *st = st_of(f);
	char line[512];

	assert_int_equal(st->n_langs, 2);
	assert_string_equal(st->langs[0].tag, "es");
	assert_string_equal(st->langs[1].tag, "en");
	assert_int_equal(st->n_http, 2);
	assert_string_equal(st->http[0].name, "cart-es");
	assert_true(st->http[0].may[0] && !st->http[0].may[1]);
	assert_string_equal(st->http[1].name, "cart-en");
	assert_true(st->http[1].may[1] && !st->http[1].may[0]);
	assert_int_equal(f->n_routes, 2);
	assert_string_equal(f->routes[0].path, "/captions/api");
	assert_string_equal(f->routes[1].path, "/captions/files");
	assert_int_equal(st->max_chars, 5000);
	assert_int_equal(st->history, 20);

	/* 128-bit random tokens, in hex, each logged once in its caption URL and nowhere else. */
	for (int i = 0; i < 2; i++) {
		const char *tok = st->http[i].token;

		assert_int_equal(strlen(tok), 32);
		assert_int_equal(strspn(tok, "0123456789abcdef"), 32);
		assert_int_equal(fake_log_count(f, tok), 1);
		snprintf(line, sizeof(line),
		         "caption URL for %s (%s): /captions/api?token=%s (after the relay's "
		         "http://HOST:PORT)",
		         st->http[i].name, st->langs[i].tag, tok);
		assert_int_equal(fake_log_count(f, line), 1);
	}
	assert_string_not_equal(st->http[0].token, st->http[1].token);
	assert_int_equal(strlen(st->organiser_token), 32);
	assert_string_not_equal(st->organiser_token, st->http[0].token);
	assert_int_equal(fake_log_count(f, st->organiser_token), 1);
	snprintf(line, sizeof(line), "/captions/files/<lang>.vtt|.srt|.txt?token=%s",
	         st->organiser_token);
	assert_int_equal(fake_log_count(f, line), 1);

	/* Cues and refusals never log a token. */
	assert_int_equal(post(f, st->http[1].token, "seq=1&lang=en", "hello"), 200);
	assert_int_equal(post(f, "wrong-token-0123456789", "seq=2&lang=en", "x"), 403);
	assert_int_equal(fake_log_count(f, st->http[1].token), 1);
}

static void token_compare(void **state)
{
	(void)state;
	assert_true(captions_token_equal("abcdef", 6, "abcdef", 6));
	assert_false(captions_token_equal("abcdef", 6, "abcdeg", 6));
	assert_false(captions_token_equal("abcdef", 6, "abcde", 5));
	assert_false(captions_token_equal("abcdef", 6, "abcdefg", 7));
	assert_false(captions_token_equal("abcdef", 6, "", 0));
	assert_false(captions_token_equal("abc\0ef", 6, "abc", 3));
	assert_false(captions_token_equal("", 0, "a", 1));
}

static void fixed_tokens(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;
	const char *en = "a-fixed.token_for~cart-en-0123456789";
	const char *org = "organiser-token-0123456789abcdef";

	fake_host_config(f, "token.cart-en", en);
	fake_host_config(f, "organiser_token", org);
	room(state);
	assert_string_equal(token_of(f, "cart-en"), en);
	assert_int_equal(fake_log_count(f, en), 0);
	assert_int_equal(fake_log_count(f, org), 0);
	assert_int_equal(fake_log_count(f, "caption URL for cart-en (en): "
	                                   "/captions/api?token=<token.cart-en of the config>"),
	                 1);
	assert_int_equal(strlen(token_of(f, "cart-es")), 32); /* the other one is still random */
	assert_int_equal(post(f, en, "seq=1&lang=en", "fixed"), 200);
	assert_int_equal(http_full(f, "GET", "/captions/files/en.txt",
	                           "token=organiser-token-"
	                           "0123456789abcdef",
	                           "", NULL, 0, NULL, NULL),
	                 200);
}

/* ---- the WebSocket side ---- */

static void routing_per_language(void **state)
{
	struct fake_host *f = room(state);
	const json_t *m;

	assert_int_equal(choose(f, LEO, "es"), 0);
	assert_int_equal(choose(f, LIA, "en"), 0);
	assert_int_equal(choose(f, TECH, "es"), 0);
	assert_int_equal(fake_count(f, LEO, "captions.history"), 1);
	fake_clear(f);

	assert_int_equal(cue(f, CART, "es", "Hola a todos", true), 0);
	assert_int_equal(fake_count(f, LEO, "captions.cue"), 1);
	assert_int_equal(fake_count(f, TECH, "captions.cue"), 1);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 0);
	assert_int_equal(fake_count(f, NOBODY, "captions.cue"), 0);
	assert_int_equal(fake_count(f, CART, "captions.cue"), 0);
	m = fake_last(f, LEO, "captions.cue");
	assert_string_equal(str_of(m, "lang"), "es");
	assert_string_equal(str_of(m, "text"), "Hola a todos");
	assert_true(json_is_true(json_object_get(m, "final")));
	assert_null(json_object_get(m, "from")); /* only technicians see who captions */
	m = fake_last(f, TECH, "captions.cue");
	assert_int_equal(int_of(m, "from"), CART);

	assert_int_equal(cue(f, CART, "en-US", "Hello everyone", true), 0);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
	assert_int_equal(fake_count(f, LEO, "captions.cue"), 1);
	assert_int_equal(fake_count(f, TECH, "captions.cue"), 1);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "lang"), "en");

	/* A switch moves the client; none stops its captions; a leave forgets it. */
	assert_int_equal(choose(f, LEO, "EN"), 0);
	assert_string_equal(str_of(fake_last(f, LEO, "captions.history"), "lang"), "en");
	assert_int_equal(choose(f, TECH, NULL), 0);
	m = fake_last(f, TECH, "captions.history");
	assert_true(json_is_null(json_object_get(m, "lang")));
	assert_int_equal(json_array_size(json_object_get(m, "cues")), 0);
	fake_clear(f);
	assert_int_equal(cue(f, CART, "es", "nadie", true), 0);
	assert_int_equal(cue(f, CART, "en", "two", true), 0);
	assert_int_equal(fake_count(f, LEO, "captions.cue"), 1);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
	assert_int_equal(fake_count(f, TECH, "captions.cue"), 0);
	fake_disconnect(f, LIA);
	assert_int_equal(choosers_get(&st_of(f)->choosers, LIA), -1);
	assert_int_equal(st_of(f)->langs[1].n_subs, 1);
	assert_int_equal(cue(f, CART, "en", "three", true), 0);
	assert_int_equal(st_of(f)->n.send_failed, 0);
}

static void seq_per_language(void **state)
{
	struct fake_host *f = room(state);
	const json_t *m;

	choose(f, LEO, "es");
	choose(f, LIA, "en");
	cue(f, CART, "es", "Ho", false);
	cue(f, CART, "es", "Hola", false);
	cue(f, CART, "es", "Hola.", true);
	cue(f, CART, "en", "Hi.", true);
	cue(f, CART, "es", "Otra", false);
	for (size_t i = 0, n = 0; i < f->n_sent; i++) {
		m = f->sent[i].msg;
		if (f->sent[i].to == LEO && !strcmp(str_of(m, "type"), "captions.cue"))
			assert_int_equal(int_of(m, "seq"), (json_int_t)++n);
	}
	assert_int_equal(int_of(fake_last(f, LEO, "captions.cue"), "seq"), 4);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "seq"), 1);
}

static void history_on_choose(void **state)
{
	struct fake_host *f = room(state);
	const json_t *cues, *c;
	char text[32];

	for (int i = 1; i <= 25; i++) {
		snprintf(text, sizeof(text), "line %d", i);
		cue(f, CART, "es", "partial", false);
		mono_now += 1000000000ull; /* stay under the rate */
		cue(f, CART, "es", text, true);
	}
	cue(f, CART, "es", "", true); /* clears a line: sent, but nothing to keep */
	choose(f, LEO, "es");
	cues = json_object_get(fake_last(f, LEO, "captions.history"), "cues");
	assert_int_equal(json_array_size(cues), 20);
	for (size_t i = 0; i < 20; i++) {
		c = json_array_get(cues, i);
		snprintf(text, sizeof(text), "line %zu", i + 6);
		assert_string_equal(str_of(c, "text"), text);
		assert_true(json_is_true(json_object_get(c, "final")));
		assert_int_equal(int_of(c, "seq"), (json_int_t)(2 * (i + 6)));
		assert_null(json_object_get(c, "from"));
		assert_null(json_object_get(c, "type"));
		assert_non_null(str_of(c, "id"));
	}
	choose(f, TECH, "es");
	cues = json_object_get(fake_last(f, TECH, "captions.history"), "cues");
	assert_int_equal(int_of(json_array_get(cues, 0), "from"), CART);
	choose(f, LIA, "en");
	cues = json_object_get(fake_last(f, LIA, "captions.history"), "cues");
	assert_int_equal(json_array_size(cues), 0);
}

static void history_size_from_config(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;

	fake_host_config(f, "history", "2");
	room(state);
	cue(f, CART, "en", "one", true);
	cue(f, CART, "en", "two", true);
	cue(f, CART, "en", "three", true);
	choose(f, LIA, "en");
	const json_t *cues = json_object_get(fake_last(f, LIA, "captions.history"), "cues");
	assert_int_equal(json_array_size(cues), 2);
	assert_string_equal(str_of(json_array_get(cues, 0), "text"), "two");
	assert_string_equal(str_of(json_array_get(cues, 1), "text"), "three");
}

/* One captions.history stays bounded: the newest cues that fit 32 KiB of text. */
static void history_bounded(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;
	char *big = repeat("a", 5000), *huge = repeat("b", 40000);
	const json_t *cues;

	fake_host_config(f, "burst", "100");
	fake_host_config(f, "max_chars", "100000");
	room(state);
	for (int i = 0; i < 20; i++)
		cue(f, CART, "en", big, true);
	choose(f, LIA, "en");
	cues = json_object_get(fake_last(f, LIA, "captions.history"), "cues");
	assert_int_equal(json_array_size(cues), 6);
	assert_int_equal(int_of(json_array_get(cues, 5), "seq"), 20);
	/* The newest one always goes, whatever its size. */
	for (int i = 0; i < 2; i++)
		cue(f, CART, "en", huge, true);
	choose(f, LEO, "en");
	cues = json_object_get(fake_last(f, LEO, "captions.history"), "cues");
	assert_int_equal(json_array_size(cues), 1);
	assert_int_equal(int_of(json_array_get(cues, 0), "seq"), 22);
	free(big);
	free(huge);
}

static void partial_then_final_same_id(void **state)
{
	struct fake_host *f = room(state);
	const json_t *m;
	char first[CAPTIONS_MAX_ID + 1];
	uint64_t t0 = f->now;

	choose(f, LIA, "en");
	cue(f, CART, "en", "Good", false);
	m = fake_last(f, LIA, "captions.cue");
	snprintf(first, sizeof(first), "%s", str_of(m, "id"));
	assert_true(first[0]);
	assert_false(json_is_true(json_object_get(m, "final")));
	assert_int_equal(int_of(m, "start"), (json_int_t)t0);

	f->now += SECOND;
	cue(f, CART, "en", "Good morn", false);
	m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "id"), first);
	assert_int_equal(int_of(m, "start"), (json_int_t)t0); /* an update keeps the line's start */

	f->now += 8 * SECOND;
	cue(f, CART, "en", "Good morning.", true);
	m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "id"), first);
	assert_true(json_is_true(json_object_get(m, "final")));
	assert_int_equal(int_of(m, "start"), (json_int_t)t0);
	assert_int_equal(int_of(m, "end"), (json_int_t)f->now); /* up until its final form came */

	cue(f, CART, "en", "Next", false);
	m = fake_last(f, LIA, "captions.cue");
	assert_string_not_equal(str_of(m, "id"), first);
	assert_int_equal(int_of(m, "start"), (json_int_t)f->now);

	/* Ids the captioner gives are kept; another id opens another line. */
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text", "A", "final", 0,
	             "id", "line-7");
	f->now += SECOND;
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text", "A b.", "final",
	             1, "id", "line-7");
	m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "id"), "line-7");
	assert_int_equal(int_of(m, "start"), (json_int_t)(f->now - SECOND));
	/* The history has the final forms only. */
	choose(f, LEO, "en");
	assert_int_equal(
	    json_array_size(json_object_get(fake_last(f, LEO, "captions.history"), "cues")), 2);
}

static void cue_times(void **state)
{
	struct fake_host *f = room(state);
	const json_t *m;

	choose(f, LIA, "en");
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I, s:I}", "lang", "en", "text", "x",
	             "final", 1, "start", (json_int_t)1000, "end", (json_int_t)5000);
	m = fake_last(f, LIA, "captions.cue");
	assert_int_equal(int_of(m, "start"), 1000);
	assert_int_equal(int_of(m, "end"), 5000);
	/* A final cue's end is at least its start. */
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I, s:I}", "lang", "en", "text", "x",
	             "final", 1, "start", (json_int_t)9000, "end", (json_int_t)100);
	m = fake_last(f, LIA, "captions.cue");
	assert_int_equal(int_of(m, "end"), 9000);
	/* Estimates: 60 ms a character, from 1.5 s to 7 s. */
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I}", "lang", "en", "text", "short", "final",
	             1, "start", (json_int_t)0);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "end"), 72000);
	char *fifty = repeat("é", 50), *long_text = repeat("a", 500);
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I}", "lang", "en", "text", fifty, "final",
	             1, "start", (json_int_t)0);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "end"), 3 * SECOND);
	fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I}", "lang", "en", "text", long_text,
	             "final", 1, "start", (json_int_t)0);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "end"), 7 * SECOND);
	free(fifty);
	free(long_text);
	assert_int_equal(cue_estimate(0), 72000);
	assert_int_equal(cue_estimate(100), 100 * 60 * 48);
	assert_int_equal(cue_estimate(117), 7 * SECOND);
}

static void role_refusals(void **state)
{
	struct fake_host *f = room(state);
	static const puente_client_id others[] = {LEO, TECH, INTERP, ORGANISER};

	choose(f, LIA, "en");
	fake_clear(f);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(cue(f, others[i], "en", "not mine", true), -EPERM);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 0);
	assert_int_equal(st_of(f)->n.forbidden, 4);
	/* Anyone may choose, interpreters and captioners too. */
	assert_int_equal(choose(f, INTERP, "es"), 0);
	assert_int_equal(choose(f, CART, "en"), 0);
	assert_int_equal(choose(f, ORGANISER, "en"), 0);
	assert_int_equal(fake_message(f, LEO, "nope", NULL), -ENOENT);
}

/* ---- invitations ---- */

static void grant_limits_languages(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;
	enum { ANA = 20, BEN = 21, CLARA = 22 };

	fake_grant(f, ANA, "languages", "en-GB");
	fake_grant(f, CLARA, "languages", "pt, ,es");
	f = room(state);
	fake_connect(f, ANA, PUENTE_ROLE_CAPTIONER);
	fake_connect(f, BEN, PUENTE_ROLE_CAPTIONER); /* no grant: any language */
	fake_connect(f, CLARA, PUENTE_ROLE_CAPTIONER);
	choose(f, LEO, "es");
	choose(f, LIA, "en");
	fake_clear(f);

	/* en-GB stands for the caption language en, as it does in a cue. */
	assert_int_equal(cue(f, ANA, "es", "no es mío", true), -EPERM);
	assert_int_equal(cue(f, ANA, "en", "mine", true), 0);
	assert_int_equal(cue(f, BEN, "es", "de Ben", true), 0);
	assert_int_equal(cue(f, BEN, "en", "Ben's", true), 0);
	/* A name that is no caption language allows nothing, and is said once per captioner. */
	assert_int_equal(cue(f, CLARA, "en", "not mine", true), -EPERM);
	assert_int_equal(cue(f, CLARA, "es", "mía", true), 0);
	assert_int_equal(fake_log_count(f, "names caption language 'pt'"), 1);
	assert_int_equal(fake_count(f, LEO, "captions.cue"), 2);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 2);
	assert_string_equal(str_of(fake_last(f, LEO, "captions.cue"), "text"), "mía");
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"), "Ben's");
	assert_int_equal(st_of(f)->n.forbidden, 2);
	/* The refusal is the host's forbidden: the plugin adds no error of its own. */
	assert_null(fake_last(f, ANA, "core.error"));
}

/* A relay from before invitations has no client_grant: any language, as always. */
static void grant_old_host_unrestricted(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;

	f->host.size = offsetof(struct puente_host, client_grant);
	fake_grant(f, CART, "languages", "en");
	f = room(state);
	assert_int_equal(cue(f, CART, "es", "hola", true), 0);
	assert_int_equal(choose(f, LEO, "es"), 0);
	assert_int_equal(f->n_notes, 0);
}

static void attendance_notes_choices(void **state)
{
	struct fake_host *f = room(state);
	const struct fake_note *n;

	assert_int_equal(choose(f, LEO, "es-MX"), 0);
	n = fake_note_last(f, LEO, "captions");
	assert_non_null(n);
	assert_false(n->null);
	assert_string_equal(n->value, "es"); /* the caption language, not the tag as sent */
	/* The same language again is no change. */
	assert_int_equal(choose(f, LEO, "es"), 0);
	assert_int_equal(fake_note_count(f, LEO, "captions"), 1);
	assert_int_equal(choose(f, LEO, "en"), 0);
	assert_string_equal(fake_note_last(f, LEO, "captions")->value, "en");
	assert_int_equal(choose(f, LEO, NULL), 0);
	assert_true(fake_note_last(f, LEO, "captions")->null);
	assert_int_equal(choose(f, LEO, NULL), 0);
	assert_int_equal(fake_note_count(f, LEO, "captions"), 3);
	/* A refused choice changes nothing. */
	assert_int_equal(choose(f, LIA, "xx"), -EINVAL);
	assert_int_equal(fake_note_count(f, LIA, "captions"), 0);
	/* Turning off what was never on is no change either. */
	assert_int_equal(choose(f, LIA, NULL), 0);
	assert_int_equal(fake_note_count(f, LIA, "captions"), 0);
	assert_int_equal(f->n_notes, 3);
}

static void bad_fields(void **state)
{
	struct fake_host *f = room(state);
	char *long_id = repeat("i", CAPTIONS_MAX_ID + 1);

	choose(f, LIA, "en");
	fake_clear(f);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:b}", "text", "x", "final", 1),
	                 -EINVAL);
	assert_int_equal(
	    fake_message(f, CART, "cue", "{s:i, s:s, s:b}", "lang", 1, "text", "x", "final", 1),
	    -EINVAL);
	assert_int_equal(cue(f, CART, "fr", "x", true), -EINVAL); /* not a caption language */
	assert_int_equal(cue(f, CART, "e n", "x", true), -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:b}", "lang", "en", "final", 1),
	                 -EINVAL);
	assert_int_equal(
	    fake_message(f, CART, "cue", "{s:s, s:i, s:b}", "lang", "en", "text", 3, "final", 1),
	    -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s}", "lang", "en", "text", "x"),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:s}", "lang", "en", "text", "x",
	                              "final", "yes"),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text",
	                              "x", "final", 1, "id", long_id),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text",
	                              "x", "final", 1, "id", ""),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text",
	                              "x", "final", 1, "id", "a\nb"),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:s}", "lang", "en", "text",
	                              "x", "final", 1, "start", "now"),
	                 -EINVAL);
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:i}", "lang", "en", "text",
	                              "x", "final", 1, "end", -5),
	                 -EINVAL);
	assert_int_equal(fake_message(f, LEO, "choose", NULL), -EINVAL);
	assert_int_equal(fake_message(f, LEO, "choose", "{s:i}", "lang", 7), -EINVAL);
	assert_int_equal(choose(f, LEO, "fr"), -EINVAL);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 0);
	assert_int_equal(st_of(f)->n.bad_field, 16);
	/* null start/end and id are as absent. */
	assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:n, s:n, s:n}", "lang",
	                              "en", "text", "x", "final", 1, "start", "end", "id"),
	                 0);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
	free(long_id);
}

/* 5000 code points pass and 5001 do not, whatever their size in bytes. */
static void too_long_at_5000(void **state)
{
	struct fake_host *f = room(state);
	static const char *const units[] = {"a", "é", "€", "😀"};

	choose(f, LIA, "en");
	for (size_t i = 0; i < 4; i++) {
		char *ok = repeat(units[i], 5000), *over = repeat(units[i], 5001);

		fake_clear(f);
		assert_int_equal(cue(f, CART, "en", ok, true), 0);
		assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"), ok);
		assert_null(error_code(f, CART));
		assert_int_equal(cue(f, CART, "en", over, true), 0);
		assert_string_equal(error_code(f, CART), "too_long");
		assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
		free(ok);
		free(over);
	}
	assert_int_equal(st_of(f)->n.too_long, 4);
}

static void bad_text_over_ws(void **state)
{
	struct fake_host *f = room(state);
	/* jansson checks UTF-8 when it parses; the plugin checks again for what it did not. */
	json_t *body = json_pack("{s:s, s:o, s:b, s:s}", "lang", "en", "text",
	                         json_stringn_nocheck("ab\xed\xa0\x80", 5), "final", 1, "type",
	                         "captions.cue");

	choose(f, LIA, "en");
	fake_clear(f);
	assert_int_equal(f->plugin->message(f->state, CART, "cue", body), 0);
	json_decref(body);
	assert_string_equal(error_code(f, CART), "bad_text");
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 0);
	assert_int_equal(st_of(f)->n.bad_text, 1);
}

static void control_characters_stripped(void **state)
{
	struct fake_host *f = room(state);

	choose(f, LIA, "en");
	cue(f, CART, "en",
	    " \n a\x01"
	    "b\tc\r\nd\x7f"
	    "e\xc2\x85"
	    "f\x1b[31m \n",
	    true);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"), "ab c\ndef[31m");
	/* Valid text passes as text: markup, bidi override, zero width, ZWJ emoji, combining. */
	static const char hostile[] =
	    "<img src=x onerror=alert(1)> \xe2\x80\xae"
	    "abc \xe2\x80\x8b"
	    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb e\xcc\x81\xcc\x81";
	cue(f, CART, "en", hostile, true);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"), hostile);
}

static void rate_limited(void **state)
{
	struct fake_host *f = room(state);

	choose(f, LIA, "en");
	fake_clear(f);
	for (int i = 0; i < 20; i++)
		assert_int_equal(cue(f, CART, "en", "burst", false), 0);
	assert_null(error_code(f, CART));
	assert_int_equal(cue(f, CART, "en", "one too many", false), 0);
	assert_string_equal(error_code(f, CART), "rate_limited");
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 20);
	mono_now += 1000000000ull; /* 1 s: 5 more */
	fake_clear(f);
	for (int i = 0; i < 5; i++)
		assert_int_equal(cue(f, CART, "en", "steady", false), 0);
	assert_null(error_code(f, CART));
	cue(f, CART, "en", "again", false);
	assert_string_equal(error_code(f, CART), "rate_limited");
	assert_int_equal(st_of(f)->n.rate_limited, 2);
	/* The bucket is per captioner. */
	fake_connect(f, 99, PUENTE_ROLE_CAPTIONER);
	fake_clear(f);
	assert_int_equal(cue(f, 99, "en", "me too", false), 0);
	assert_null(error_code(f, 99));

	struct bucket b = {0};
	for (int i = 0; i < 3; i++)
		assert_true(bucket_take(&b, 1, 3, 0));
	assert_false(bucket_take(&b, 1, 3, 500000000));
	assert_true(bucket_take(&b, 1, 3, 1000000000));
	assert_false(bucket_take(&b, 1, 3, 1000000000));
	assert_true(bucket_take(&b, 1, 3, 100000000000ull)); /* refills to the burst, no more */
	assert_true(bucket_take(&b, 1, 3, 100000000000ull));
	assert_true(bucket_take(&b, 1, 3, 100000000000ull));
	assert_false(bucket_take(&b, 1, 3, 100000000000ull));
}

/* ---- text ---- */

static void utf8_validation(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} cases[] = {
	    {"", 0, true},
	    {"plain", 5, true},
	    {"\xc3\xa9", 2, true},                  /* é */
	    {"\xe2\x82\xac", 3, true},              /* € */
	    {"\xf0\x9f\x98\x80", 4, true},          /* 😀 */
	    {"\xef\xbf\xbf", 3, true},              /* U+FFFF */
	    {"\xf4\x8f\xbf\xbf", 4, true},          /* U+10FFFF */
	    {"\xed\x9f\xbf", 3, true},              /* U+D7FF */
	    {"\xee\x80\x80", 3, true},              /* U+E000 */
	    {"a\0b", 3, true},                      /* NUL is UTF-8 (and stripped) */
	    {"\xc0\xaf", 2, false},                 /* overlong '/' */
	    {"\xc1\xbf", 2, false},                 /* overlong */
	    {"\xe0\x80\xaf", 3, false},             /* overlong, 3 bytes */
	    {"\xe0\x9f\xbf", 3, false},             /* overlong U+07FF */
	    {"\xf0\x80\x80\xaf", 4, false},         /* overlong, 4 bytes */
	    {"\xf0\x8f\xbf\xbf", 4, false},         /* overlong U+FFFF */
	    {"\xed\xa0\x80", 3, false},             /* surrogate U+D800 */
	    {"\xed\xbf\xbf", 3, false},             /* surrogate U+DFFF */
	    {"\xed\xa0\xbd\xed\xb8\x80", 6, false}, /* CESU-8 pair */
	    {"\xf4\x90\x80\x80", 4, false},         /* U+110000 */
	    {"\xf5\x80\x80\x80", 4, false},
	    {"\xfe", 1, false},
	    {"\xff", 1, false},
	    {"\x80", 1, false},      /* stray continuation */
	    {"a\xbf\x62", 3, false}, /* a stray one between letters */
	    {"\xe2\x82", 2, false},  /* truncated */
	    {"\xc3", 1, false},
	    {"\xf0\x9f\x98", 3, false},
	    {"\xe2\x28\xa1", 3, false},     /* bad second byte */
	    {"\xf0\x9f\x98\x28", 4, false}, /* bad fourth byte */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (text_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "valid" : "invalid");
}

static void text_counting_and_cutting(void **state)
{
	static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"; /* a é € 😀 z: 11 bytes */
	char out[64];

	(void)state;
	assert_int_equal(text_chars(s, 11), 5);
	/* Cuts land on code points only. */
	assert_int_equal(text_cut(s, 11, 0), 0);
	assert_int_equal(text_cut(s, 11, 1), 1);
	assert_int_equal(text_cut(s, 11, 2), 1);
	assert_int_equal(text_cut(s, 11, 3), 3);
	assert_int_equal(text_cut(s, 11, 5), 3);
	assert_int_equal(text_cut(s, 11, 6), 6);
	assert_int_equal(text_cut(s, 11, 9), 6);
	assert_int_equal(text_cut(s, 11, 10), 10);
	assert_int_equal(text_cut(s, 11, 99), 11);
	for (size_t max = 0; max <= 11; max++)
		assert_true(text_utf8_valid(s, text_cut(s, 11, max)));
	assert_int_equal(text_cut_chars(s, 11, 0), 0);
	assert_int_equal(text_cut_chars(s, 11, 2), 3);
	assert_int_equal(text_cut_chars(s, 11, 4), 10);
	assert_int_equal(text_cut_chars(s, 11, 9), 11);

	/* Cleaning in place. */
	snprintf(out, sizeof(out), "\n\t x\r\n\x01y\xc2\x9f \n\n");
	assert_int_equal(text_clean(out, out, strlen(out)), 3);
	assert_string_equal(out, "x\ny");
	assert_int_equal(text_clean(out, "\x01\x02 \n", 4), 0);
	assert_string_equal(out, "");

	/* Log excerpts: nothing can forge a line or hide text. */
	static const char nasty[] = "a\nb\\c\x1b[2J\xe2\x80\xae\xff";
	text_excerpt(out, sizeof(out), nasty, sizeof(nasty) - 1, 40);
	assert_string_equal(out, "a\\nb\\\\c\\x1B[2J\\u{202E}\\xFF");
	text_excerpt(out, sizeof(out), s, 11, 3);
	assert_string_equal(out, "a\xc3\xa9\xe2\x82\xac...");
	text_excerpt(out, 6, s, 11, 40); /* a small buffer cuts on a code point too */
	assert_string_equal(out, "a\xc3\xa9");
}

/* ---- the HTTP caption API ---- */

static void http_status_codes(void **state)
{
	struct fake_host *f = room(state);
	char q[256], *body = NULL;
	const char *en = token_of(f, "cart-en"), *es = token_of(f, "cart-es");
	char *ok = repeat("ñ", 5000), *over = repeat("ñ", 5001);

	choose(f, LIA, "en");
	fake_clear(f);
	/* 401 without a token, 403 with a wrong one: before anything else is looked at. */
	assert_int_equal(http_full(f, "POST", "/captions/api", "seq=1&lang=en", "text/plain", "x",
	                           1, NULL, NULL),
	                 401);
	assert_int_equal(http_full(f, "POST", "/captions/api", "token=&seq=1&lang=en", "text/plain",
	                           "x", 1, NULL, NULL),
	                 401);
	assert_int_equal(http_full(f, "POST", "/captions/api", "token=nope&seq=1&lang=en", "", "x",
	                           1, NULL, NULL),
	                 403);
	snprintf(q, sizeof(q), "token=%sX&seq=1&lang=en", en);
	assert_int_equal(http_full(f, "POST", "/captions/api", q, "text/plain", "x", 1, NULL, NULL),
	                 403);
	assert_int_equal(
	    http_full(f, "GET", "/captions/api/seq", "token=nope", "", NULL, 0, NULL, NULL), 403);
	/* 403 for a language the captioner may not caption. */
	assert_int_equal(post(f, es, "seq=1&lang=en", "x"), 403);
	/* 415 for anything but text/plain in UTF-8. */
	snprintf(q, sizeof(q), "token=%s&seq=1&lang=en", en);
	assert_int_equal(http_full(f, "POST", "/captions/api", q,
	                           "application/x-www-form-urlencoded", "x", 1, NULL, NULL),
	                 415);
	assert_int_equal(http_full(f, "POST", "/captions/api", q, "", "x", 1, NULL, NULL), 415);
	assert_int_equal(http_full(f, "POST", "/captions/api", q, "text/plain; charset=iso-8859-1",
	                           "x", 1, NULL, NULL),
	                 415);
	assert_int_equal(
	    http_full(f, "POST", "/captions/api", q, "text/plainx", "x", 1, NULL, NULL), 415);
	/* 400 for a missing or bad seq or lang. */
	assert_int_equal(post(f, en, "lang=en", "x"), 400);
	assert_int_equal(post(f, en, "seq=&lang=en", "x"), 400);
	assert_int_equal(post(f, en, "seq=abc&lang=en", "x"), 400);
	assert_int_equal(post(f, en, "seq=-1&lang=en", "x"), 400);
	assert_int_equal(post(f, en, "seq=1", "x"), 400);
	assert_int_equal(post(f, en, "seq=1&lang=fr", "x"), 400);
	assert_int_equal(post(f, en, "seq=1&lang=", "x"), 400);
	/* 413 past max_chars, 422 for what is not UTF-8. */
	assert_int_equal(post(f, en, "seq=1&lang=en", over), 413);
	assert_int_equal(
	    http_full(f, "POST", "/captions/api", q, "text/plain", "a\xc0\xaf", 3, NULL, NULL),
	    422);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 0);
	/* 200, in the forms CART software sends. */
	assert_int_equal(
	    http_full(f, "POST", "/captions/api", q, "text/plain", "x", 1, &body, NULL), 200);
	assert_int_equal(strlen(body), 24); /* the time line alone */
	free(body);
	assert_int_equal(post(f, en, "seq=2&lang=en-US", ok), 200);
	assert_int_equal(
	    http_full(f, "POST", "/captions/api", "seq=3&lang=EN&token=x", "", "", 0, NULL, NULL),
	    403);
	snprintf(q, sizeof(q), "seq=3&lang=EN&token=%s", en);
	assert_int_equal(http_full(f, "POST", "/captions/api", q, "Text/Plain;Charset=\"UTF-8\"",
	                           "y", 1, NULL, NULL),
	                 200);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 3);
	/* 429 past the burst (3 taken so far; refusals took none). */
	for (int i = 4; i < 21; i++) {
		snprintf(q, sizeof(q), "seq=%d&lang=en", i);
		assert_int_equal(post(f, en, q, "burst"), 200);
	}
	assert_int_equal(post(f, en, "seq=21&lang=en", "too many"), 429);
	assert_int_equal(post(f, en, "seq=21&lang=en", "too many"), 429); /* not accepted: retry */
	mono_now += 1000000000ull;
	assert_int_equal(post(f, en, "seq=21&lang=en", "now"), 200);
	/* The methods and paths. */
	snprintf(q, sizeof(q), "token=%s", en);
	assert_int_equal(http_full(f, "GET", "/captions/api", q, "", NULL, 0, NULL, NULL), 405);
	assert_int_equal(
	    http_full(f, "POST", "/captions/api/seq", q, "text/plain", "x", 1, NULL, NULL), 405);
	assert_int_equal(http_full(f, "GET", "/captions/api/other", q, "", NULL, 0, NULL, NULL),
	                 404);
	assert_int_equal(http_full(f, "GET", "/captions/api/seq", q, "", NULL, 0, &body, NULL),
	                 200);
	assert_string_equal(body + 24, "21\n");
	free(body);
	assert_int_equal(http_full(f, "GET", "/captions/files/en.vtt", q, "", NULL, 0, NULL, NULL),
	                 403); /* a captioner's token is not the organiser's */
	assert_int_equal(http_full(f, "GET", "/captions/files/en.vtt", "", "", NULL, 0, NULL, NULL),
	                 401);
	snprintf(q, sizeof(q), "token=%s", st_of(f)->organiser_token);
	assert_int_equal(http_full(f, "GET", "/captions/files/fr.vtt", q, "", NULL, 0, NULL, NULL),
	                 404);
	assert_int_equal(http_full(f, "GET", "/captions/files/en.doc", q, "", NULL, 0, NULL, NULL),
	                 404);
	assert_int_equal(http_full(f, "GET", "/captions/files/en", q, "", NULL, 0, NULL, NULL),
	                 404);
	assert_int_equal(
	    http_full(f, "POST", "/captions/files/en.vtt", q, "text/plain", "x", 1, NULL, NULL),
	    405);
	struct captions_counts *n = &st_of(f)->n;
	assert_int_equal(n->no_token, 3);
	assert_int_equal(n->bad_token, 5);
	assert_int_equal(n->forbidden, 1);
	assert_int_equal(n->bad_type, 4);
	assert_int_equal(n->bad_request, 7);
	assert_int_equal(n->too_long, 1);
	assert_int_equal(n->bad_text, 1);
	assert_int_equal(n->rate_limited, 2);
	assert_int_equal(n->cues_http, 21);
	free(ok);
	free(over);
}

/* Retries, gaps and restarts of the HTTP seq (RELIABILITY row 26). */
static void http_seq(void **state)
{
	struct fake_host *f = room(state);
	const char *en = token_of(f, "cart-en");
	char q[512], *body;
	static const struct {
		const char *params;
		bool shown;
		uint64_t last; /* what /seq says after */
	} steps[] = {
	    {"seq=1&lang=en", true, 1},          {"seq=1&lang=en", false, 1}, /* a retry */
	    {"seq=2&lang=en", true, 2},          {"seq=5&lang=en", true, 5},  /* a gap of 2 */
	    {"seq=3&lang=en", false, 5},         {"seq=5&lang=en", false, 5},
	    {"seq=3&lang=en&reset=1", true, 3},  /* the software restarted */
	    {"seq=3&lang=en&reset=1", false, 3}, /* ... and retried that */
	    {"seq=4&lang=en", true, 4},          {"seq=0&lang=en", true, 0}, /* starts over */
	    {"seq=0&lang=en", false, 0},         {"seq=1&lang=en", true, 1},
	    {"seq=1&lang=en&reset=0", false, 1},
	};

	choose(f, LIA, "en");
	snprintf(q, sizeof(q), "token=%s", en);
	assert_int_equal(http_full(f, "GET", "/captions/api/seq", q, "", NULL, 0, &body, NULL),
	                 200);
	assert_string_equal(body + 24, "0\n");
	free(body);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t before = fake_count(f, LIA, "captions.cue");
		char text[32];

		snprintf(text, sizeof(text), "step %zu", i);
		assert_int_equal(post(f, en, steps[i].params, text), 200);
		assert_int_equal(fake_count(f, LIA, "captions.cue"), before + steps[i].shown);
		if (steps[i].shown)
			assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"),
			                    text);
		assert_int_equal(
		    http_full(f, "GET", "/captions/api/seq", q, "", NULL, 0, &body, NULL), 200);
		assert_int_equal(strtoull(body + 24, NULL, 10), steps[i].last);
		free(body);
	}
	assert_int_equal(st_of(f)->n.duplicates, 6);
	assert_int_equal(st_of(f)->n.gaps, 2);
	assert_int_equal(st_of(f)->n.restarts, 2);

	/* The verdicts themselves, including the first seq after a relay restart. */
	struct seq_state s = {0};
	uint64_t gap;
	assert_int_equal(seq_judge(&s, 57, false, &gap), SEQ_NEW);
	assert_int_equal(gap, 0);
	seq_accept(&s, 57);
	assert_int_equal(seq_judge(&s, 60, false, &gap), SEQ_NEW);
	assert_int_equal(gap, 2);
	assert_int_equal(seq_judge(&s, 57, true, &gap), SEQ_DUPLICATE);
	assert_int_equal(seq_judge(&s, 56, true, &gap), SEQ_RESTART);
	assert_int_equal(seq_judge(&s, 56, false, &gap), SEQ_DUPLICATE);
	assert_int_equal(seq_judge(&s, 0, false, &gap), SEQ_RESTART);
}

static void http_cue_shapes(void **state)
{
	struct fake_host *f = room(state);
	const char *en = token_of(f, "cart-en");
	const json_t *m;

	choose(f, LIA, "en");
	choose(f, TECH, "en");
	assert_int_equal(post(f, en, "seq=1&lang=en",
	                      "\xef\xbb\xbf"
	                      "First line\r\nsecond line\r\n"),
	                 200);
	m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "text"), "First line\nsecond line");
	assert_true(json_is_true(json_object_get(m, "final")));
	assert_string_equal(str_of(m, "lang"), "en");
	assert_int_equal(int_of(m, "seq"), 1);
	assert_string_equal(str_of(m, "id"), "en.1");
	assert_int_equal(int_of(m, "start"), (json_int_t)f->now);
	assert_int_equal(int_of(m, "end"), (json_int_t)(f->now + 72000)); /* at least 1.5 s */
	assert_null(json_object_get(m, "from"));
	assert_string_equal(str_of(fake_last(f, TECH, "captions.cue"), "from"), "cart-en");
	/* A caption that is empty once cleaned takes its seq and shows nothing. */
	assert_int_equal(post(f, en, "seq=2&lang=en", " \r\n\x01"), 200);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
	assert_int_equal(st_of(f)->n.empty, 1);
	assert_int_equal(post(f, en, "seq=2&lang=en", "retry"), 200);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 1);
}

/* An optional first line is the caption's time on the server's clock (UTC). */
static void http_timestamp(void **state)
{
	struct fake_host *f = room(state);
	const char *en = token_of(f, "cart-en");
	char q[512], *body;

	choose(f, LIA, "en");
	snprintf(q, sizeof(q), "token=%s&seq=1&lang=en", en);
	assert_int_equal(http_full(f, "POST", "/captions/api", q, "text/plain",
	                           "2025-03-01T12:00:08.500\nHello", 29, &body, NULL),
	                 200);
	assert_string_equal(body, "2025-03-01T12:00:10.000\n"); /* the server's time */
	free(body);
	const json_t *m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "text"), "Hello");
	assert_int_equal(int_of(m, "start"), (json_int_t)(f->now - 72000)); /* 1.5 s ago */

	assert_int_equal(post(f, en, "seq=2&lang=en", "2025-03-01T12:00:09Z\r\nWith Z"), 200);
	m = fake_last(f, LIA, "captions.cue");
	assert_string_equal(str_of(m, "text"), "With Z");
	assert_int_equal(int_of(m, "start"), (json_int_t)(f->now - SECOND));
	/* A clock minutes off is not this caption's time; a future one is now. */
	assert_int_equal(post(f, en, "seq=3&lang=en", "2020-01-01T00:00:00.000\nOld clock"), 200);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "start"), (json_int_t)f->now);
	assert_int_equal(post(f, en, "seq=4&lang=en", "2025-03-01T12:00:15.000\nAhead"), 200);
	assert_int_equal(int_of(fake_last(f, LIA, "captions.cue"), "start"), (json_int_t)f->now);
	assert_int_equal(st_of(f)->n.bad_timestamps, 1);
	/* Only a whole line of timestamp is one. */
	assert_int_equal(post(f, en, "seq=5&lang=en", "2025-03-01T12:00:09.000 said\nx"), 200);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"),
	                    "2025-03-01T12:00:09.000 said\nx");
	assert_int_equal(post(f, en, "seq=6&lang=en", "2025-13-01T12:00:09.000\nx"), 200);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"),
	                    "2025-13-01T12:00:09.000\nx");
}

/* ---- the archive ---- */

/* The cues of the archive tests, as a captioner sends them: hostile ones included. */
static void send_archive_cues(struct fake_host *f)
{
	static const struct {
		uint64_t start, end;
		const char *text;
	} cues[] = {
	    {2 * SECOND, 4 * SECOND, "Hello --> world"},
	    {3 * SECOND, 5 * SECOND, "one\n\n\ntwo\n   \nthree"},
	    {1 * SECOND, 2 * SECOND, "<b>bold</b> & --->"}, /* starts before: moved to 3 s */
	    {3723 * SECOND + 4800, 3725 * SECOND, "1\n00:00:01,000 --> 00:00:02,000\nfake"},
	};

	for (size_t i = 0; i < sizeof(cues) / sizeof(cues[0]); i++) {
		assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I, s:I}", "lang",
		                              "en", "text", "partial", "final", 0, "start",
		                              (json_int_t)cues[i].start, "end",
		                              (json_int_t)cues[i].end),
		                 0);
		assert_int_equal(fake_message(f, CART, "cue", "{s:s, s:s, s:b, s:I, s:I}", "lang",
		                              "en", "text", cues[i].text, "final", 1, "start",
		                              (json_int_t)cues[i].start, "end",
		                              (json_int_t)cues[i].end),
		                 0);
	}
	assert_int_equal(cue(f, CART, "en", " ", true), 0); /* nothing to archive */
}

static const char expect_vtt[] = "WEBVTT\n\n"
                                 "00:00:02.000 --> 00:00:04.000\n"
                                 "Hello --&gt; world\n\n"
                                 "00:00:03.000 --> 00:00:05.000\n"
                                 "one\ntwo\nthree\n\n"
                                 "00:00:03.000 --> 00:00:04.000\n"
                                 "&lt;b&gt;bold&lt;/b&gt; &amp; ---&gt;\n\n"
                                 "01:02:03.100 --> 01:02:05.000\n"
                                 "1\n00:00:01,000 --&gt; 00:00:02,000\nfake\n\n";
static const char expect_srt[] = "1\n00:00:02,000 --> 00:00:04,000\n"
                                 "Hello -> world\n\n"
                                 "2\n00:00:03,000 --> 00:00:05,000\n"
                                 "one\ntwo\nthree\n\n"
                                 "3\n00:00:03,000 --> 00:00:04,000\n"
                                 "<b>bold</b> & ->\n\n"
                                 "4\n01:02:03,100 --> 01:02:05,000\n"
                                 "1\n00:00:01,000 -> 00:00:02,000\nfake\n\n";
static const char expect_txt[] = "[00:00:02] Hello --> world\n"
                                 "[00:00:03] one two three\n"
                                 "[00:00:03] <b>bold</b> & --->\n"
                                 "[01:02:03] 1 00:00:01,000 --> 00:00:02,000 fake\n";

static void archive_files(void **state)
{
	struct t *t = *state;
	struct fake_host *f = room(state);
	char path[600], q[512], ctype[64], *s;
	struct archive_stats a;

	send_archive_cues(f);
	archive_drain(st_of(f)->archive);
	archive_get_stats(st_of(f)->archive, &a);
	assert_int_equal(a.cues, 4);
	assert_int_equal(a.clamped, 1);
	assert_int_equal(a.write_errors, 0);
	static const char *const names[] = {"en.vtt", "en.srt", "en.txt"};
	static const char *const expect[] = {expect_vtt, expect_srt, expect_txt};
	static const char *const types[] = {"text/vtt; charset=utf-8",
	                                    "application/x-subrip; charset=utf-8",
	                                    "text/plain; charset=utf-8"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->archive_dir, names[i]);
		s = read_all(path);
		assert_non_null(s);
		assert_string_equal(s, expect[i]);
		free(s);
		/* The download is the same file. */
		snprintf(path, sizeof(path), "/captions/files/%s", names[i]);
		snprintf(q, sizeof(q), "token=%s", st_of(f)->organiser_token);
		assert_int_equal(http_full(f, "GET", path, q, "", NULL, 0, &s, ctype), 200);
		assert_string_equal(s, expect[i]);
		assert_string_equal(ctype, types[i]);
		free(s);
	}
	/* No cue in es yet: no files, and an empty (valid) download. */
	snprintf(path, sizeof(path), "%s/es.vtt", t->archive_dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(http_full(f, "GET", "/captions/files/es.vtt", q, "", NULL, 0, &s, NULL),
	                 200);
	assert_string_equal(s, "WEBVTT\n\n");
	free(s);
}

static void archive_moves_old_files_aside(void **state)
{
	struct t *t = *state;
	struct fake_host *f = &t->f;
	char path[600], *s;
	FILE *fp;
	int found = 0;

	mkdir(t->archive_dir, 0755);
	snprintf(path, sizeof(path), "%s/en.vtt", t->archive_dir);
	fp = fopen(path, "w");
	fputs("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfrom before\n\n", fp);
	fclose(fp);
	room(state);
	cue(f, CART, "en", "new run", true);
	archive_drain(st_of(f)->archive);
	s = read_all(path);
	assert_string_equal(s, "WEBVTT\n\n00:00:10.000 --> 00:00:11.500\nnew run\n\n");
	free(s);
	DIR *d = opendir(t->archive_dir);
	for (struct dirent *e; (e = readdir(d));) {
		if (strncmp(e->d_name, "en-", 3) || !strstr(e->d_name, ".vtt"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->archive_dir, e->d_name);
		s = read_all(path);
		assert_non_null(strstr(s, "from before"));
		free(s);
		found++;
	}
	closedir(d);
	assert_int_equal(found, 1);
}

/* A full disk stops that file, once, and nothing else. */
static void archive_disk_full(void **state)
{
	struct t *t = *state;
	struct fake_host *f = &t->f;
	char path[600], q[512], *s;
	struct archive_stats a;

	mkdir(t->archive_dir, 0755);
	snprintf(path, sizeof(path), "%s/en.vtt", t->archive_dir);
	assert_int_equal(symlink("/dev/full", path), 0);
	room(state);
	choose(f, LIA, "en");
	send_archive_cues(f);
	cue(f, CART, "es", "sigue", true);
	archive_drain(st_of(f)->archive);
	archive_get_stats(st_of(f)->archive, &a);
	assert_int_equal(a.write_errors, 1);
	assert_int_equal(f->n_log_errors, 1);
	snprintf(q, sizeof(q), "archive: writing %s/en.vtt failed (No space left on device)",
	         t->archive_dir);
	assert_int_equal(fake_log_count(f, q), 1);
	/* The other files of en, and es, are whole; listeners got everything. */
	snprintf(path, sizeof(path), "%s/en.srt", t->archive_dir);
	s = read_all(path);
	assert_string_equal(s, expect_srt);
	free(s);
	snprintf(path, sizeof(path), "%s/es.txt", t->archive_dir);
	s = read_all(path);
	assert_string_equal(s, "[00:00:10] sigue\n");
	free(s);
	assert_int_equal(fake_count(f, LIA, "captions.cue"), 9);
	/* The download still has it all: it comes from memory. */
	snprintf(q, sizeof(q), "token=%s", st_of(f)->organiser_token);
	assert_int_equal(http_full(f, "GET", "/captions/files/en.vtt", q, "", NULL, 0, &s, NULL),
	                 200);
	assert_string_equal(s, expect_vtt);
	free(s);
}

static void archive_queue_full(void **state)
{
	struct t *t = *state;
	struct fake_host *f = &t->f;
	struct archive_stats a;

	fake_host_config(f, "burst", "1000");
	room(state);
	archive_hold(st_of(f)->archive, true);
	for (int i = 0; i < ARCHIVE_QUEUE + 10; i++)
		assert_int_equal(cue(f, CART, "en", "queued", true), 0);
	assert_int_equal(st_of(f)->n.archive_refused, 10);
	archive_hold(st_of(f)->archive, false);
	archive_drain(st_of(f)->archive);
	archive_get_stats(st_of(f)->archive, &a);
	assert_int_equal(a.cues, ARCHIVE_QUEUE);
	assert_int_equal(a.dropped, 10);
}

static void archive_formats(void **state)
{
	struct strbuf b = {0};
	char t[32];

	(void)state;
	archive_format_time(t, 0, '.');
	assert_string_equal(t, "00:00:00.000");
	archive_format_time(t, 47, '.');
	assert_string_equal(t, "00:00:00.000");
	archive_format_time(t, 48, ',');
	assert_string_equal(t, "00:00:00,001");
	archive_format_time(t, (99 * 3600 + 59 * 60 + 59) * SECOND + 999 * 48, '.');
	assert_string_equal(t, "99:59:59.999");
	archive_format_time(t, 100 * 3600 * SECOND, '.');
	assert_string_equal(t, "100:00:00.000");
	/* Nothing visible: nothing written. */
	assert_false(archive_format_cue(&b, ARCHIVE_VTT, 1, 0, 1, " \n \n", 4));
	assert_int_equal(b.len, 0);
	/* Dashes: "-->" in any run never survives in SubRip, and short runs stay. */
	assert_true(archive_format_cue(&b, ARCHIVE_SRT, 7, 0, 48, "a-b --c ---->d -> ->>--", 23));
	assert_string_equal(b.s, "7\n00:00:00,000 --> 00:00:00,001\na-b --c ->d -> ->>--\n\n");
	strbuf_fini(&b);
	assert_true(archive_format_cue(&b, ARCHIVE_TXT, 1, 0, 48, "  a  \n\n b ", 10));
	assert_string_equal(b.s, "[00:00:00] a b\n");
	strbuf_fini(&b);
}

static void destroy_logs_counts(void **state)
{
	struct fake_host *f = room(state);

	cue(f, LEO, "en", "x", true);
	post(f, "nope", "seq=1&lang=en", "x");
	f->plugin->destroy(f->state);
	f->started = false;
	assert_int_equal(fake_log_count(f, "1 forbidden"), 1);
	assert_int_equal(fake_log_count(f, "1 wrong token"), 1);
	assert_int_equal(fake_log_count(f, "cart-en: 0 captions"), 1);
	assert_int_equal(fake_log_count(f, "archive: 0 cues written"), 1);
}

/* ---- configuration ---- */

static void config_languages(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;

	fake_host_config(f, "languages", " es , en, fr, EN ");
	fake_host_config(f, "captioners", "desk:es:en-US:fr, asr_1:fr");
	room(state);
	assert_int_equal(st_of(f)->n_langs, 3);
	assert_string_equal(st_of(f)->langs[2].tag, "fr");
	assert_int_equal(st_of(f)->n_http, 2);
	assert_true(st_of(f)->http[0].may[0] && st_of(f)->http[0].may[1] &&
	            st_of(f)->http[0].may[2]);
	assert_true(!st_of(f)->http[1].may[0] && st_of(f)->http[1].may[2]);
	assert_int_equal(fake_log_count(f, "caption URL for desk (es, en, fr)"), 1);
	choose(f, LIA, "fr-CA");
	assert_int_equal(post(f, token_of(f, "asr_1"), "seq=1&lang=fr", "Bonjour"), 200);
	assert_string_equal(str_of(fake_last(f, LIA, "captions.cue"), "text"), "Bonjour");
}

static void config_no_captioners(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;

	fake_host_config(f, "captioners", "");
	fake_host_config(f, "archive_dir", "");
	room(state);
	assert_int_equal(st_of(f)->n_http, 0);
	choose(f, LIA, "en");
	assert_int_equal(cue(f, CART, "en", "memory only", true), 0);
	archive_drain(st_of(f)->archive);
	char q[512], *s;
	snprintf(q, sizeof(q), "token=%s", st_of(f)->organiser_token);
	assert_int_equal(http_full(f, "GET", "/captions/files/en.txt", q, "", NULL, 0, &s, NULL),
	                 200);
	assert_string_equal(s, "[00:00:10] memory only\n");
	free(s);
}

/* Each bad value refuses the plugin, in one error line. */
static void config_errors(void **state)
{
	static const char *const bad[][2] = {
	    {"languages", "e n"},
	    {"languages", "es,-en"},
	    {"captioners", "x:fr"},
	    {"captioners", "bad name:es"},
	    {"captioners", "noLang"},
	    {"captioners", "a:es, a:en"},
	    {"token.cart-en", "short"},
	    {"token.cart-en", "has spaces in it, 0123456789"},
	    {"organiser_token", "0123456789abcdef0123456789abcdef&x=1"},
	    {"max_chars", "0"},
	    {"max_chars", "ten"},
	    {"rate", "0"},
	    {"burst", "0.5"},
	    {"history", "1001"},
	    {"history", "2.5"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_host *f = &((struct t *)*state)->f;

		fake_host_fini(f);
		fake_host_init(f, puente_plugin_entry());
		fake_host_config(f, bad[i][0], bad[i][1]);
		if (fake_host_start(f) != -EINVAL || f->n_log_errors != 1)
			fail_msg("%s = %s: not refused in one line", bad[i][0], bad[i][1]);
	}
}

static void config_room_without_languages(void **state)
{
	struct fake_host *f = &((struct t *)*state)->f;
	static const char *const names[] = {"floor", "sala"};
	static const char *const langs[] = {"", ""};

	fake_host_channels(f, names, langs, 2);
	assert_int_equal(fake_host_start(f), -EINVAL);
	assert_int_equal(f->n_log_errors, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(starts_with_defaults),
	    T(token_compare),
	    T(fixed_tokens),
	    T(routing_per_language),
	    T(seq_per_language),
	    T(history_on_choose),
	    T(history_size_from_config),
	    T(history_bounded),
	    T(partial_then_final_same_id),
	    T(cue_times),
	    T(role_refusals),
	    T(grant_limits_languages),
	    T(grant_old_host_unrestricted),
	    T(attendance_notes_choices),
	    T(bad_fields),
	    T(too_long_at_5000),
	    T(bad_text_over_ws),
	    T(control_characters_stripped),
	    T(rate_limited),
	    T(utf8_validation),
	    T(text_counting_and_cutting),
	    T(http_status_codes),
	    T(http_seq),
	    T(http_cue_shapes),
	    T(http_timestamp),
	    T(archive_files),
	    T(archive_moves_old_files_aside),
	    T(archive_disk_full),
	    T(archive_queue_full),
	    T(archive_formats),
	    T(destroy_logs_counts),
	    T(config_languages),
	    T(config_no_captioners),
	    T(config_errors),
	    T(config_room_without_languages),
	};

	return cmocka_run_group_tests_name("plugin_captions", tests, NULL, NULL);
}
