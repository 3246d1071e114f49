/* Invitations: tokens, hashes, verdicts, the store file and role names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "puente/access.h"
#include "puente/plugin.h"

#define N_TOKENS 10000

/* printf %s Zm9vYmFyLWJhei1xdXV4LQ | sha256sum */
#define VECTOR_TOKEN "Zm9vYmFyLWJhei1xdXV4LQ"
#define VECTOR_HASH  "d984c2ee8900fa891fdf748e836f1f054ea45852f8dd75f8307d648d9973d634"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/puente-test-access-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	(void)state;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static const char *file_with(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int cmp_token(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_token_new(void **state)
{
	static char tokens[N_TOKENS][PUENTE_TOKEN_LEN + 1];
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	bool seen[256] = {false};

	(void)state;
	for (int i = 0; i < N_TOKENS; i++) {
		assert_int_equal(puente_token_new(tokens[i]), 0);
		assert_int_equal(strlen(tokens[i]), PUENTE_TOKEN_LEN);
		assert_true(puente_token_wellformed(tokens[i], PUENTE_TOKEN_LEN));
		for (int j = 0; j < PUENTE_TOKEN_LEN; j++)
			seen[(unsigned char)tokens[i][j]] = true;
	}
	qsort(tokens, N_TOKENS, sizeof(tokens[0]), cmp_token);
	for (int i = 1; i < N_TOKENS; i++)
		assert_string_not_equal(tokens[i - 1], tokens[i]);
	for (const char *c = alphabet; *c; c++)
		if (!seen[(unsigned char)*c])
			fail_msg("character '%c' never appeared in %d tokens", *c, N_TOKENS);
}

static void test_token_hash_vector(void **state)
{
	char hash[PUENTE_TOKEN_HASH_LEN + 1];

	(void)state;
	assert_int_equal(puente_token_hash(VECTOR_TOKEN, strlen(VECTOR_TOKEN), hash), 0);
	assert_string_equal(hash, VECTOR_HASH);
}

static void test_hash_equal(void **state)
{
	char first[] = VECTOR_HASH, last[] = VECTOR_HASH;

	(void)state;
	first[0] = 'e';
	last[PUENTE_TOKEN_HASH_LEN - 1] = '5';
	assert_true(puente_token_hash_equal(VECTOR_HASH, VECTOR_HASH));
	assert_false(puente_token_hash_equal(VECTOR_HASH, first));
	assert_false(puente_token_hash_equal(VECTOR_HASH, last));
	assert_false(puente_token_hash_equal(last, VECTOR_HASH));
	assert_false(puente_token_hash_equal(VECTOR_HASH, "d984c2ee"));
	assert_false(puente_token_hash_equal(VECTOR_HASH, NULL));
}

/* A list with one entry per token given; its not_before/not_after/revoked_at from the args. */
static void one_invitee(struct puente_invitees *list, const char *id, const char *token,
                        int64_t not_before, int64_t not_after, int64_t revoked_at)
{
	char hash[PUENTE_TOKEN_HASH_LEN + 1];
	char email[64];
	struct puente_invitee inv = {.id = (char *)id,
	                             .hash = hash,
	                             .email = email,
	                             .role = "listener",
	                             .not_before = not_before,
	                             .not_after = not_after,
	                             .revoked_at = revoked_at};

	snprintf(email, sizeof(email), "%s@example.org", id);
	assert_int_equal(puente_token_hash(token, strlen(token), hash), 0);
	assert_int_equal(puente_invitees_add(list, &inv), 0);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "Zm9vYmFyLWJhei1xdXV4L",
	    "Zm9vYmFyLWJhei1xdXV4LQA",
	    "Zm9vYmFyLWJhei1xdXV4L+",
	    "Zm9vYmFyLWJhei1xdXV4L/",
	    "Zm9vYmFyLWJhei1xdXV4L=",
	    "Zm9vYmFyLWJhei1xdXV4L ",
	    "Zm9vYmFyLWJhé1xdXV4LQ",
	};
	struct puente_invitees list = {0};
	char hash[PUENTE_TOKEN_HASH_LEN + 1];
	char nul[PUENTE_TOKEN_LEN + 1] = VECTOR_TOKEN;
	size_t index = 99;

	(void)state;
	one_invitee(&list, "p0001", VECTOR_TOKEN, 0, 0, 0);
	nul[5] = '\0';
	assert_false(puente_token_wellformed(nul, PUENTE_TOKEN_LEN));
	assert_int_equal(puente_token_hash(nul, PUENTE_TOKEN_LEN, hash), -EINVAL);
	assert_int_equal(puente_invitees_check(&list, nul, PUENTE_TOKEN_LEN, 0, 0, &index),
	                 PUENTE_ACCESS_MALFORMED);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(puente_token_wellformed(bad[i], strlen(bad[i])));
		assert_int_equal(puente_token_hash(bad[i], strlen(bad[i]), hash), -EINVAL);
		assert_int_equal(puente_invitees_check(&list, bad[i], strlen(bad[i]), 0, 0, &index),
		                 PUENTE_ACCESS_MALFORMED);
	}
	/* A prefix of a good token is not the token. */
	assert_int_equal(puente_invitees_check(&list, VECTOR_TOKEN, 21, 0, 0, &index),
	                 PUENTE_ACCESS_MALFORMED);
	assert_int_equal(index, 99);
	puente_invitees_free(&list);
}

