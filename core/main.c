/*
 * puente: the relay process. Reads the configuration, starts the audio
 * device, media and playback threads, then serves on this (main) thread,
 * which becomes the lws service thread. A signal thread turns SIGINT and
 * SIGTERM into a graceful stop.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "config.h"
#include "log.h"
#include "media.h"
#include "playback.h"
#include "plugins.h"
#include "room.h"
#include "server.h"

enum {
	OPT_LIST_DEVICES = 256,
	OPT_INPUT_FILE,
	OPT_TONE,
	OPT_FRAME_MS,
	OPT_BITRATE,
	OPT_OUTPUT,
	OPT_OUTPUT_CHANNEL,
	OPT_WEB_ROOT,
	OPT_PRINT_DEFAULT,
	OPT_LOG_LEVEL,
	OPT_PLUGINS,
	OPT_PLUGIN_DIR,
	OPT_LIST_PLUGINS,
	OPT_CERT,
	OPT_KEY,
	OPT_TLS_REQUIRED,
	OPT_PUBLIC_URL,
	OPT_INVITEES,
	OPT_ANONYMOUS,
	OPT_DUPLICATE,
	OPT_ATTENDANCE,
	OPT_BUNDLE_ABOVE,
	OPT_BUNDLE_AUTO,
	OPT_EVENT_LOOP,
};

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"config", required_argument, NULL, 'c'},
    {"bind", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"list-devices", no_argument, NULL, OPT_LIST_DEVICES},
    {"input", required_argument, NULL, 'i'},
    {"input-file", required_argument, NULL, OPT_INPUT_FILE},
    {"tone", no_argument, NULL, OPT_TONE},
    {"frame-ms", required_argument, NULL, OPT_FRAME_MS},
    {"bitrate", required_argument, NULL, OPT_BITRATE},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"output-channel", required_argument, NULL, OPT_OUTPUT_CHANNEL},
    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT},
    {"plugins", required_argument, NULL, OPT_PLUGINS},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"list-plugins", no_argument, NULL, OPT_LIST_PLUGINS},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"tls-required", required_argument, NULL, OPT_TLS_REQUIRED},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"invitees", required_argument, NULL, OPT_INVITEES},
    {"anonymous-listeners", required_argument, NULL, OPT_ANONYMOUS},
    {"duplicate", required_argument, NULL, OPT_DUPLICATE},
    {"attendance", required_argument, NULL, OPT_ATTENDANCE},
    {"bundle-above", required_argument, NULL, OPT_BUNDLE_ABOVE},
    {"bundle-auto", required_argument, NULL, OPT_BUNDLE_AUTO},
    {"event-loop", required_argument, NULL, OPT_EVENT_LOOP},
    {0},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: puente [OPTION]...\n"
	    "Relay a room's audio to listeners over WebSockets, one channel per language.\n"
	    "\n"
	    "With no options it runs the embedded default room (channels floor, es, en)\n"
	    "on http://127.0.0.1:8080/, capturing the default input device, or a test\n"
	    "tone when there is none.\n"
	    "\n"
	    "  -c, --config FILE         read an INI file over the embedded default\n"
	    "  -b, --bind ADDR           listen address (default 127.0.0.1)\n"
	    "  -p, --port N              listen port (default 8080; 0 picks a free one)\n"
	    "  -i, --input DEVICE        capture this device (name part or index)\n"
	    "      --input-file FILE     relay a sound file, looped, instead of a device\n"
	    "      --tone                relay the test signal (1 kHz at -20 dBFS)\n"
	    "      --list-devices        list audio devices and exit\n"
	    "      --frame-ms 10|20      Opus frame length (default 20)\n"
	    "      --bitrate BPS         Opus bitrate (default 32000)\n"
	    "      --bundle-above N      beyond N listeners, send those who leave it to the\n"
	    "                            relay bundles of several packets (default 1500)\n"
	    "      --bundle-auto 1..3    packets per bundle then (default 3; 1: never)\n"
	    "      --event-loop libev|poll  how the network thread waits: libev's epoll\n"
	    "                            (default) or lws' own poll() over every socket\n"
	    "      --output DEVICE       also play a channel on this output device\n"
	    "      --output-channel NAME channel to play there (default floor)\n"
	    "      --web-root DIR        folder of the web pages\n"
	    "      --log-level LEVEL     error, warn, info (default) or debug\n"
	    "      --plugins LIST        plugins to load, e.g. interpretation (comma-separated)\n"
	    "      --plugin-dir DIR      where the plugins' .so files are\n"
	    "      --list-plugins        show the plugins found and whether they would load\n"
	    "      --invitees FILE       the invitee store made by puente-token; without it\n"
	    "                            the relay prints demo links for this run only\n"
	    "      --anonymous-listeners yes|no  let people listen without a link (default no)\n"
	    "      --duplicate takeover|refuse   a second connection with the same link\n"
	    "                            replaces the first (default) or is refused\n"
	    "      --attendance FILE     append joins and leaves to this log (puente-report)\n"
	    "      --cert FILE, --key FILE  serve HTTPS and WSS with this certificate\n"
	    "      --tls-required yes|no refuse plain connections (default yes with --cert)\n"
	    "      --public-url URL      the address people use, for printed links\n"
	    "      --print-default-config  print the embedded default as INI and exit\n"
	    "  -h, --help                show this help and exit\n"
	    "  -V, --version             show the version and exit\n"
	    "\n"
	    "Everyone enters with a personal link made by puente-token (or, without\n"
	    "--invitees, one of the demo links printed at start), in a browser or with\n"
	    "puente-listen, puente-booth, puente-caption, puente-meter.\n"
	    "SIGINT or SIGTERM closes every client with 1001 and exits 0.\n");
}

/*
 * Flags override the file through the same parser as its [core] keys: a
 * flag's name is its key with '-' for '_'. Flags that are no key (--help,
 * --config, ...) were handled in the first pass.
 */
