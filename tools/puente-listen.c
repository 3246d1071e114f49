/*
 * puente-listen: hears one channel of a puente relay. It subscribes over
 * the wire protocol (README.md, "Wire protocol"), decodes the Opus packets
 * and writes a WAV file and/or plays them on an audio output, then prints
 * one summary line with the packet, gap and delay figures. With --captions
 * it also follows one caption language of the captions plugin (README.md,
 * "Caption messages") and prints every cue as one line on stdout.
 *
 * Threads: main runs the client loop, decodes, writes the WAV and fills the
 * playback ring; the PortAudio callback only reads that ring.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <opus.h>
#include <portaudio.h>
#include <sndfile.h>

#include "client/pcl.h"
#include "client/player.h"
#include "client/toolkit.h"

#define PROG  "puente-listen"
#define AGENT PROG "/" PUENTE_VERSION

#define SLICE_MS           100   /* how often the loop looks at signals and deadlines */
#define CLOSE_WAIT_MS      1000  /* closing handshake */
#define WELCOME_TIMEOUT_MS 10000 /* a relay greets at once */
#define MAX_SECONDS        (366.0 * 24 * 3600)
#define NAME_LEN           64
/* Longest media-time jump concealed in the WAV; beyond it the file just joins. */
#define WAV_FILL_MAX (10 * PUENTE_SAMPLE_RATE)
/* Concealment played per jump: a listener should hear the present, not catch up. */
#define PLAY_FILL_MAX   (PUENTE_SAMPLE_RATE / 10)
#define PLAY_TEARDOWN_S 2 /* PortAudio can hang when its server dies */

struct options {
	const char *url;
	const char *token, *token_file; /* --token, --token-file */
	struct pcl_target target;       /* --url and the token, resolved */
	const char *channel;
	const char *wav;
	const char *device;   /* NULL: default output */
	const char *captions; /* caption language, NULL: none */
	double seconds;       /* 0: until a signal */
	int bundle;           /* --bundle; PCL_BUNDLE_UNSET: not given */
	bool play;
	bool quiet;
};

struct listen {
	struct options opt;
	struct pcl_client *cl;
	struct pcl_stats stats;

	bool opened, welcomed, closing;
	int64_t opened_ms; /* pcl_mono_ms() */
	char channels[PUENTE_MAX_CHANNELS][NAME_LEN];
	unsigned n_channels;
	int chan_id; /* -1 until core.subscribed */

	OpusDecoder *dec;
	bool have_next;
	uint64_t next_media_time; /* where the next packet should start */
	opus_int16 pcm[PCL_MAX_PACKET_SAMPLES];

	SNDFILE *wav;
	struct pcl_player *player;
	bool pa_up; /* Pa_Initialize() succeeded */

	uint64_t concealed;   /* samples filled by PLC or silence */
	uint64_t jumps;       /* media-time jumps too long to conceal */
	uint64_t decode_errs; /* packets libopus refused (concealed instead) */
	uint64_t foreign;     /* audio for a channel we did not subscribe to */
	bool captions_on;     /* the relay answered captions.choose */
	uint64_t captions;    /* caption cues printed (history included) */
	uint64_t bad_cues;    /* caption messages without a text, not printed */
	double elapsed;       /* seconds spent listening */
	int fatal;            /* exit status an error decided; 0: none */
};

/* Progress for people: silenced by --quiet. */
#define note(l, ...) pcl_note((l)->opt.quiet, __VA_ARGS__)
/* Listening cannot go on: the run ends with exit status status. */
#define fail(l, status, ...) pcl_fail(&(l)->fatal, status, __VA_ARGS__)

/* --- playback --- */

static int play_open(struct listen *l)
{
	const char *device;

	l->player = pcl_player_new();
	if (!l->player) {
		fail(l, 1, "out of memory");
		return -ENOMEM;
	}
	if (pcl_pa_start(&l->pa_up, &l->fatal) < 0)
		return -EIO;
	if (pcl_player_open(l->player, l->opt.device, false, &device, &l->fatal) < 0)
		return -EIO;
	note(l, "playing on '%s'", device);
	return 0;
}

/* main, after the summary: a hung PortAudio teardown cannot keep us alive. */
static void play_close(struct listen *l, int status)
{
	if (!l->player)
		return;
	pcl_watchdog(PLAY_TEARDOWN_S, status);
	pcl_player_stop(l->player);
	if (l->pa_up)
		Pa_Terminate();
	pcl_watchdog(0, status);
	free(l->player);
	l->player = NULL;
}

