/*
 * Reading the organiser's CSV with libcsv: a spreadsheet's export, so a
 * UTF-8 BOM, CRLF line ends, quoted fields with commas or newlines, extra
 * columns and blank rows are all normal. Each row is checked completely,
 * and every bad row is reported with the line it starts on.
 */
#include "token/people.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/toolkit.h"
#include "puente/access.h"
#include "token/when.h"

#define MAX_FILE (64 << 20) /* far beyond any guest list */

enum column {
	COL_EMAIL,
	COL_NAME,
	COL_ROLE,
	COL_LANG,
	COL_COUNTRY,
	COL_SECTOR,
	COL_GENDER,
	COL_BOOTHS,
	COL_LANGUAGES,
	COL_FROM,
	COL_UNTIL,
	N_COLUMNS
};

static const struct {
	const char *name, *alias;
	bool required;
} columns[N_COLUMNS] = {
    [COL_EMAIL] = {"email", "e-mail", true},
    [COL_NAME] = {"name", NULL, true},
    [COL_ROLE] = {"role", NULL, true},
    [COL_LANG] = {"lang", "language", true},
    [COL_COUNTRY] = {"country", NULL, false},
    [COL_SECTOR] = {"sector", NULL, false},
    [COL_GENDER] = {"gender", NULL, false},
    [COL_BOOTHS] = {"booths", NULL, false},
    [COL_LANGUAGES] = {"languages", NULL, false},
    [COL_FROM] = {"valid_from", NULL, false},
    [COL_UNTIL] = {"valid_until", NULL, false},
};

struct reader {
	const char *path;
	int64_t default_from, default_until;
	long line;     /* line of the byte being fed */
	long row_line; /* line the current row started on */
	bool row_start;
	char **fields;
	size_t nf, capf;
	bool nul; /* a field of this row holds a NUL byte */
	bool header_done, header_bad;
	int col[N_COLUMNS]; /* field index of each column, -1 when absent */
	size_t ncols;
	bool oom;
	int problems;
	struct people *out;
};

