/*
 * The chart organisers paste into a slide: horizontal bars, one group per
 * attribute, one scale for all (every bar counts people of the same event).
 * Store text goes in as escaped XML text only, never as markup or attributes.
 */
#include "report/svg.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define WIDTH      720
#define LABEL_X    250 /* labels end here (right-aligned) */
#define BAR_X      260
#define BAR_MAX    380 /* the longest bar; its count follows it */
#define ROW        22
#define BAR_H      16
#define TOP        56 /* room for the title */
#define GROUP_HEAD 30
#define GROUP_GAP  16
#define LABEL_MAX                                                                                  \
	34 /* characters; longer labels end in an ellipsis (full text in the bar's title) */

static const struct group {
	const char *id, *heading;
	size_t offset;
} groups[] = {
    {"country", "Participants by country", offsetof(struct rpt_figures, countries)},
    {"sector", "Participants by sector", offsetof(struct rpt_figures, sectors)},
    {"gender", "Participants by gender", offsetof(struct rpt_figures, genders)},
};

#define N_GROUPS (sizeof groups / sizeof groups[0])

static const struct rpt_tally *tally_of(const struct rpt_figures *f, const struct group *g)
{
	return (const struct rpt_tally *)((const char *)f + g->offset);
}

/*
 * Text content, escaped; at most max characters (0: all) then an ellipsis.
 * Control characters and the non-characters U+FFFE/U+FFFF are not allowed in
 * XML at all: they become spaces and '?'.
 */
static void text(FILE *f, const char *s, size_t max)
{
	size_t chars = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) != 0x80 && max && ++chars > max) {
			fputs("\xe2\x80\xa6", f);
			return;
		}
		if (*p < 0x20 || *p == 0x7f)
			fputc(' ', f);
		else if (*p == '&')
			fputs("&amp;", f);
		else if (*p == '<')
			fputs("&lt;", f);
		else if (*p == '>')
			fputs("&gt;", f);
		else if (*p == '"')
			fputs("&quot;", f);
		else if (*p == '\'')
			fputs("&apos;", f);
		else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
			fputc('?', f);
			p += 2;
		} else
			fputc(*p, f);
	}
}

static int64_t largest(const struct rpt_figures *e)
{
	int64_t m = 1;

	for (size_t g = 0; g < N_GROUPS; g++) {
		const struct rpt_tally *t = tally_of(e, &groups[g]);

		for (size_t i = 0; i < t->n; i++)
			if (t->v[i].n > m)
				m = t->v[i].n;
	}
	return m;
}

static void group(FILE *f, const struct group *g, const struct rpt_tally *t, int64_t max, int *y)
{
	fprintf(f, "<g class=\"chart\" id=\"%s\">\n", g->id);
	fprintf(f, "<text class=\"heading\" x=\"10\" y=\"%d\" font-weight=\"bold\">%s</text>\n",
	        *y + 18, g->heading);
	*y += GROUP_HEAD;
	if (!t->n) {
		fprintf(f, "<text class=\"none\" x=\"%d\" y=\"%d\">none</text>\n", BAR_X, *y + 13);
		*y += ROW;
	}
	for (size_t i = 0; i < t->n; i++, *y += ROW) {
		int w = (int)(t->v[i].n * BAR_MAX / max);

		fputs("<g class=\"row\">", f);
		fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_X,
		        *y + 13);
		text(f, t->v[i].key, LABEL_MAX);
		/* "not given" in grey: no answer is not a category like the others. */
		fprintf(f,
		        "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		        "fill=\"%s\"><title>",
		        BAR_X, *y, w > 0 ? w : 1, BAR_H,
		        strcmp(t->v[i].key, RPT_NOT_GIVEN) ? "#3b6ea5" : "#9aa5b1");
		text(f, t->v[i].key, 0);
		fprintf(f, ": %" PRId64 "</title></rect>", t->v[i].n);
		fprintf(f, "<text class=\"count\" x=\"%d\" y=\"%d\">%" PRId64 "</text></g>\n",
		        BAR_X + (w > 0 ? w : 1) + 6, *y + 13, t->v[i].n);
	}
	fputs("</g>\n", f);
	*y += GROUP_GAP;
}

int rpt_svg_write(FILE *f, const char *title, const struct rpt_figures *event)
{
	int64_t max = largest(event);
	int height = TOP, y = TOP;

	for (size_t g = 0; g < N_GROUPS; g++) {
		size_t rows = tally_of(event, &groups[g])->n;

		height += GROUP_HEAD + (int)(rows ? rows : 1) * ROW + GROUP_GAP;
	}
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
	        "<text class=\"title\" x=\"10\" y=\"26\" font-size=\"18\" font-weight=\"bold\">",
	        WIDTH, height, WIDTH, height);
	fputs("Participants", f);
	if (title) {
		fputs(": ", f);
		text(f, title, 0);
	}
	fprintf(f, "</text>\n<text class=\"total\" x=\"10\" y=\"46\">%zu participants</text>\n",
	        event->n_attendees);
	for (size_t g = 0; g < N_GROUPS; g++)
		group(f, &groups[g], tally_of(event, &groups[g]), max, &y);
	fputs("</svg>\n", f);
	return ferror(f) ? -1 : 0;
}