/* --- audio --- */

/* n decoded samples; concealed ones reach the speaker only up to budget. */
static void emit(struct listen *l, const opus_int16 *pcm, int n, uint32_t *play_budget)
{
	if (l->wav && sf_writef_short(l->wav, pcm, n) != n) {
		fail(l, 1, "cannot write %s: %s", l->opt.wav, sf_strerror(l->wav));
		sf_close(l->wav);
		l->wav = NULL;
	}
	if (l->player) {
		uint32_t m = (uint32_t)n;

		if (play_budget) {
			m = m < *play_budget ? m : *play_budget;
			*play_budget -= m;
		}
		/* A full ring drops the block; puente_spsc counts it. */
		if (m)
			pcl_player_write(l->player, pcm, m);
	}
}

/* Fills n missing samples with Opus PLC (silence below 2.5 ms) to keep the room's timing. */
static void conceal(struct listen *l, uint64_t n)
{
	uint32_t budget = PLAY_FILL_MAX;

	if (n > WAV_FILL_MAX) {
		l->jumps++;
		pcl_warn("media time jumped by %.1f s: not concealed",
		         (double)n / PUENTE_SAMPLE_RATE);
		opus_decoder_ctl(l->dec, OPUS_RESET_STATE);
		return;
	}
	l->concealed += n;
	while (n) {
		/* PLC wants 2.5 ms multiples; 20 ms chunks keep it at its best. */
		int want = n >= 960 ? 960 : (int)(n / 120 * 120);
		int got = want ? opus_decode(l->dec, NULL, 0, l->pcm, want, 0) : 0;

		if (got <= 0) {
			got = n < 960 ? (int)n : 960;
			memset(l->pcm, 0, (size_t)got * sizeof(l->pcm[0]));
		}
		emit(l, l->pcm, got, &budget);
		n -= (uint64_t)got;
	}
}

static void on_audio(void *user, const struct pcl_audio *a)
{
	struct listen *l = user;
	int n;

	if (l->chan_id < 0 || a->hdr.channel != l->chan_id) {
		l->foreign++;
		return;
	}
	pcl_stats_packet(&l->stats, a);
	/* Any forward jump (DISCONT, gap, restart) is concealed: the WAV keeps the room clock. */
	if (l->have_next && a->hdr.media_time > l->next_media_time)
		conceal(l, a->hdr.media_time - l->next_media_time);
	n = opus_decode(l->dec, a->payload, (opus_int32)a->len, l->pcm, PCL_MAX_PACKET_SAMPLES, 0);
	if (n < 0) {
		l->decode_errs++;
		conceal(l, a->samples);
	} else {
		emit(l, l->pcm, n, NULL);
	}
	l->have_next = true;
	l->next_media_time = a->hdr.media_time + a->samples;
}

/* --- control messages --- */

static int send_msg(struct listen *l, json_t *msg)
{
	int err = msg ? pcl_send_json(l->cl, msg) : -ENOMEM;

	json_decref(msg);
	if (err < 0)
		fail(l, 1, "cannot send to the relay: %s", strerror(-err));
	return err;
}

/* --- captions --- */