static void problem(struct reader *r, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct reader *r, long line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pcl_warn("%s: line %ld: %s", r->path, line, what);
	r->problems++;
}

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s;
		int n = c < 0x80                ? 0
		        : c >= 0xc2 && c < 0xe0 ? 1
		        : c >= 0xe0 && c < 0xf0 ? 2
		        : c >= 0xf0 && c < 0xf5 ? 3
		                                : -1;
		unsigned cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;

		if (n < 0)
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		/* Overlong forms, surrogates and code points past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* A cell's line breaks and tabs become single spaces (Alt+Enter in a spreadsheet). */
static void flatten(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		char c = *p == '\r' || *p == '\n' || *p == '\t' ? ' ' : *p;

		if (c != ' ' || (w > s && w[-1] != ' '))
			*w++ = c;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The row's field for a column, "" when the column or the field is absent. */
static const char *field(const struct reader *r, enum column c)
{
	int i = r->col[c];

	return i >= 0 && (size_t)i < r->nf ? r->fields[i] : "";
}

static char *dup_or_null(struct reader *r, const char *s)
{
	char *d;

	if (!*s)
		return NULL;
	d = strdup(s);
	r->oom |= !d;
	return d;
}

/* "es; en, fr" -> "es,en,fr"; NULL when empty. check (or NULL) judges each item, setting *bad. */
static char *join_list(struct reader *r, const char *s, bool (*check)(const char *), bool *bad)
{
	char *copy = strdup(s), *out = malloc(strlen(s) + 1), *save = NULL;
	size_t n = 0;

	if (!copy || !out) {
		r->oom = true;
		free(copy);
		free(out);
		return NULL;
	}
	for (char *item = strtok_r(copy, ";, \t", &save); item;
	     item = strtok_r(NULL, ";, \t", &save)) {
		if (check && !check(item))
			*bad = true;
		if (n)
			out[n++] = ',';
		memcpy(out + n, item, strlen(item));
		n += strlen(item);
	}
	out[n] = '\0';
	free(copy);
	if (!n) {
		free(out);
		return NULL;
	}
	return out;
}

static void header(struct reader *r)
{
	for (int c = 0; c < N_COLUMNS; c++)
		r->col[c] = -1;
	r->ncols = r->nf;
	for (size_t i = 0; i < r->nf; i++) {
		const char *f = r->fields[i];
		int c = 0;

		while (c < N_COLUMNS && strcasecmp(f, columns[c].name) &&
		       !(columns[c].alias && !strcasecmp(f, columns[c].alias)))
			c++;
		if (c == N_COLUMNS) {
			if (*f)
				pcl_warn("%s: ignoring column '%.60s'", r->path, f);
		} else if (r->col[c] >= 0) {
			problem(r, r->row_line, "two '%s' columns", columns[c].name);
		} else {
			r->col[c] = (int)i;
		}
	}
	for (int c = 0; c < N_COLUMNS; c++)
		if (columns[c].required && r->col[c] < 0)
			problem(r, r->row_line,
			        "no '%s' column (the header row needs email, name, role and lang)",
			        columns[c].name);
	r->header_bad = r->problems > 0;
}

static bool row_time(struct reader *r, enum column c, int64_t fallback, int64_t *t)
{
	const char *s = field(r, c);

	*t = fallback;
	if (!*s)
		return true;
	if (when_parse(s, t))
		return true;
	problem(r, r->row_line, "%s '%.40s' is not a time (use %s)", columns[c].name, s,
	        WHEN_FORMATS);
	return false;
}

static bool lang_ok(const char *s)
{
	return pcl_valid_lang(s);
}

/* Checks one data row; appends it to out when it is good. */
static void person(struct reader *r)
{
	struct person p = {.line = r->row_line};
	const char *email = field(r, COL_EMAIL), *role = field(r, COL_ROLE);
	const char *lang = field(r, COL_LANG);
	bool bad_langs = false;

	if (r->nf > r->ncols) {
		problem(r, p.line,
		        "%zu fields but the header has %zu (put quotes around fields "
		        "that contain commas)",
		        r->nf, r->ncols);
		return;
	}
	for (size_t i = 0; i < r->nf; i++) {
		if (r->nul || !utf8_valid((const unsigned char *)r->fields[i])) {
			problem(r, p.line, "not valid UTF-8 text (save the file as CSV UTF-8)");
			return;
		}
	}
	for (int c = 0; c < N_COLUMNS; c++) {
		if (r->col[c] < 0 || (size_t)r->col[c] >= r->nf)
			continue;
		flatten(r->fields[r->col[c]]);
		if (has_control(r->fields[r->col[c]])) {
			problem(r, p.line, "%s holds a control character", columns[c].name);
			return;
		}
	}
	if (!*email)
		problem(r, p.line, "no e-mail address");
	else if (!strchr(email, '@') || strpbrk(email, " \t"))
		problem(r, p.line, "'%.80s' is not an e-mail address", email);
	if (!*field(r, COL_NAME))
		problem(r, p.line, "no name");
	if (puente_role_from_name(role) < 0)
		problem(r, p.line,
		        "unknown role '%.40s' (use listener, interpreter, captioner, technician or "
		        "organiser)",
		        role);
	if (!*lang)
		problem(r, p.line, "no language (lang)");
	else if (!pcl_valid_lang(lang))
		problem(r, p.line, "'%.40s' is not a language tag such as es or en", lang);
	for (size_t i = 0; i < r->out->n; i++)
		if (*email && !strcasecmp(r->out->v[i].email, email))
			problem(r, p.line, "e-mail %.80s is already on line %ld", email,
			        r->out->v[i].line);
	p.has_from = *field(r, COL_FROM) || r->default_from;
	p.has_until = *field(r, COL_UNTIL) || r->default_until;
	if (row_time(r, COL_FROM, r->default_from, &p.not_before) &&
	    row_time(r, COL_UNTIL, r->default_until, &p.not_after) && p.not_before && p.not_after &&
	    p.not_after <= p.not_before)
		problem(r, p.line, "valid_until is not after valid_from");
	p.languages = join_list(r, field(r, COL_LANGUAGES), lang_ok, &bad_langs);
	if (bad_langs)
		problem(r, p.line, "languages: '%.60s' is not a list of language tags",
		        field(r, COL_LANGUAGES));
	p.booths = join_list(r, field(r, COL_BOOTHS), NULL, NULL);
	p.email = strdup(email);
	p.name = strdup(field(r, COL_NAME));
	p.role = strdup(puente_role_from_name(role) >= 0
	                    ? puente_role_to_name(puente_role_from_name(role))
	                    : role);
	p.lang = strdup(lang);
	p.country = dup_or_null(r, field(r, COL_COUNTRY));
	p.sector = dup_or_null(r, field(r, COL_SECTOR));
	p.gender = dup_or_null(r, field(r, COL_GENDER));
	r->oom |= !p.email || !p.name || !p.role || !p.lang;
	if (r->out->n == r->out->cap && !r->oom) {
		size_t cap = r->out->cap ? r->out->cap * 2 : 64;
		struct person *v = realloc(r->out->v, cap * sizeof(*v));

		r->oom |= !v;
		if (v) {
			r->out->v = v;
			r->out->cap = cap;
		}
	}
	/* Bad rows are kept too, so later duplicates still name their first line. */
	if (!r->oom)
		r->out->v[r->out->n++] = p;
}

static void on_field(void *data, size_t len, void *arg)
{
	struct reader *r = arg;
	char *f;

	if (r->nf == r->capf) {
		size_t cap = r->capf ? r->capf * 2 : 16;
		char **v = realloc(r->fields, cap * sizeof(*v));

		if (!v) {
			r->oom = true;
			return;
		}
		r->fields = v;
		r->capf = cap;
	}
	f = malloc(len + 1);
	if (!f) {
		r->oom = true;
		return;
	}
	if (len)
		memcpy(f, data, len);
	f[len] = '\0';
	r->nul |= len && memchr(data, '\0', len);
	r->fields[r->nf++] = f;
}

static void on_row(int c, void *arg)
{
	struct reader *r = arg;
	bool empty = true;

	(void)c;
	for (size_t i = 0; i < r->nf; i++)
		empty &= !r->fields[i][0];
	if (!empty && !r->header_done) {
		header(r);
		r->header_done = true;
	} else if (!empty && !r->header_bad) {
		person(r);
	}
	for (size_t i = 0; i < r->nf; i++)
		free(r->fields[i]);
	r->nf = 0;
	r->nul = false;
	r->row_start = true;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *b = cap < MAX_FILE ? realloc(buf, cap ? cap * 2 : 65536) : NULL;

			if (!b) {
				free(buf);
				fclose(f);
				errno = cap < MAX_FILE ? ENOMEM : EFBIG;
				return NULL;
			}
			buf = b;
			cap = cap ? cap * 2 : 65536;
		}
		size_t got = fread(buf + *len, 1, cap - *len, f);

		*len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	return buf;
}