static enum puente_verdict at(const struct puente_invitees *list, const char *token, int64_t now,
                              size_t *index)
{
	return puente_invitees_check(list, token, strlen(token), now, 30, index);
}

static void test_window_edges(void **state)
{
	struct puente_invitees list = {0};
	char a[PUENTE_TOKEN_LEN + 1], b[PUENTE_TOKEN_LEN + 1], c[PUENTE_TOKEN_LEN + 1];
	size_t index = 99;

	(void)state;
	assert_int_equal(puente_token_new(a), 0);
	assert_int_equal(puente_token_new(b), 0);
	assert_int_equal(puente_token_new(c), 0);
	one_invitee(&list, "p0001", a, 0, 0, 0);
	one_invitee(&list, "p0002", b, 1000, 2000, 0);
	one_invitee(&list, "p0003", c, 1000, 0, 0);

	assert_int_equal(at(&list, b, 969, &index), PUENTE_ACCESS_NOT_YET);
	assert_int_equal(index, 1);
	index = 99;
	assert_int_equal(at(&list, b, 970, &index), PUENTE_ACCESS_OK);
	assert_int_equal(index, 1);
	assert_int_equal(at(&list, b, 1500, &index), PUENTE_ACCESS_OK);
	assert_int_equal(at(&list, b, 2030, &index), PUENTE_ACCESS_OK);
	index = 99;
	assert_int_equal(at(&list, b, 2031, &index), PUENTE_ACCESS_EXPIRED);
	assert_int_equal(index, 1);
	/* Without tolerance the window is exact. */
	assert_int_equal(puente_invitees_check(&list, b, PUENTE_TOKEN_LEN, 999, 0, &index),
	                 PUENTE_ACCESS_NOT_YET);
	assert_int_equal(puente_invitees_check(&list, b, PUENTE_TOKEN_LEN, 1000, 0, &index),
	                 PUENTE_ACCESS_OK);
	assert_int_equal(puente_invitees_check(&list, b, PUENTE_TOKEN_LEN, 2000, 0, &index),
	                 PUENTE_ACCESS_OK);
	assert_int_equal(puente_invitees_check(&list, b, PUENTE_TOKEN_LEN, 2001, 0, &index),
	                 PUENTE_ACCESS_EXPIRED);
	/* 0 = no limit on that side. */
	assert_int_equal(at(&list, a, 0, &index), PUENTE_ACCESS_OK);
	assert_int_equal(index, 0);
	assert_int_equal(at(&list, a, INT64_C(4000000000), &index), PUENTE_ACCESS_OK);
	assert_int_equal(at(&list, c, 969, &index), PUENTE_ACCESS_NOT_YET);
	assert_int_equal(at(&list, c, INT64_C(4000000000), &index), PUENTE_ACCESS_OK);
	assert_int_equal(index, 2);
	puente_invitees_free(&list);
}

