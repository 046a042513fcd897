/*
 * mail.h - plain-text e-mail over SMTP with libcurl.
 *
 * Called after the response has been sent (http_after), so neither the
 * SMTP server's latency nor its failure shows in the API's answer time.
 */
#ifndef LAUNCHER_MAIL_H
#define LAUNCHER_MAIL_H

#include "config.h"

#include <stddef.h>

/* Where a message goes: the plane's server (launcher.conf smtp_url) or a
 * tenant's (GET/PUT /settings/smtp, launcher-notify). */
struct mail_server {
	const char *url;	/* smtp://host:port or smtps://host:port (implicit TLS) */
	const char *from;	/* envelope and From: address */
	const char *user;	/* "" or NULL: no AUTH */
	const char *password;
	int         starttls;	/* 1: STARTTLS required (smtp://); 0: as the URL says */
	long        timeout;	/* seconds for the whole exchange */
	/* A connection may go there (launcher-notify's SSRF check), NULL: any. */
	int       (*open_ok)(void *ud, const void *sockaddr);
	void       *ud;
};

/* 0 on success; -1 logged (never with the body, which may hold a code). */
int mail_send(const struct config *cfg, const char *to, const char *subject,
    const char *body);

/*
 * The same to the nto addresses to[] through s; err (errlen bytes, may be
 * NULL) gets why it failed (libcurl's words, never the password or body).
 * 0 on success, -1.
 */
int mail_send_via(const struct mail_server *s, const char *const *to, size_t nto,
    const char *subject, const char *body, char *err, size_t errlen);

#endif
