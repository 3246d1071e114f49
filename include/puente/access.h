/*
 * Invitations: personal tokens and the invitee list ("store") that the relay
 * checks them against. Shared by the relay, tools/puente-token and
 * tools/puente-report (library puente_access, core/access/).
 *
 * A token is 128 bits from the OS CSPRNG, written as 22 characters of
 * base64url. Only its SHA-256 (OpenSSL) is ever stored; the token itself
 * lives in the invitee's link and nowhere else.
 */
#ifndef PUENTE_ACCESS_H
#define PUENTE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUENTE_TOKEN_BYTES    16 /* 128 random bits */
#define PUENTE_TOKEN_LEN      22 /* characters of base64url, no padding */
#define PUENTE_TOKEN_HASH_LEN 64 /* hex SHA-256 */

/* A fresh token, NUL-terminated. 0, or -errno when the CSPRNG fails. */
int puente_token_new(char token[PUENTE_TOKEN_LEN + 1]);
/* True for exactly PUENTE_TOKEN_LEN characters of [A-Za-z0-9_-]. */
bool puente_token_wellformed(const char *token, size_t len);
/* Hex SHA-256 of a well-formed token. 0, or -EINVAL when it is malformed. */
int puente_token_hash(const char *token, size_t len, char hash[PUENTE_TOKEN_HASH_LEN + 1]);
/* Compares two hex hashes in time independent of where they differ. */
bool puente_token_hash_equal(const char *a, const char *b);

/* One invited person. Strings are owned by the list; NULL when absent. */
struct puente_invitee {
	char *id;    /* stable, not secret ("p0001"): what the attendance log names */
	char *hash;  /* hex SHA-256 of the current token */
	char *email; /* unique, compared case-insensitively */
	char *name;
	char *role;         /* listener, interpreter, captioner, technician, organiser */
	char *lang;         /* preferred language ("es", "en") */
	char *country;      /* optional, free text or ISO code */
	char *sector;       /* optional */
	char *gender;       /* optional */
	char *booths;       /* interpreters: comma-separated booth names; NULL = any */
	char *languages;    /* captioners: comma-separated caption languages; NULL = any */
	int64_t not_before; /* unix seconds; 0 = no start */
	int64_t not_after;  /* unix seconds; 0 = no end */
	int64_t revoked_at; /* unix seconds; 0 = not revoked */
};

struct puente_invitees {
	struct puente_invitee *v;
	size_t n, cap;
	char *event; /* optional title */
};

/*
 * Reads a store (JSON, written by puente_invitees_save). On error returns
 * -errno or -EINVAL and writes one line to err ("invitees.json: entry 3: no
 * hash"). Unknown roles, duplicate e-mails or ids, and malformed hashes
 * are errors.
 */
int puente_invitees_load(const char *path, struct puente_invitees *out, char *err, size_t errlen);
/* Writes atomically (temporary file, fsync, rename), mode 0600. */
int puente_invitees_save(const char *path, const struct puente_invitees *list, char *err,
                         size_t errlen);
void puente_invitees_free(struct puente_invitees *list);
/* Appends a copy of inv (strings duplicated). 0 or -ENOMEM. */
int puente_invitees_add(struct puente_invitees *list, const struct puente_invitee *inv);
/* Index of the invitee with this e-mail (case-insensitive) or id, or -1. */
long puente_invitees_find(const struct puente_invitees *list, const char *email_or_id);

enum puente_verdict {
	PUENTE_ACCESS_OK,
	PUENTE_ACCESS_MALFORMED, /* not a token at all */
	PUENTE_ACCESS_UNKNOWN,   /* well-formed, matches nobody */
	PUENTE_ACCESS_NOT_YET,   /* before not_before (minus tolerance) */
	PUENTE_ACCESS_EXPIRED,   /* after not_after (plus tolerance) */
	PUENTE_ACCESS_REVOKED,
};

/*
 * Judges a presented token at wall-clock time now (unix seconds), allowing
 * tolerance seconds of clock skew at either end of the validity window.
 * Every entry is compared, each in constant time, so the time taken does
 * not depend on which entry (if any) matches. *index is set for every
 * verdict except MALFORMED and UNKNOWN.
 */
enum puente_verdict puente_invitees_check(const struct puente_invitees *list, const char *token,
                                          size_t len, int64_t now, int64_t tolerance,
                                          size_t *index);
/* "ok", "malformed", "unknown", "not_yet", "expired", "revoked". */
const char *puente_verdict_name(enum puente_verdict v);

/* Role names as in the store; "moderator" is read as "organiser". -1 if unknown. */
int puente_role_from_name(const char *name);
const char *puente_role_to_name(int role);
/* The page a role's personal link opens: "/", "/interpretation/", "/captions/", "/levels/". */
const char *puente_role_page(int role);

#endif
