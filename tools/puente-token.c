/*
 * puente-token: the organiser's invitations. It turns a spreadsheet of
 * people (CSV) into personal links, keeps the invitee store the relay
 * checks links against (JSON, only hashes of the tokens), and revokes,
 * reissues, lists and checks invitations.
 *
 * Tokens are printed nowhere but in the links file it creates (new, mode
 * 0600); the store holds only their SHA-256. Everything is checked before
 * anything is written: a bad row leaves both files as they were.
 *
 * Exit status: 0 done (check: the link is valid now), 1 failure or a
 * refused link, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/pcl.h"
#include "client/toolkit.h"
#include "puente/access.h"
#include "token/links.h"
#include "token/people.h"
#include "token/when.h"

#define PROG     "puente-token"
#define ERR_LEN  512
#define LINE_MAX 8192 /* check: a personal link on stdin */

static const char synopsis[] =
    "Usage: " PROG " issue --invitees people.csv --store invitees.json --links links.csv\n"
    "                    --base-url URL [--valid-from T] [--valid-until T] [--event TITLE]\n"
    "                    [--reissue]\n"
    "       " PROG " revoke --store invitees.json WHO...\n"
    "       " PROG " reissue --store invitees.json --base-url URL --links out.csv WHO...\n"
    "       " PROG " list --store invitees.json [--csv]\n"
    "       " PROG " check --store invitees.json < link\n";

static void usage(FILE *f)
{
	fputs(synopsis, f);
	fputs("\n"
	      "Personal links for a puente event. The organiser's workflow:\n"
	      "  1. Keep the people in a spreadsheet and save it as CSV (UTF-8) with the\n"
	      "     columns email, name, role, lang (optional: country, sector, gender,\n"
	      "     booths, languages, valid_from, valid_until).\n"
	      "  2. 'issue' gives everyone new a token: the store (invitees.json, for the\n"
	      "     relay) gets its hash, the links file gets the link. Send each person\n"
	      "     their link, then delete the links file: nobody can rebuild it.\n"
	      "  3. Run 'issue' again after adding people: only the new ones get links.\n"
	      "  4. 'revoke' shuts a link off; 'reissue' gives a person a new link (a lost\n"
	      "     or forwarded one) and the old one stops working.\n"
	      "  5. 'list' shows who is invited and whether their link works now; 'check'\n"
	      "     reads a link or token on standard input and says whose it is.\n"
	      "\n"
	      "WHO is an e-mail address or an invitee id (p0001). Times T: ISO 8601 with a\n"
	      "zone (" WHEN_FORMATS ").\n"
	      "Roles: listener, interpreter, captioner, technician, organiser (moderator).\n"
	      "\n"
	      "  --invitees FILE   the organiser's CSV (issue)\n"
	      "  --store FILE      the invitee store the relay reads (created by issue)\n"
	      "  --links FILE      where the new links go; must not exist yet\n"
	      "  --base-url URL    the event's address, e.g. https://puente.example.org\n"
	      "  --valid-from T    links work from T (a row's valid_from wins)\n"
	      "  --valid-until T   links stop working after T (a row's valid_until wins)\n"
	      "  --event TITLE     the event's name, kept in the store\n"
	      "  --reissue         issue: new tokens for people already invited too\n"
	      "  --csv             list: CSV instead of columns\n"
	      "  -h, --help        this help\n"
	      "  --version         print the version\n"
	      "\n"
	      "Exit status: 0 done (check: the link is valid now), 1 failure or a refused\n"
	      "link, 2 bad usage.\n",
	      f);
}

struct options {
	const char *invitees, *store, *links, *base_url, *event;
	int64_t valid_from, valid_until;
	bool reissue, csv;
	char **who;
	int n_who;
};

enum {
	OPT_INVITEES = 256,
	OPT_STORE,
	OPT_LINKS,
	OPT_BASE,
	OPT_FROM,
	OPT_UNTIL,
	OPT_EVENT,
	OPT_REISSUE,
	OPT_CSV,
	OPT_VERSION
};

/* --- the store --- */