/* A value for a key=value field of a caption line: printable ASCII, no spaces. */
static const char *token_field(const json_t *o, const char *key, char *buf, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t i = 0;

	for (; s && s[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	if (!i)
		snprintf(buf, cap, "?");
	return buf;
}

/* A non-negative integer field, or "?". div: 48 turns 48 kHz samples into ms. */
static const char *int_field(const json_t *o, const char *key, json_int_t div, char *buf,
                             size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		snprintf(buf, cap, "%lld", (long long)(json_integer_value(v) / div));
	else
		snprintf(buf, cap, "?");
	return buf;
}

/*
 * Writes caption text so that it stays on one line and cannot drive the
 * terminal: backslash, C0 controls and DEL as \\, \n, \r, \t or \xHH; C1
 * controls, line and paragraph separators and bidirectional overrides as
 * \uHHHH. Everything else (HTML included) goes out byte for byte.
 */
static void put_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned char c1 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
		unsigned char c2 = i + 2 < n ? (unsigned char)s[i + 2] : 0;

		if (c == '\\') {
			fputs("\\\\", f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02x", c);
		} else if (c == 0xc2 && c1 >= 0x80 && c1 <= 0x9f) {
			fprintf(f, "\\u%04x", c1); /* U+0080..U+009F */
			i++;
		} else if (c == 0xe2 && ((c1 == 0x80 && c2 >= 0xa8 && c2 <= 0xae) ||
		                         (c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9))) {
			/* U+2028..U+202E, U+2066..U+2069 */
			fprintf(f, "\\u%04x", 0x2000 | (c1 & 0x3f) << 6 | (c2 & 0x3f));
			i += 2;
		} else {
			fputc(c, f);
		}
	}
}

/* One cue of captions.cue or captions.history; lang: the history's, if the cue has none. */
static void print_cue(struct listen *l, const json_t *cue, const json_t *outer)
{
	const json_t *text = json_object_get(cue, "text");
	char lang[PCL_LANG_LEN], seq[24], start[24], end[24];

	if (!json_is_string(text)) {
		l->bad_cues++;
		return;
	}
	token_field(json_object_get(cue, "lang") ? cue : outer, "lang", lang, sizeof(lang));
	printf("caption lang=%s seq=%s start=%s end=%s final=%d text=", lang,
	       int_field(cue, "seq", 1, seq, sizeof(seq)),
	       int_field(cue, "start", PUENTE_SAMPLE_RATE / 1000, start, sizeof(start)),
	       int_field(cue, "end", PUENTE_SAMPLE_RATE / 1000, end, sizeof(end)),
	       json_is_true(json_object_get(cue, "final")));
	put_text(stdout, json_string_value(text), json_string_length(text));
	putchar('\n');
	/* A reader (a test, a pipe into a display) sees each cue as it comes. */
	fflush(stdout);
	l->captions++;
}

static void on_caption_history(struct listen *l, const json_t *msg)
{
	const json_t *cues = json_object_get(msg, "cues");
	const json_t *cue;
	size_t i;

	if (!l->captions_on) {
		char lang[PCL_LANG_LEN];

		l->captions_on = true;
		note(l, "captions in '%s'", token_field(msg, "lang", lang, sizeof(lang)));
	}
	json_array_foreach(cues, i, cue) print_cue(l, cue, msg);
}

static void on_welcome(struct listen *l, const json_t *msg)
{
	const json_t *chans = json_object_get(json_object_get(msg, "room"), "channels");
	const json_t *audio = json_object_get(msg, "audio");
	json_int_t proto = json_integer_value(json_object_get(msg, "protocol"));
	const json_t *rate = json_object_get(audio, "sample_rate");
	const json_t *nch = json_object_get(audio, "channels");
	size_t i;
	const json_t *ch;

	if (l->welcomed)
		return;
	l->welcomed = true;
	if (proto != PUENTE_PROTO_VERSION) {
		fail(l, 1, "the relay speaks protocol %lld; " PROG " speaks %d", (long long)proto,
		     PUENTE_PROTO_VERSION);
		return;
	}
	if ((rate && json_integer_value(rate) != PUENTE_SAMPLE_RATE) ||
	    (nch && json_integer_value(nch) != 1)) {
		fail(l, 1, "the relay sends audio this tool cannot decode (not mono 48 kHz)");
		return;
	}
	json_array_foreach(chans, i, ch)
	{
		if (l->n_channels == PUENTE_MAX_CHANNELS)
			break;
		pcl_str_field(ch, "name", l->channels[l->n_channels], NAME_LEN);
		l->n_channels++;
	}
	if (send_msg(l, pcl_listener_hello(AGENT, l->opt.bundle)) < 0)
		return;
	if (send_msg(l, json_pack("{s:s, s:s}", "type", "core.subscribe", "channel",
	                          l->opt.channel)) < 0)
		return;
	if (l->opt.captions)
		send_msg(
		    l, json_pack("{s:s, s:s}", "type", "captions.choose", "lang", l->opt.captions));
}

static void on_subscribed(struct listen *l, const json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	struct pcl_clock clock;
	char name[NAME_LEN];

	if (!json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_integer_value(id) >= PUENTE_MAX_CHANNELS ||
	    pcl_clock_parse(json_object_get(msg, "clock"), &clock) < 0) {
		fail(l, 1, "the relay sent a malformed core.subscribed");
		return;
	}
	l->chan_id = (int)json_integer_value(id);
	pcl_stats_set_clock(&l->stats, &clock);
	pcl_stats_restart(&l->stats);
	/* A new stream: its first packet starts the file's timeline afresh. */
	l->have_next = false;
	note(l, "subscribed to '%s' (channel %d)",
	     pcl_str_field(msg, "channel", name, sizeof(name)), l->chan_id);
}

static void on_relay_error(struct listen *l, const json_t *msg)
{
	char code[NAME_LEN], text[256], ref[NAME_LEN], list[PUENTE_MAX_CHANNELS * (NAME_LEN + 2)];
	size_t used = 0;

	pcl_str_field(msg, "code", code, sizeof(code));
	pcl_str_field(msg, "message", text, sizeof(text));
	pcl_str_field(msg, "ref", ref, sizeof(ref));
	if (!strcmp(code, "unknown_channel")) {
		list[0] = '\0';
		for (unsigned i = 0; i < l->n_channels && used < sizeof(list); i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
			                         i ? ", " : "", l->channels[i]);
		fail(l, 2, "the relay has no channel '%s'; its channels: %s", l->opt.channel,
		     l->n_channels ? list : "(none announced)");
		return;
	}
	if (!strcmp(ref, "captions.choose")) {
		if (!strcmp(code, "unknown_type"))
			fail(l, 1, "the relay has no captions (is its captions plugin loaded?)");
		else
			fail(l, 2, "the relay refused captions in '%s': %s %s", l->opt.captions,
			     code, text);
		return;
	}
	/* Without hello or subscribe no audio will come: give up now. */
	if (!strcmp(ref, "core.hello") || !strcmp(ref, "core.subscribe"))
		fail(l, 1, "relay error %s on %s: %s", code, ref, text);
	else
		pcl_warn("relay error %s%s%s: %s", code, *ref ? " on " : "", ref, text);
}

static void on_json(void *user, const char *type, json_t *msg)
{
	struct listen *l = user;
	struct pcl_clock clock;
	char state[NAME_LEN], detail[256];

	if (!strcmp(type, "core.welcome")) {
		on_welcome(l, msg);
	} else if (!strcmp(type, "core.subscribed")) {
		on_subscribed(l, msg);
	} else if (!strcmp(type, "core.clock")) {
		if (pcl_clock_parse(msg, &clock) == 0)
			pcl_stats_set_clock(&l->stats, &clock);
		else
			pcl_warn("malformed core.clock ignored: delays keep the previous anchor");
	} else if (!strcmp(type, "core.source")) {
		note(l, "source %s: %s", pcl_str_field(msg, "state", state, sizeof(state)),
		     pcl_str_field(msg, "detail", detail, sizeof(detail)));
	} else if (!strcmp(type, "core.error")) {
		on_relay_error(l, msg);
	} else if (l->opt.captions && !strcmp(type, "captions.cue")) {
		print_cue(l, msg, msg);
	} else if (l->opt.captions && !strcmp(type, "captions.history")) {
		on_caption_history(l, msg);
	}
	/* Other types (core.hello echo, plugins' messages) are not ours to act on. */
}

static void on_open(void *user)
{
	struct listen *l = user;

	l->opened = true;
	l->opened_ms = pcl_mono_ms();
	note(l, "connected to %s", l->opt.target.url);
}

static void on_closed(void *user, int code, const char *reason)
{
	struct listen *l = user;

	if (!l->opened)
		fail(l, 1, "cannot connect to %s: %s", l->opt.target.url, reason);
	else if (!l->closing && !l->fatal)
		pcl_warn("the connection closed: %d %s", code, reason);
}

/* --- command line --- */

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " [--url URL|LINK] [--token TOKEN | --token-file FILE]\n"                   \
	"                     [--channel NAME] [--seconds N] [--wav FILE] [--play [DEVICE]]\n"     \
	"                     [--captions LANG] [--bundle N|auto] [--quiet] [--help]\n"            \
	"                     [--version]\n"

static void usage(FILE *f)
{
	fputs(SYNOPSIS
	      "\n"
	      "Hear one channel of a puente relay: receive its Opus audio over the\n"
	      "WebSocket protocol, decode it, and save it to a WAV file and/or play it;\n"
	      "optionally follow the captions of one language as well.\n"
	      "\n"
	      "Options:\n"
	      "  --url URL        relay endpoint (default " PCL_DEFAULT_URL ");\n"
	      "                   a URL without port or path uses 8080 and /ws; or a\n"
	      "                   personal link, http://HOST:PORT/PAGE#t=TOKEN: the tool\n"
	      "                   takes its token and connects to ws://HOST:PORT/ws\n"
	      "  --token TOKEN    the token of a personal link (what follows #t=); without\n"
	      "                   it, from --token-file, the --url link or the environment\n"
	      "                   variable PUENTE_TOKEN, in that order\n"
	      "  --token-file F   read the token from the first line of file F (keeps it\n"
	      "                   out of the process list and the shell history)\n"
	      "  --channel NAME   channel to hear, as the relay names it (default floor)\n"
	      "  --seconds N      stop after N seconds (default: run until Ctrl-C)\n"
	      "  --wav FILE       write the audio to FILE as 16-bit mono 48 kHz WAV;\n"
	      "                   lost audio is concealed so the file keeps the room's\n"
	      "                   timing (jumps over 10 s are not filled)\n"
	      "  --play [DEVICE]  play on an audio output: the default one, or DEVICE given\n"
	      "                   as a PortAudio device index or part of a device name\n"
	      "                   (--play=DEVICE if the name starts with '-'); unknown\n"
	      "                   devices get a list of the outputs; --wav and --play\n"
	      "                   may be combined\n"
	      "  --captions LANG  also receive the captions in LANG (a language the relay's\n"
	      "                   captions plugin serves, such as es or en) and print each\n"
	      "                   caption cue, the recent ones first, as one line on\n"
	      "                   standard output (see below); with neither --wav nor\n"
	      "                   --play the channel is still followed, for its clock\n"
	      "  --bundle N|auto  how many 20 ms packets the relay may send in one message:\n"
	      "                   1 (never bundled, the lowest delay), 2 or 3, or auto\n"
	      "                   (the relay bundles when it has many listeners); default:\n"
	      "                   not asked, which the relay takes as auto. Either way\n"
	      "                   every packet is decoded and counted on its own\n"
	      "  --quiet          no progress messages: only errors, losses and the summary\n"
	      "  --help           show this help and exit\n"
	      "  --version        show the version and exit\n"
	      "\n"
	      "At the end one summary line goes to standard output:\n"
	      "  packets=N gaps=N discont=N delay_ms_p50=X delay_ms_p99=X seconds=S channel=NAME\n"
	      "    packets   audio packets received on the channel\n"
	      "    gaps      sequence jumps the relay did not announce (audio lost)\n"
	      "    discont   skips the relay announced (this listener fell behind); the\n"
	      "              first packet, always flagged, is not counted\n"
	      "    delay_ms  median and 99th percentile of the delay from capture in the\n"
	      "              room to arrival here, on the room clock (nan: no audio)\n"
	      "    seconds   time spent listening\n"
	      "\n"
	      "With --captions it ends with captions=N caption_lang=LANG (cues printed),\n"
	      "and comes after one line per caption cue, as it arrives:\n"
	      "  caption lang=L seq=N start=MS end=MS final=0|1 text=TEXT\n"
	      "    seq       per language, +1 per cue (updates of a partial cue included)\n"
	      "    start/end the cue's media times on the room clock, in ms (the clock of\n"
	      "              the audio packets' media_time)\n"
	      "    final     0 for a partial cue that later cues with the same id update\n"
	      "    text      the rest of the line: the caption as sent, with backslash,\n"
	      "              control characters and line breaks escaped (\\\\, \\n, \\r,\n"
	      "              \\t, \\xHH; \\uHHHH for C1 controls, U+2028..U+202E and\n"
	      "              U+2066..U+2069); HTML stays as it is (it is text)\n"
	      "\n"
	      "Ctrl-C (SIGINT) or SIGTERM ends the run early; the summary still follows.\n"
	      "\n" PCL_HELP_LINKS "\n"
	      "Examples:\n"
	      "  " PROG " --channel es --play\n"
	      "  " PROG " --url ws://192.0.2.10:8080/ws --seconds 60 --wav floor.wav\n"
	      "  " PROG " --url 'http://192.0.2.10:8080/#t=TOKEN' --play\n"
	      "  PUENTE_TOKEN=TOKEN " PROG " --url ws://192.0.2.10:8080/ws --channel es --play\n"
	      "  " PROG " --captions en --seconds 3600 > captions-en.txt\n"
	      "\n"
	      "Exit status: 0 if audio arrived (with --captions and neither --wav nor\n"
	      "--play: if the relay accepted the caption language); 1 if none did, or the\n"
	      "connection, file or device failed, or the relay has no captions; 2 on bad\n"
	      "usage, a channel the relay does not have or a caption language it refuses.\n",
	      f);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_URL = 256,
		OPT_TOKEN,
		OPT_TOKEN_FILE,
		OPT_CHANNEL,
		OPT_SECONDS,
		OPT_WAV,
		OPT_PLAY,
		OPT_CAPTIONS,
		OPT_BUNDLE,
		OPT_QUIET,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"channel", required_argument, NULL, OPT_CHANNEL},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"wav", required_argument, NULL, OPT_WAV},
	    {"play", optional_argument, NULL, OPT_PLAY},
	    {"captions", required_argument, NULL, OPT_CAPTIONS},
	    {"bundle", required_argument, NULL, OPT_BUNDLE},
	    {"quiet", no_argument, NULL, OPT_QUIET},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	int c;

	*o = (struct options){
	    .url = PCL_DEFAULT_URL, .channel = "floor", .bundle = PCL_BUNDLE_UNSET};
	opterr = 0;
	/* '+': no argument permutation, so "--play DEVICE" can take the next word. */
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
			break;
		case OPT_CHANNEL:
			/* It goes into the summary line, whose fields are split on spaces. */
			if (!pcl_valid_name(optarg, NAME_LEN))
				return bad_usage(
				    "bad --channel '%s': 1 to 63 characters, no spaces "
				    "or control characters",
				    optarg);
			o->channel = optarg;
			break;
		case OPT_SECONDS:
			if (!pcl_parse_seconds(optarg, MAX_SECONDS, &o->seconds))
				return bad_usage("bad --seconds '%s': a number of seconds above 0",
				                 optarg);
			break;
		case OPT_WAV:
			o->wav = optarg;
			break;
		case OPT_PLAY:
			o->play = true;
			o->device = pcl_optional_value(argc, argv);
			break;
		case OPT_CAPTIONS:
			if (!pcl_valid_lang(optarg))
				return bad_usage("bad --captions '%s': a language tag such as es, "
				                 "en or pt-BR (letters, digits and '-')",
				                 optarg);
			o->captions = optarg;
			break;
		case OPT_BUNDLE:
			if (!pcl_parse_bundle(optarg, &o->bundle))
				return bad_usage("bad --bundle '%s': packets per message, 1 to %d, "
				                 "or auto",
				                 optarg, PUENTE_MAX_BUNDLE);
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
	return pcl_target_option(&o->target, o->url, o->token, o->token_file, SYNOPSIS);
}