static void test_revoked_and_unknown(void **state)
{
	struct puente_invitees list = {0};
	char a[PUENTE_TOKEN_LEN + 1], b[PUENTE_TOKEN_LEN + 1], stranger[PUENTE_TOKEN_LEN + 1];
	size_t index = 99;

	(void)state;
	assert_int_equal(puente_token_new(a), 0);
	assert_int_equal(puente_token_new(b), 0);
	assert_int_equal(puente_token_new(stranger), 0);
	one_invitee(&list, "p0001", a, 0, 0, 0);
	one_invitee(&list, "p0002", b, 1000, 2000, 1500);

	/* Revoked wins over the window, inside and outside it. */
	assert_int_equal(at(&list, b, 1200, &index), PUENTE_ACCESS_REVOKED);
	assert_int_equal(index, 1);
	assert_int_equal(at(&list, b, 5000, &index), PUENTE_ACCESS_REVOKED);
	assert_int_equal(at(&list, a, 1200, &index), PUENTE_ACCESS_OK);
	assert_int_equal(index, 0);
	index = 99;
	assert_int_equal(at(&list, stranger, 1200, &index), PUENTE_ACCESS_UNKNOWN);
	assert_int_equal(index, 99);

	/* An empty list knows nobody. */
	puente_invitees_free(&list);
	assert_int_equal(at(&list, a, 1200, &index), PUENTE_ACCESS_UNKNOWN);

	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_OK), "ok");
	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_MALFORMED), "malformed");
	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_UNKNOWN), "unknown");
	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_NOT_YET), "not_yet");
	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_EXPIRED), "expired");
	assert_string_equal(puente_verdict_name(PUENTE_ACCESS_REVOKED), "revoked");
}