static int load_store(const char *path, bool may_be_new, struct puente_invitees *list)
{
	char err[ERR_LEN];
	int rc = puente_invitees_load(path, list, err, sizeof(err));

	if (rc == -ENOENT && may_be_new)
		return 0;
	if (rc == -ENOENT)
		pcl_warn("%s (the store is created by '" PROG " issue')", err);
	else if (rc)
		pcl_warn("%s", err);
	return rc ? 1 : 0;
}

static int save_store(const char *path, const struct puente_invitees *list)
{
	char err[ERR_LEN];

	if (puente_invitees_save(path, list, err, sizeof(err))) {
		pcl_warn("%s", err);
		return 1;
	}
	return 0;
}

/* The number after 'p' in the highest id of the form p<digits>. */
static long highest_id(const struct puente_invitees *list)
{
	long max = 0;

	for (size_t i = 0; i < list->n; i++) {
		const char *id = list->v[i].id;
		char *end;
		long v;

		if (id[0] != 'p' || id[1] < '0' || id[1] > '9')
			continue;
		v = strtol(id + 1, &end, 10);
		if (!*end && v > max)
			max = v;
	}
	return max;
}

/* Replaces an owned string of the store. */
static bool set_str(char **dst, const char *src)
{
	char *d = src ? strdup(src) : NULL;

	if (src && !d)
		return false;
	free(*dst);
	*dst = d;
	return true;
}

/* A fresh token for inv: its hash goes into the store, the token to the caller. */
static bool new_token(struct puente_invitee *inv, char token[PUENTE_TOKEN_LEN + 1])
{
	char hash[PUENTE_TOKEN_HASH_LEN + 1];
	int rc = puente_token_new(token);

	if (rc) {
		pcl_warn("no random numbers from the system: %s", strerror(-rc));
		return false;
	}
	if (puente_token_hash(token, PUENTE_TOKEN_LEN, hash) || !set_str(&inv->hash, hash)) {
		pcl_warn("out of memory");
		return false;
	}
	inv->revoked_at = 0;
	return true;
}

/* --- links --- */

/* Store indexes whose new tokens go to the links file, in order. */
struct issued {
	size_t *index;
	char (*token)[PUENTE_TOKEN_LEN + 1];
	size_t n;
};

static bool issued_init(struct issued *is, size_t max)
{
	is->index = calloc(max ? max : 1, sizeof(*is->index));
	is->token = calloc(max ? max : 1, sizeof(*is->token));
	is->n = 0;
	return is->index && is->token;
}

static void issued_free(struct issued *is, size_t max)
{
	if (is->token)
		explicit_bzero(is->token, (max ? max : 1) * sizeof(*is->token));
	free(is->index);
	free(is->token);
}

static int links_exist(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		pcl_warn("%s already exists: send the links in it, delete it, then run again "
		         "(or choose another --links file)",
		         path);
		return 1;
	}
	return 0;
}

