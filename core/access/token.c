/* Personal tokens: 128 random bits as base64url, and their SHA-256 in hex. */
#include "puente/access.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int puente_token_new(char token[PUENTE_TOKEN_LEN + 1])
{
	unsigned char raw[PUENTE_TOKEN_BYTES];
	size_t got = 0;
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	/* getrandom() blocks only until the kernel's pool is first seeded. */
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			token[n++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits)
		token[n++] = b64url[(acc << (6 - bits)) & 63];
	token[n] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

bool puente_token_wellformed(const char *token, size_t len)
{
	if (!token || len != PUENTE_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int puente_token_hash(const char *token, size_t len, char hash[PUENTE_TOKEN_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!puente_token_wellformed(token, len))
		return -EINVAL;
	if (!EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen * 2 != PUENTE_TOKEN_HASH_LEN)
		return -EIO;
	for (unsigned i = 0; i < mdlen; i++) {
		hash[2 * i] = hex[md[i] >> 4];
		hash[2 * i + 1] = hex[md[i] & 15];
	}
	hash[PUENTE_TOKEN_HASH_LEN] = '\0';
	return 0;
}

bool puente_token_hash_equal(const char *a, const char *b)
{
	/* Lengths are public (always 64); only the contents must not leak. */
	if (!a || !b || strlen(a) != PUENTE_TOKEN_HASH_LEN || strlen(b) != PUENTE_TOKEN_HASH_LEN)
		return false;
	return CRYPTO_memcmp(a, b, PUENTE_TOKEN_HASH_LEN) == 0;
}
