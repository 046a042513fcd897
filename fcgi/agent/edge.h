/*
 * edge.h - the application's edge nginx site: <edge_sites_dir>/app-<app_id>.conf.
 *
 * The site is rendered from the app's hostname and the loopback host
 * ports of its running containers (an upstream with keepalive; with no
 * container the server answers 503), written atomically (temp file +
 * rename), checked with nginx_test_command — the previous file is put back
 * when the check fails — and made live with edge_reload_command.
 */
#ifndef LAUNCHER_AGENT_EDGE_H
#define LAUNCHER_AGENT_EDGE_H

#include <stddef.h>

#include "conf.h"

#define EDGE_SITE_MAX 65536

/*
 * Renders the site into out (outlen bytes).  ports[0..n) are the loopback
 * host ports; n == 0 renders "return 503;".  Returns the length, or -1
 * when it does not fit.
 */
int edge_render(const char *app_id, const char *app_name, const char *deployment_id,
    const char *hostname, const char *listen, const int *ports, size_t n, char *out,
    size_t outlen);

/* The site's path (<edge_sites_dir>/app-<app_id>.conf); 0 or -1. */
int edge_path(const struct agent_conf *c, const char *app_id, char *out, size_t outlen);

/*
 * Installs content as the app's site: write, test (restoring the previous
 * file, or removing the new one, when the test fails), reload.  Refused,
 * before anything is written, when another app's site in edge_sites_dir
 * has the same server_name.  Returns 0, or -1 with the reason (nginx's
 * message) in err.
 */
int edge_install(const struct agent_conf *c, const char *app_id, const char *content,
    char *err, size_t errlen);

/* Removes the app's site (absent is fine), tests and reloads; 0 or -1 (err). */
int edge_remove(const struct agent_conf *c, const char *app_id, char *err, size_t errlen);

#endif