static int apply_flag(struct puente__config *c, int opt, const char *arg)
{
	for (const struct option *o = options; o->name; o++) {
		char key[32];

		if (o->val != opt)
			continue;
		snprintf(key, sizeof(key), "%s", o->name);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		int rc = puente__config_set_core(c, key, arg ? arg : "yes");

		if (rc > 0)
			rc = puente__config_set_access(c, key, arg ? arg : "yes");
		if (rc < 0) {
			fprintf(stderr, "puente: --%s '%s': invalid value. Try 'puente --help'.\n",
			        o->name, arg ? arg : "");
			return -1;
		}
		return 0;
	}
	return 0;
}

struct signal_ctx {
	sigset_t set;
	struct puente__server *srv;
};

/* Signal thread: SIGINT/SIGTERM are blocked everywhere else and taken here. */
static void *signal_thread(void *arg)
{
	struct signal_ctx *sc = arg;
	int sig;

	if (sigwait(&sc->set, &sig) == 0) {
		log_info("%s received", sig == SIGINT ? "SIGINT" : "SIGTERM");
		puente__server_request_stop(sc->srv);
	}
	return NULL;
}

/* The last word on what happened: what was relayed, and every kind of refusal. */
static void log_stats(struct puente__stats *st)
{
#define N(f) (unsigned long long)atomic_load(&st->f)
	log_info("stopped: %llu packets published (%llu silence), %llu sent, %llu dropped for slow "
	         "listeners, %llu clients served, %llu source losses",
	         N(packets_published), N(silence_packets), N(packets_sent), N(packets_dropped),
	         N(clients_total), N(source_losses));
	log_info("refused: %llu audio from listeners, %llu too big, %llu too fragmented, %llu bad "
	         "messages, %llu rate-limited, %llu replies dropped, %llu stalled clients dropped",
	         N(refused_audio), N(refused_too_big), N(refused_fragments), N(bad_messages),
	         N(rate_limited), N(text_dropped), N(stalled_closed));
#undef N
}

/* Opens the capture device; in auto mode a missing device means the test tone. */
static int start_input(struct puente__config *cfg, struct puente__audio *audio,
                       enum puente__source_kind *kind)
{
	*kind = cfg->source;
	if (*kind == PUENTE_SOURCE_FILE || *kind == PUENTE_SOURCE_TONE) {
		if (!cfg->output[0])
			return 0;
		audio->capture = false;
		return puente__audio_start(audio);
	}
	audio->capture = true;
	if (puente__audio_start(audio) == 0) {
		*kind = PUENTE_SOURCE_DEVICE;
		return 0;
	}
	if (cfg->source == PUENTE_SOURCE_DEVICE)
		return -ENODEV;
	log_warn("no input device available: relaying the test signal instead");
	*kind = PUENTE_SOURCE_TONE;
	audio->capture = false;
	return cfg->output[0] ? puente__audio_start(audio) : 0;
}

