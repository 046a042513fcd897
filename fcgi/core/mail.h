/*
 * mail.h - plain-text e-mail over SMTP with libcurl.
 *
 * Called after the response has been sent (http_after), so neither the
 * SMTP server's latency nor its failure shows in the API's answer time.
 */
#ifndef LAUNCHER_MAIL_H
#define LAUNCHER_MAIL_H

#include "config.h"

/* 0 on success; -1 logged (never with the body, which may hold a code). */
int mail_send(const struct config *cfg, const char *to, const char *subject,
    const char *body);

#endif