bool people_read(const char *path, int64_t default_from, int64_t default_until, struct people *out)
{
	struct reader r = {.path = path,
	                   .default_from = default_from,
	                   .default_until = default_until,
	                   .line = 1,
	                   .row_start = true,
	                   .out = out};
	struct csv_parser p;
	size_t len, i = 0;
	char *text = slurp(path, &len);

	memset(out, 0, sizeof(*out));
	if (!text) {
		pcl_warn("%s: %s", path, strerror(errno));
		return false;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(text);
		pcl_warn("out of memory");
		return false;
	}
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		i = 3;
	/* A byte at a time, to know the line each row starts on. */
	for (; i < len && !r.oom; i++) {
		if (r.row_start && text[i] != '\r' && text[i] != '\n') {
			r.row_line = r.line;
			r.row_start = false;
		}
		if (csv_parse(&p, text + i, 1, on_field, on_row, &r) != 1) {
			problem(&r, r.row_line,
			        "a quoted field is not closed properly (a field with quotes must "
			        "start and end with one, and double the quotes inside)");
			break;
		}
		r.line += text[i] == '\n';
	}
	if (i == len && csv_fini(&p, on_field, on_row, &r) != 0)
		problem(&r, r.row_line, "a quoted field is not closed at the end of the file");
	csv_free(&p);
	for (size_t k = 0; k < r.nf; k++)
		free(r.fields[k]);
	free(r.fields);
	free(text);
	if (r.oom)
		pcl_warn("out of memory reading %s", path);
	else if (!r.header_done)
		pcl_warn("%s: empty (the first row must name the columns: email,name,role,lang)",
		         path);
	if (r.oom || !r.header_done || r.problems) {
		people_free(out);
		return false;
	}
	return true;
}

void people_free(struct people *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct person *x = &p->v[i];

		free(x->email);
		free(x->name);
		free(x->role);
		free(x->lang);
		free(x->country);
		free(x->sector);
		free(x->gender);
		free(x->booths);
		free(x->languages);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}
