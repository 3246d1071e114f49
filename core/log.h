/*
 * Logging for the relay: one line per event on stderr, with a level.
 * Any thread except the audio callbacks (which never log).
 */
#ifndef PUENTE_CORE_LOG_H
#define PUENTE_CORE_LOG_H

enum puente__log_level {
	PUENTE_LOG_ERROR = 0,
	PUENTE_LOG_WARN = 1,
	PUENTE_LOG_INFO = 2,
	PUENTE_LOG_DEBUG = 3,
};

void puente__log_set_level(enum puente__log_level level);
void puente__log(enum puente__log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) puente__log(PUENTE_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  puente__log(PUENTE_LOG_WARN, __VA_ARGS__)
#define log_info(...)  puente__log(PUENTE_LOG_INFO, __VA_ARGS__)
#define log_debug(...) puente__log(PUENTE_LOG_DEBUG, __VA_ARGS__)

#endif