/* Writes the links file, then the store; a store that cannot be written takes the links back. */
static int commit(const struct options *o, const struct puente_invitees *list,
                  const struct issued *is)
{
	FILE *f = NULL;
	int rc = 0;

	if (is->n) {
		f = links_create(o->links);
		if (!f) {
			pcl_warn("%s: %s", o->links, strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < is->n && !rc; i++)
			rc = links_row(f, o->base_url, &list->v[is->index[i]], is->token[i]);
		if (!rc)
			rc = links_close(f);
		else
			links_close(f);
		if (rc) {
			pcl_warn("%s: cannot write the links: %s", o->links, strerror(-rc));
			unlink(o->links);
			return 1;
		}
	}
	if (save_store(o->store, list)) {
		if (is->n)
			unlink(o->links);
		return 1;
	}
	return 0;
}

/* --- issue --- */

/* Copies a CSV row's details onto a store entry (times only when given). */
static bool apply_person(struct puente_invitee *inv, const struct person *p)
{
	if (p->has_from)
		inv->not_before = p->not_before;
	if (p->has_until)
		inv->not_after = p->not_after;
	return set_str(&inv->email, p->email) && set_str(&inv->name, p->name) &&
	       set_str(&inv->role, p->role) && set_str(&inv->lang, p->lang) &&
	       set_str(&inv->country, p->country) && set_str(&inv->sector, p->sector) &&
	       set_str(&inv->gender, p->gender) && set_str(&inv->booths, p->booths) &&
	       set_str(&inv->languages, p->languages);
}

static int issue_cmd(const struct options *o, struct puente_invitees *list)
{
	struct people people;
	struct issued is = {0};
	size_t fresh = 0, again = 0, reissued = 0;
	long next;
	int rc = 1;

	if (links_exist(o->links))
		return 1;
	if (!people_read(o->invitees, o->valid_from, o->valid_until, &people)) {
		pcl_warn("%s: nothing written; correct the file and run again", o->invitees);
		return 1;
	}
	if (load_store(o->store, true, list))
		goto out;
	if (o->event && !set_str(&list->event, o->event))
		goto oom;
	next = highest_id(list) + 1;
	if (!issued_init(&is, people.n))
		goto oom;
	for (size_t i = 0; i < people.n; i++) {
		const struct person *p = &people.v[i];
		long k = puente_invitees_find(list, p->email);
		struct puente_invitee *inv;

		if (k < 0) {
			char id[32];
			struct puente_invitee blank = {.id = id};

			snprintf(id, sizeof(id), "p%04ld", next++);
			if (puente_invitees_add(list, &blank))
				goto oom;
			k = (long)list->n - 1;
			fresh++;
		} else if (o->reissue) {
			reissued++;
		} else {
			again++;
			if (strcmp(list->v[k].role, p->role))
				pcl_warn(
				    "%s: role changed from %s to %s; their link still opens the %s "
				    "page: give them a new one with 'reissue'",
				    p->email, list->v[k].role, p->role, list->v[k].role);
		}
		inv = &list->v[k];
		if (!apply_person(inv, p))
			goto oom;
		if (!inv->hash || o->reissue) {
			if (!new_token(inv, is.token[is.n]))
				goto out;
			is.index[is.n++] = (size_t)k;
		}
	}
	if (commit(o, list, &is))
		goto out;
	if (o->reissue)
		printf("%zu invited (%zu new, %zu reissued)", people.n, fresh, reissued);
	else
		printf("%zu invited (%zu new, %zu already invited)", people.n, fresh, again);
	if (is.n)
		printf("; links in %s\n", o->links);
	else
		printf("; no new links\n");
	rc = 0;
	goto out;
oom:
	pcl_warn("out of memory");
out:
	issued_free(&is, people.n);
	people_free(&people);
	return rc;
}

/* --- revoke, reissue --- */

/* Store indexes of every WHO; each unknown one is named. */
static bool resolve(const struct options *o, const struct puente_invitees *list, size_t *index)
{
	bool ok = true;

	for (int i = 0; i < o->n_who; i++) {
		long k = puente_invitees_find(list, o->who[i]);

		if (k < 0) {
			pcl_warn("%s: nobody with e-mail or id '%s' (see '" PROG " list')",
			         o->store, o->who[i]);
			ok = false;
		}
		index[i] = (size_t)k;
	}
	return ok;
}

static int revoke_cmd(const struct options *o, struct puente_invitees *list)
{
	size_t *index = calloc((size_t)o->n_who, sizeof(*index));
	int64_t now = (int64_t)time(NULL);
	int rc = 1;

	if (!index || load_store(o->store, false, list) || !resolve(o, list, index))
		goto out;
	for (int i = 0; i < o->n_who; i++) {
		struct puente_invitee *inv = &list->v[index[i]];

		printf("%s %s: %s\n", inv->id, inv->email,
		       inv->revoked_at ? "already revoked" : "revoked");
		if (!inv->revoked_at)
			inv->revoked_at = now;
	}
	rc = save_store(o->store, list);
out:
	free(index);
	return rc;
}

static int reissue_cmd(const struct options *o, struct puente_invitees *list)
{
	size_t *index = calloc((size_t)o->n_who, sizeof(*index));
	struct issued is = {0};
	int rc = 1;

	if (!index || links_exist(o->links) || load_store(o->store, false, list) ||
	    !resolve(o, list, index) || !issued_init(&is, (size_t)o->n_who))
		goto out;
	for (int i = 0; i < o->n_who; i++) {
		bool dup = false;

		for (size_t j = 0; j < is.n; j++)
			dup |= is.index[j] == index[i];
		if (dup)
			continue;
		if (!new_token(&list->v[index[i]], is.token[is.n]))
			goto out;
		is.index[is.n++] = index[i];
	}
	if (commit(o, list, &is))
		goto out;
	printf("%zu new link%s (the old ones no longer work); links in %s\n", is.n,
	       is.n == 1 ? "" : "s", o->links);
	rc = 0;
out:
	issued_free(&is, (size_t)o->n_who);
	free(index);
	return rc;
}

/* --- list, check --- */

static const char *status(const struct puente_invitee *inv, int64_t now)
{
	if (inv->revoked_at)
		return "revoked";
	if (inv->not_before && now < inv->not_before)
		return "not yet";
	if (inv->not_after && now > inv->not_after)
		return "expired";
	return "valid";
}

static void csv_field(const char *s, bool last)
{
	s = s ? s : "";
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static int list_cmd(const struct options *o, struct puente_invitees *list)
{
	int64_t now = (int64_t)time(NULL);

	if (load_store(o->store, false, list))
		return 1;
	if (o->csv)
		puts("id,email,name,role,lang,status,valid_from,valid_until,revoked_at");
	else if (list->event)
		printf("%s: %zu invited\n", list->event, list->n);
	for (size_t i = 0; i < list->n; i++) {
		const struct puente_invitee *inv = &list->v[i];
		char from[32] = "", until[32] = "", revoked[32] = "";
		char id[64], lang[64], email[256], name[512];

		if (inv->not_before)
			when_format(inv->not_before, from, sizeof(from));
		if (inv->not_after)
			when_format(inv->not_after, until, sizeof(until));
		if (inv->revoked_at)
			when_format(inv->revoked_at, revoked, sizeof(revoked));
		if (o->csv) {
			csv_field(inv->id, false);
			csv_field(inv->email, false);
			csv_field(inv->name, false);
			csv_field(inv->role, false);
			csv_field(inv->lang, false);
			csv_field(status(inv, now), false);
			csv_field(from, false);
			csv_field(until, false);
			csv_field(revoked, true);
			continue;
		}
		/* A hand-edited store must not drive the terminal. */
		printf("%-6s %-8s %-12s %-5s %s  %s", pcl_sanitize(id, sizeof(id), inv->id),
		       status(inv, now), inv->role,
		       pcl_sanitize(lang, sizeof(lang), inv->lang ? inv->lang : "-"),
		       pcl_sanitize(email, sizeof(email), inv->email),
		       pcl_sanitize(name, sizeof(name), inv->name ? inv->name : ""));
		if (*from || *until)
			printf("  [%s .. %s]", *from ? from : "", *until ? until : "");
		putchar('\n');
	}
	return 0;
}

/* The token in a line: a whole personal link (#t= or ?t= / &t=) or the bare token. */
static const char *find_token(char *line, size_t *len)
{
	char *t = line, *p;

	line[strcspn(line, "\r\n")] = '\0';
	while (*t == ' ' || *t == '\t')
		t++;
	if ((p = strstr(t, "#t=")) || (p = strstr(t, "?t=")) || (p = strstr(t, "&t=")))
		t = p + 3;
	*len = strcspn(t, "&# \t\"'<>"); /* a link pasted with its quotes */
	return t;
}

static int check_cmd(const struct options *o, struct puente_invitees *list)
{
	char line[LINE_MAX];
	const char *token;
	size_t len, index = 0;
	enum puente_verdict v;

	if (load_store(o->store, false, list))
		return 1;
	if (!fgets(line, sizeof(line), stdin)) {
		pcl_warn("no link or token on standard input");
		return 1;
	}
	token = find_token(line, &len);
	v = puente_invitees_check(list, token, len, (int64_t)time(NULL), 0, &index);
	explicit_bzero(line, sizeof(line));
	if (v == PUENTE_ACCESS_MALFORMED || v == PUENTE_ACCESS_UNKNOWN)
		printf("%s\n", puente_verdict_name(v));
	else
		printf("%s %s\n", puente_verdict_name(v), list->v[index].id);
	return v == PUENTE_ACCESS_OK ? 0 : 1;
}

/* --- command line --- */

static const struct command {
	const char *name;
	int (*run)(const struct options *, struct puente_invitees *);
	bool store, links, base_url, invitees, who;
} commands[] = {
    {"issue", issue_cmd, true, true, true, true, false},
    {"revoke", revoke_cmd, true, false, false, false, true},
    {"reissue", reissue_cmd, true, true, true, false, true},
    {"list", list_cmd, true, false, false, false, false},
    {"check", check_cmd, true, false, false, false, false},
};

#define GO_ON (-1) /* parse(): the options are good, run the command */

static int bad_time(const char *name, const char *arg)
{
	return pcl_bad_usage(synopsis, "%s '%s' is not a time (use %s)", name, arg, WHEN_FORMATS);
}

static int parse(int argc, char **argv, const struct command *cmd, struct options *o)
{
	static const struct option long_opts[] = {
	    {"invitees", required_argument, NULL, OPT_INVITEES},
	    {"store", required_argument, NULL, OPT_STORE},
	    {"links", required_argument, NULL, OPT_LINKS},
	    {"base-url", required_argument, NULL, OPT_BASE},
	    {"valid-from", required_argument, NULL, OPT_FROM},
	    {"valid-until", required_argument, NULL, OPT_UNTIL},
	    {"event", required_argument, NULL, OPT_EVENT},
	    {"reissue", no_argument, NULL, OPT_REISSUE},
	    {"csv", no_argument, NULL, OPT_CSV},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_INVITEES:
			o->invitees = optarg;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case OPT_LINKS:
			o->links = optarg;
			break;
		case OPT_BASE:
			o->base_url = optarg;
			break;
		case OPT_FROM:
			if (!when_parse(optarg, &o->valid_from))
				return bad_time("--valid-from", optarg);
			break;
		case OPT_UNTIL:
			if (!when_parse(optarg, &o->valid_until))
				return bad_time("--valid-until", optarg);
			break;
		case OPT_EVENT:
			o->event = optarg;
			break;
		case OPT_REISSUE:
			o->reissue = true;
			break;
		case OPT_CSV:
			o->csv = true;
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION, argv, synopsis, usage,
			                         PUENTE_VERSION);
		}
	}
	o->who = argv + optind;
	o->n_who = argc - optind;
	if (!cmd)
		return pcl_bad_usage(synopsis,
		                     "which command? issue, revoke, reissue, list or check");
	if (cmd->store && !o->store)
		return pcl_bad_usage(synopsis, "%s needs --store FILE", cmd->name);
	if (cmd->invitees && !o->invitees)
		return pcl_bad_usage(synopsis, "%s needs --invitees FILE (the organiser's CSV)",
		                     cmd->name);
	if (cmd->links && !o->links)
		return pcl_bad_usage(synopsis, "%s needs --links FILE (where the new links go)",
		                     cmd->name);
	if (cmd->base_url && !o->base_url)
		return pcl_bad_usage(synopsis, "%s needs --base-url URL (the event's address)",
		                     cmd->name);
	if (o->base_url && !links_base_ok(o->base_url))
		return pcl_bad_usage(synopsis,
		                     "--base-url '%s' is not an http:// or https:// address "
		                     "without ? or #",
		                     o->base_url);
	if (cmd->who && !o->n_who)
		return pcl_bad_usage(synopsis, "%s needs at least one e-mail address or id",
		                     cmd->name);
	if (!cmd->who && o->n_who)
		return pcl_bad_usage(synopsis, "unexpected argument '%s'", o->who[0]);
	if (o->valid_from && o->valid_until && o->valid_until <= o->valid_from)
		return pcl_bad_usage(synopsis, "--valid-until is not after --valid-from");
	return GO_ON;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct puente_invitees list = {0};
	const struct command *cmd = NULL;
	int rc;

	pcl_set_prog(PROG);
	if (argc > 1 && argv[1][0] != '-') {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				cmd = &commands[i];
		if (!cmd)
			return pcl_bad_usage(synopsis, "unknown command '%s'", argv[1]);
		argc--;
		argv++;
	}
	rc = parse(argc, argv, cmd, &o);
	if (rc != GO_ON)
		return rc;
	rc = cmd->run(&o, &list);
	puente_invitees_free(&list);
	return rc;
}
