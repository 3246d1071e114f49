/*
 * Writes caption archives for parse_back.mjs: runs the plugin on the fake
 * relay with its archive in <out>/archive, sends hostile and ordinary cues
 * over the WebSocket and the HTTP API, stops it (which writes everything), and
 * writes <out>/expected.json: per language, each cue's start and end in ms and
 * its text as a WebVTT parser and a SubRip parser must read it back. The
 * expectations are written out by hand here, not computed by the writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions.h"
#include "fake_host.h"

const struct puente_plugin *puente_plugin_entry(void);

#define MS 48ull /* samples */
/* Ñandú 😀, then RTL inside a right-to-left override and its pop. */
#define UNICODE                                                                                    \
	"\xc3\x91"                                                                                 \
	"and\xc3\xba \xf0\x9f\x98\x80 \xe2\x80\xaeRTL\xe2\x80\xac ok"

enum { CART = 1 };

static const struct {
	const char *lang;
	uint64_t start_ms, end_ms; /* as sent */
	const char *text;
	/* as the files must give them back */
	uint64_t want_start, want_end;
	const char *vtt, *srt;
} cues[] = {
    {"en", 500, 2000, "Hello, world.", 500, 2000, "Hello, world.", "Hello, world."},
    {"en", 2100, 4000, "Line one\n\n\nLine two\n  \n", 2100, 4000, "Line one\nLine two",
     "Line one\nLine two"},
    {"en", 4000, 5000, "--> arrows --->", 4000, 5000, "--> arrows --->", "-> arrows ->"},
    {"en", 5000, 6000, "<i>not markup</i> & &amp; R&D", 5000, 6000, "<i>not markup</i> & &amp; R&D",
     "<i>not markup</i> & &amp; R&D"},
    /* Starts before the previous cue: moved to its start, keeping its length. */
    {"en", 3000, 3500, "Late correction", 5000, 5500, "Late correction", "Late correction"},
    {"en", 10000, 12000, UNICODE, 10000, 12000, UNICODE, UNICODE},
    {"en", 3723100, 3725000, "1\n00:00:01,000 --> 00:00:02,000\nfake", 3723100, 3725000,
     "1\n00:00:01,000 --> 00:00:02,000\nfake", "1\n00:00:01,000 -> 00:00:02,000\nfake"},
    {"en", 3725500, 3726000, "WEBVTT\nNOTE inside a cue", 3725500, 3726000,
     "WEBVTT\nNOTE inside a cue", "WEBVTT\nNOTE inside a cue"},
    /* No length: 4 characters get the 1.5 s minimum. */
    {"en", 3726000, 3726000, "zero", 3726000, 3727500, "zero", "zero"},
    {"es", 1000, 2500, "Hola a todos", 1000, 2500, "Hola a todos", "Hola a todos"},
    {"es", 2500, 4000, "\xc2\xbfQu\xc3\xa9 tal?", 2500, 4000, "\xc2\xbfQu\xc3\xa9 tal?",
     "\xc2\xbfQu\xc3\xa9 tal?"},
};

/* The HTTP caption, at this room clock: 22 characters, so 1.5 s. */
#define HTTP_AT_MS 3800000ull

static json_t *expect(const char *lang, uint64_t start, uint64_t end, const char *vtt,
                      const char *srt)
{
	(void)lang;
	return json_pack("{s:I, s:I, s:s, s:s}", "start_ms", (json_int_t)start, "end_ms",
	                 (json_int_t)end, "vtt", vtt, "srt", srt);
}

int main(int argc, char **argv)
{
	struct fake_host f;
	struct puente_http_response res;
	char dir[4096], path[4200], query[256];
	json_t *want = json_object();
	FILE *fp;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/archive", argv[1]);
	mkdir(argv[1], 0755);
	mkdir(dir, 0755);
	static const char *const names[] = {"en", "es"};
	static const char *const exts[] = {"vtt", "srt", "txt"};
	for (int l = 0; l < 2; l++)
		for (int e = 0; e < 3; e++) {
			snprintf(path, sizeof(path), "%s/%s.%s", dir, names[l], exts[e]);
			unlink(path); /* an earlier run's would be moved aside: start clean */
		}

	fake_host_init(&f, puente_plugin_entry());
	fake_host_config(&f, "archive_dir", dir);
	fake_host_config(&f, "burst", "1000");
	if (fake_host_start(&f)) {
		fprintf(stderr, "the plugin did not start\n");
		return 1;
	}
	fake_connect(&f, CART, PUENTE_ROLE_CAPTIONER);
	json_object_set_new(want, "en", json_array());
	json_object_set_new(want, "es", json_array());
	for (size_t i = 0; i < sizeof(cues) / sizeof(cues[0]); i++) {
		/* A partial line first: never archived. */
		if (fake_message(&f, CART, "cue", "{s:s, s:s, s:b}", "lang", cues[i].lang, "text",
		                 "typing...", "final", 0) ||
		    fake_message(&f, CART, "cue", "{s:s, s:s, s:b, s:I, s:I}", "lang", cues[i].lang,
		                 "text", cues[i].text, "final", 1, "start",
		                 (json_int_t)(cues[i].start_ms * MS), "end",
		                 (json_int_t)(cues[i].end_ms * MS))) {
			fprintf(stderr, "cue %zu refused\n", i);
			return 1;
		}
		json_array_append_new(json_object_get(want, cues[i].lang),
		                      expect(cues[i].lang, cues[i].want_start, cues[i].want_end,
		                             cues[i].vtt, cues[i].srt));
	}
	f.now = HTTP_AT_MS * MS;
	struct captions *st = f.state;
	for (int i = 0; i < st->n_http; i++)
		if (!strcmp(st->http[i].name, "cart-en"))
			snprintf(query, sizeof(query), "token=%s&seq=1&lang=en", st->http[i].token);
	if (fake_http(&f, "POST", "/captions/api", query, "text/plain; charset=utf-8",
	              "From CART\r\nsecond line\r\n", 24, &res) ||
	    res.status != 200) {
		fprintf(stderr, "the HTTP caption was refused\n");
		return 1;
	}
	free(res.body);
	json_array_append_new(json_object_get(want, "en"),
	                      expect("en", HTTP_AT_MS, HTTP_AT_MS + 1500, "From CART\nsecond line",
	                             "From CART\nsecond line"));
	fake_host_fini(&f); /* the archive writes what is queued, then stops */

	snprintf(path, sizeof(path), "%s/expected.json", argv[1]);
	fp = fopen(path, "w");
	if (!fp || json_dumpf(want, fp, JSON_INDENT(1)) || fclose(fp)) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	json_decref(want);
	printf("wrote %s/{en,es}.{vtt,srt,txt} and %s\n", dir, path);
	return 0;
}