static void assert_same_string(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void test_store_round_trip(void **state)
{
	struct puente_invitees list = {.event = "Conversatorio 2026 — Sesión 1"}, back;
	struct puente_invitee ana = {.id = "p0001",
	                             .hash = VECTOR_HASH,
	                             .email = "ana@example.org",
	                             .name = "Ana Pérez Muñoz",
	                             .role = "interpreter",
	                             .lang = "es",
	                             .country = "CR",
	                             .sector = "government",
	                             .gender = "female",
	                             .booths = "es,en",
	                             .not_before = 1795870800,
	                             .not_after = 1795903200};
	struct puente_invitee zoe = {
	    .id = "p0002",
	    .hash = "0000000000000000000000000000000000000000000000000000000000000000",
	    .email = "Zoe@Example.org",
	    .name = "Zoë \"Z\" Øster, 李",
	    .role = "captioner",
	    .languages = "en",
	    .revoked_at = 1795880000};
	char path[512], err[256] = "";
	struct stat st;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	list.event = strdup(list.event);
	assert_int_equal(puente_invitees_add(&list, &ana), 0);
	assert_int_equal(puente_invitees_add(&list, &zoe), 0);
	snprintf(path, sizeof(path), "%s/invitees.json", dir);
	assert_int_equal(puente_invitees_save(path, &list, err, sizeof(err)), 0);
	/* Saving again replaces the file (the rename path over an existing one). */
	assert_int_equal(puente_invitees_save(path, &list, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	d = opendir(dir);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1); /* no temporary file left behind */

	assert_int_equal(puente_invitees_load(path, &back, err, sizeof(err)), 0);
	assert_string_equal(back.event, list.event);
	assert_int_equal(back.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct puente_invitee *x = &list.v[i], *y = &back.v[i];

		assert_same_string(x->id, y->id);
		assert_same_string(x->hash, y->hash);
		assert_same_string(x->email, y->email);
		assert_same_string(x->name, y->name);
		assert_same_string(x->role, y->role);
		assert_same_string(x->lang, y->lang);
		assert_same_string(x->country, y->country);
		assert_same_string(x->sector, y->sector);
		assert_same_string(x->gender, y->gender);
		assert_same_string(x->booths, y->booths);
		assert_same_string(x->languages, y->languages);
		assert_int_equal(x->not_before, y->not_before);
		assert_int_equal(x->not_after, y->not_after);
		assert_int_equal(x->revoked_at, y->revoked_at);
	}
	assert_null(back.v[1].lang);
	assert_null(back.v[0].languages);

	assert_int_equal(puente_invitees_find(&back, "ana@example.org"), 0);
	assert_int_equal(puente_invitees_find(&back, "ANA@example.ORG"), 0);
	assert_int_equal(puente_invitees_find(&back, "zoe@example.org"), 1);
	assert_int_equal(puente_invitees_find(&back, "p0002"), 1);
	assert_int_equal(puente_invitees_find(&back, "P0002"), -1);
	assert_int_equal(puente_invitees_find(&back, "nobody@example.org"), -1);
	puente_invitees_free(&back);

	/* A directory that does not exist: an error naming the file, and nothing else. */
	snprintf(path, sizeof(path), "%s/missing/invitees.json", dir);
	assert_int_equal(puente_invitees_save(path, &list, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing/invitees.json: cannot write the store"));
	puente_invitees_free(&list);
	snprintf(path, sizeof(path), "%s/invitees.json", dir);
	unlink(path);
}

#define ENTRY(id, email, role, hash)                                                               \
	"{\"id\": \"" id "\", \"hash\": \"" hash "\", \"email\": \"" email "\", \"name\": null, "  \
	"\"role\": \"" role "\"}"
#define H  VECTOR_HASH
#define H2 "1111111111111111111111111111111111111111111111111111111111111111"

static void expect_load_error(const char *text, const char *message)
{
	struct puente_invitees list;
	const char *path = file_with("bad.json", text);
	char err[256] = "", expected[512];

	assert_int_equal(puente_invitees_load(path, &list, err, sizeof(err)), -EINVAL);
	snprintf(expected, sizeof(expected), "%s: %s", path, message);
	assert_string_equal(err, expected);
	assert_int_equal(list.n, 0);
	assert_null(list.v);
	unlink(path);
}

static void test_load_errors(void **state)
{
	struct puente_invitees list;
	char err[256] = "", missing[512];

	(void)state;
	expect_load_error(
	    "{\"version\": 1, \"invitees\": [" ENTRY("p0001", "ana@example.org", "listener",
	                                             H) ", " ENTRY("p0002", "ANA@Example.org",
	                                                           "listener", H2) "]}",
	    "entry 2 (p0002): e-mail ANA@Example.org already used by entry 1 (p0001)");
	expect_load_error(
	    "{\"invitees\": [" ENTRY("p0001", "a@example.org", "listener",
	                             H) ", " ENTRY("p0001", "b@example.org", "listener", H2) "]}",
	    "entry 2 (p0001): id already used by entry 1");
	expect_load_error("{\"invitees\": [" ENTRY("p0001", "a@example.org", "chair", H) "]}",
	                  "entry 1 (p0001): unknown role \"chair\"");
	expect_load_error(
	    "{\"invitees\": [" ENTRY("p0001", "a@example.org", "listener", "d984c2ee") "]}",
	    "entry 1 (p0001): hash is not 64 lowercase hex digits");
	expect_load_error(
	    "{\"invitees\": [" ENTRY(
	        "p0001", "a@example.org", "listener",
	        "D984C2EE8900FA891FDF748E836F1F054EA45852F8DD75F8307D648D9973D634") "]}",
	    "entry 1 (p0001): hash is not 64 lowercase hex digits");
	expect_load_error("{\"invitees\": [{\"id\": \"p0001\", \"email\": \"a@example.org\", "
	                  "\"role\": \"listener\"}]}",
	                  "entry 1 (p0001): no hash");
	expect_load_error("{\"invitees\": [{\"hash\": \"" H "\"}]}", "entry 1: no id");
	expect_load_error("{\"invitees\": [" ENTRY("p0001", "a@example.org", "listener", H) ", 3]}",
	                  "entry 2: not a JSON object");
	expect_load_error(
	    "{\"invitees\": [{\"id\": \"p0001\", \"hash\": \"" H "\", \"email\": "
	    "\"a@example.org\", \"role\": \"listener\", \"not_after\": \"tomorrow\"}]}",
	    "entry 1 (p0001): times must be unix seconds (0 for none)");
	expect_load_error("{\"invitees\": [{\"id\": \"p0001\", \"hash\": \"" H "\", \"email\": "
	                  "\"a@example.org\", \"role\": \"listener\", \"booths\": 3}]}",
	                  "entry 1 (p0001): \"booths\" is not a string");
	expect_load_error("{\"version\": 2, \"invitees\": []}",
	                  "store version not supported (this puente reads version 1)");
	expect_load_error("[]", "not an invitee store (no \"invitees\" list)");
	expect_load_error("email,name\nana@example.org,Ana\n",
	                  "not JSON (line 1: '[' or '{' expected near 'email')");

	snprintf(missing, sizeof(missing), "%s/missing.json", dir);
	assert_int_equal(puente_invitees_load(missing, &list, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing.json: No such file or directory"));
}

static void test_load_normalises_roles(void **state)
{
	struct puente_invitees list;
	const char *path =
	    file_with("roles.json",
	              "{\"invitees\": [" ENTRY("p0001", "a@example.org", "moderator", H) ", " ENTRY(
	                  "p0002", "b@example.org", "Interpreter", H2) "]}");
	char err[256] = "";

	(void)state;
	assert_int_equal(puente_invitees_load(path, &list, err, sizeof(err)), 0);
	assert_string_equal(list.v[0].role, "organiser");
	assert_string_equal(list.v[1].role, "interpreter");
	assert_null(list.event);
	assert_null(list.v[0].name);
	assert_int_equal(list.v[0].not_before, 0);
	puente_invitees_free(&list);
	unlink(path);
}

static void test_roles(void **state)
{
	(void)state;
	assert_int_equal(puente_role_from_name("listener"), PUENTE_ROLE_LISTENER);
	assert_int_equal(puente_role_from_name("interpreter"), PUENTE_ROLE_INTERPRETER);
	assert_int_equal(puente_role_from_name("captioner"), PUENTE_ROLE_CAPTIONER);
	assert_int_equal(puente_role_from_name("technician"), PUENTE_ROLE_TECHNICIAN);
	assert_int_equal(puente_role_from_name("organiser"), PUENTE_ROLE_ORGANISER);
	assert_int_equal(puente_role_from_name("moderator"), PUENTE_ROLE_ORGANISER);
	assert_int_equal(puente_role_from_name("Captioner"), PUENTE_ROLE_CAPTIONER);
	assert_int_equal(puente_role_from_name("chair"), -1);
	assert_int_equal(puente_role_from_name(""), -1);
	assert_int_equal(puente_role_from_name(NULL), -1);

	assert_string_equal(puente_role_to_name(PUENTE_ROLE_LISTENER), "listener");
	assert_string_equal(puente_role_to_name(PUENTE_ROLE_INTERPRETER), "interpreter");
	assert_string_equal(puente_role_to_name(PUENTE_ROLE_CAPTIONER), "captioner");
	assert_string_equal(puente_role_to_name(PUENTE_ROLE_TECHNICIAN), "technician");
	assert_string_equal(puente_role_to_name(PUENTE_ROLE_ORGANISER), "organiser");
	assert_null(puente_role_to_name(-1));
	assert_null(puente_role_to_name(PUENTE_ROLE_COUNT));

	assert_string_equal(puente_role_page(PUENTE_ROLE_LISTENER), "/");
	assert_string_equal(puente_role_page(PUENTE_ROLE_INTERPRETER), "/interpretation/");
	assert_string_equal(puente_role_page(PUENTE_ROLE_CAPTIONER), "/captions/");
	assert_string_equal(puente_role_page(PUENTE_ROLE_TECHNICIAN), "/levels/");
	assert_string_equal(puente_role_page(PUENTE_ROLE_ORGANISER), "/levels/");
	assert_string_equal(puente_role_page(puente_role_from_name("moderator")), "/levels/");
	assert_null(puente_role_page(PUENTE_ROLE_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_new),
	    cmocka_unit_test(test_token_hash_vector),
	    cmocka_unit_test(test_hash_equal),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_window_edges),
	    cmocka_unit_test(test_revoked_and_unknown),
	    cmocka_unit_test(test_store_round_trip),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_normalises_roles),
	    cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