int main(int argc, char **argv)
{
	static struct puente__config cfg;
	static struct puente__room room;
	static struct puente__audio audio;
	static struct puente__media media;
	static struct puente__playback playback;
	static struct puente__server srv;
	static struct puente__plugins plugins;
	const char *config_path = NULL;
	bool list_devices = false, list_plugins = false;
	int opt, rc = 1;

	if (argc > 1 && !strcmp(argv[1], "--audio-worker"))
		return puente__audio_worker_main(argc, argv);

	/* First pass: what decides the base configuration. */
	while ((opt = getopt_long(argc, argv, "hVc:b:p:i:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("puente %s (wire protocol %d)\n", PUENTE_VERSION,
			       PUENTE_PROTO_VERSION);
			return 0;
		case 'c':
			config_path = optarg;
			break;
		case OPT_PRINT_DEFAULT:
			fputs(puente__config_default_text(), stdout);
			return 0;
		case OPT_LIST_DEVICES:
			list_devices = true;
			break;
		case OPT_LIST_PLUGINS:
			list_plugins = true;
			break;
		case '?':
			fprintf(stderr, "Try 'puente --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "puente: unexpected argument '%s'. Try 'puente --help'.\n",
		        argv[optind]);
		return 2;
	}
	if (list_devices)
		return puente__audio_list_devices(stdout) ? 1 : 0;

	if (puente__config_defaults(&cfg))
		return 1;
	if (config_path && puente__config_load_file(&cfg, config_path))
		goto out_config;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hVc:b:p:i:", options, NULL)) != -1)
		if (apply_flag(&cfg, opt, optarg)) {
			rc = 2;
			goto out_config;
		}
	puente__log_set_level((enum puente_log_level)cfg.log_level);
	if (list_plugins) {
		rc = puente__plugins_list(cfg.plugin_dir, cfg.plugins, stdout) ? 1 : 0;
		goto out_config;
	}
	if (puente__config_validate(&cfg))
		goto out_config;

	/* Block the stop signals before any thread starts, so all inherit the mask. */
	struct signal_ctx sc = {.srv = &srv};
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (puente__room_init(&room, &cfg)) {
		log_error("cannot allocate the channel rings");
		goto out_config;
	}
	if (puente__plugins_load(&plugins, &cfg, &room, &srv))
		goto out_room;
	if (puente__server_init(&srv, &room, &cfg, &plugins))
		goto out_plugins;

	enum puente__source_kind kind;
	snprintf(audio.input, sizeof(audio.input), "%s", cfg.input);
	snprintf(audio.output, sizeof(audio.output), "%s", cfg.output);
	if (start_input(&cfg, &audio, &kind))
		goto out_server;
	if (puente__media_start(&media, &room, &cfg, kind,
	                        kind == PUENTE_SOURCE_DEVICE ? &audio : NULL))
		goto out_audio;
	if (cfg.output[0] &&
	    puente__playback_start(&playback, &room, &audio,
	                           puente__config_channel(&cfg, cfg.output_channel)))
		goto out_media;

	pthread_t sig_thread;
	if (pthread_create(&sig_thread, NULL, signal_thread, &sc))
		goto out_playback;
	pthread_detach(sig_thread);

	log_info("room '%s': %zu channel(s), %d ms Opus frames at %d bit/s, source: %s", cfg.room,
	         cfg.n_channels, cfg.frame_ms, cfg.bitrate,
	         kind == PUENTE_SOURCE_DEVICE ? "audio device"
	         : kind == PUENTE_SOURCE_FILE ? cfg.input_file
	                                      : "test tone");
	puente__server_run(&srv);
	rc = 0;

out_playback:
	puente__playback_stop(&playback);
out_media:
	puente__media_stop(&media);
out_audio:
	puente__audio_stop(&audio, 2000);
out_server:
	/* Plugins go before the context: their threads may still be sending. */
	puente__plugins_unload(&plugins);
	puente__server_fini(&srv);
	log_stats(&room.stats);
out_plugins:
	puente__plugins_unload(&plugins);
out_room:
	puente__room_fini(&room);
out_config:
	puente__config_fini(&cfg);
	return rc;
}
