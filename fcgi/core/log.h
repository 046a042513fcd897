/*
 * log.h - line logging to stderr with time, pid, level and request id.
 *
 * Never pass secret values (passwords, keys, tokens, codes) to these
 * functions; SQL is logged by statement name only.
 */
#ifndef LAUNCHER_LOG_H
#define LAUNCHER_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level l);
int  log_level_parse(const char *s, enum log_level *out);
/* The request id (nginx $request_id) stamped on each line; NULL clears. */
void log_set_request_id(const char *rid);
void log_msg(enum log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
