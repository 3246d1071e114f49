/*
 * Logging for the relay: one line per event on stderr, with a level.
 * Any thread except the audio callbacks (which never log).
 */
#ifndef PUENTE_CORE_LOG_H
#define PUENTE_CORE_LOG_H

#include <stdarg.h>

#include <puente/plugin.h> /* enum puente_log_level */

void puente__log_set_level(enum puente_log_level level);
void puente__log(enum puente_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with a prefix (a plugin's name) and a va_list. */
void puente__logv(enum puente_log_level level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_error(...) puente__log(PUENTE_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  puente__log(PUENTE_LOG_WARN, __VA_ARGS__)
#define log_info(...)  puente__log(PUENTE_LOG_INFO, __VA_ARGS__)
#define log_debug(...) puente__log(PUENTE_LOG_DEBUG, __VA_ARGS__)

#endif