/* --- main --- */

static void run(struct listen *l)
{
	int64_t start = pcl_mono_ms();
	int64_t end = l->opt.seconds ? start + (int64_t)(l->opt.seconds * 1000) : INT64_MAX;

	while (!pcl_stop && !l->fatal) {
		int64_t now = pcl_mono_ms();

		if (now >= end)
			break;
		if (l->opened && !l->welcomed && now - l->opened_ms > WELCOME_TIMEOUT_MS) {
			fail(l, 1, "no core.welcome from %s: is it a puente relay?",
			     l->opt.target.url);
			break;
		}
		if (pcl_run_for(l->cl, (uint32_t)(end - now < SLICE_MS ? end - now : SLICE_MS)) < 0)
			break;
	}
	l->elapsed = (double)(pcl_mono_ms() - start) / 1000.0;
	l->closing = true;
	pcl_close_wait(l->cl, CLOSE_WAIT_MS, SLICE_MS);
}

/* What the run was for arrived: audio, or with captions alone the caption choice. */
static bool listened(const struct listen *l)
{
	if (l->opt.captions && !l->opt.wav && !l->opt.play)
		return l->captions_on;
	if (l->opt.captions && !l->captions_on)
		return false;
	return l->stats.packets > 0;
}

static void report(struct listen *l)
{
	static const struct pcl_counters none;
	const struct pcl_counters *k = l->cl ? pcl_counters(l->cl) : &none;
	uint32_t underruns = 0, overruns = 0;
	char play[64] = "";

	if (l->player) {
		underruns = pcl_player_underruns(l->player);
		overruns = pcl_player_overruns(l->player);
		snprintf(play, sizeof(play), " play_underruns=%u play_overruns=%u", underruns,
		         overruns);
	}
	/* Nothing is dropped silently, --quiet or not: name every loss that happened. */
	if (k->bad_audio || k->bad_json || l->foreign || l->stats.missing || l->concealed ||
	    l->jumps || l->decode_errs || underruns || overruns)
		pcl_warn("losses: missing_packets=%llu concealed_ms=%.1f long_jumps=%llu "
		         "decode_errors=%llu bad_audio=%llu bad_json=%llu other_channel=%llu%s",
		         (unsigned long long)l->stats.missing,
		         l->concealed * 1000.0 / PUENTE_SAMPLE_RATE, (unsigned long long)l->jumps,
		         (unsigned long long)l->decode_errs, (unsigned long long)k->bad_audio,
		         (unsigned long long)k->bad_json, (unsigned long long)l->foreign, play);
	if (l->bad_cues)
		pcl_warn("%llu caption message(s) without a text were not printed",
		         (unsigned long long)l->bad_cues);
	if (!l->stats.packets && !l->fatal)
		pcl_warn("no audio arrived on channel '%s'", l->opt.channel);
	if (l->opt.captions && !l->captions_on && !l->fatal)
		pcl_warn("the relay did not answer the choice of captions in '%s'",
		         l->opt.captions);
	printf("packets=%llu gaps=%llu discont=%llu delay_ms_p50=%.1f delay_ms_p99=%.1f "
	       "seconds=%.1f channel=%s",
	       (unsigned long long)l->stats.packets, (unsigned long long)l->stats.gaps,
	       (unsigned long long)l->stats.discont, pcl_stats_delay_ms(&l->stats, 50),
	       pcl_stats_delay_ms(&l->stats, 99), l->elapsed, l->opt.channel);
	if (l->opt.captions)
		printf(" captions=%llu caption_lang=%s", (unsigned long long)l->captions,
		       l->opt.captions);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct pcl_callbacks cb = {
	    .open = on_open,
	    .json = on_json,
	    .audio = on_audio,
	    .closed = on_closed,
	};
	static struct listen l; /* static: large, and zeroed */
	int status, err;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &l.opt);
	if (status >= 0)
		return status;
	l.chan_id = -1;
	pcl_stats_init(&l.stats);
	pcl_catch_signals();

	l.dec = opus_decoder_create(PUENTE_SAMPLE_RATE, 1, &err);
	if (!l.dec) {
		fprintf(stderr, PROG ": cannot create the Opus decoder: %s\n", opus_strerror(err));
		return 1;
	}
	if (l.opt.wav) {
		SF_INFO fmt = {.samplerate = PUENTE_SAMPLE_RATE,
		               .channels = 1,
		               .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};

		l.wav = sf_open(l.opt.wav, SFM_WRITE, &fmt);
		if (!l.wav)
			fail(&l, 1, "cannot create %s: %s", l.opt.wav, sf_strerror(NULL));
	}
	if (!l.fatal && l.opt.play)
		play_open(&l);
	if (!l.fatal) {
		l.cl = pcl_create(l.opt.target.connect, &cb, &l, &err);
		if (!l.cl)
			fail(&l, 1, "cannot start a client for %s: %s", l.opt.target.url,
			     strerror(-err));
		/* Caption messages (a full history) can be larger than the relay's own limit. */
		else if (l.opt.captions &&
		         (err = pcl_set_text_max(l.cl, PCL_CAPTIONS_TEXT_MAX)) < 0)
			fail(&l, 1, "cannot make room for captions: %s", strerror(-err));
	}
	if (l.cl)
		run(&l);
	if (l.wav && sf_close(l.wav))
		fail(&l, 1, "cannot finish %s", l.opt.wav);
	/* Every run past the command line reports, so scripts always get a line. */
	report(&l);
	status = l.fatal ? l.fatal : listened(&l) ? 0 : 1;
	play_close(&l, status);
	pcl_destroy(l.cl);
	opus_decoder_destroy(l.dec);
	pcl_stats_fini(&l.stats);
	return status;
}
