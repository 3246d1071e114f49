/*
 * Caption text: strict UTF-8 validation, code points, cleaning, truncation at
 * code-point boundaries, and log-safe excerpts. Pure functions; any thread.
 */
#ifndef PUENTE_CAPTIONS_TEXT_H
#define PUENTE_CAPTIONS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether s[0..len) is UTF-8 as RFC 3629 defines it: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated or stray
 * sequence. NUL bytes are valid UTF-8 (cleaning strips them).
 */
bool text_utf8_valid(const char *s, size_t len);

/* Code points in valid UTF-8 s[0..len) (bytes that do not continue a sequence). */
size_t text_chars(const char *s, size_t len);

/*
 * Cleans valid UTF-8 text for captions, writing to out (which may be s; at
 * least len + 1 bytes) and returning the new length; out is NUL-terminated.
 * Control characters are stripped (C0 but '\n', DEL, C1 U+0080..U+009F; so a
 * CR LF becomes '\n'), a tab becomes a space, and spaces and line breaks at the
 * start and end of the whole text are trimmed. Everything else (bidi controls,
 * zero-width characters, combining marks) passes as text.
 */
size_t text_clean(char *out, const char *s, size_t len);

/* The longest prefix of valid UTF-8 s[0..len) of at most max bytes that ends on a code point. */
size_t text_cut(const char *s, size_t len, size_t max);

/* The length in bytes of the first max_chars code points of valid UTF-8 s[0..len). */
size_t text_cut_chars(const char *s, size_t len, size_t max_chars);

/*
 * A log-safe excerpt of s (any bytes) into out (cap > 0 bytes, always
 * NUL-terminated): at most max_chars code points; '\n' as "\n", a backslash
 * doubled, other control characters, invalid bytes and characters that
 * reorder or hide text (bidi controls, zero-width, BOM) as \xNN or \u{XXXX};
 * "..." when cut (Icecast CVE-2011-4612: a log must not be writable by input).
 */
void text_excerpt(char *out, size_t cap, const char *s, size_t len, size_t max_chars);

#endif
