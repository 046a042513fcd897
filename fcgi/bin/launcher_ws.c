/*
 * launcher_ws.c - the WebSocket daemon behind nginx's /<tenant>/ws/
 * location (fcgi/ws/ws.h).
 *
 *   launcher-ws -c FILE     reads the plane's config (database_url,
 *                           master_key_file, ws_listen, socket_mode,
 *                           socket_group, user, log_level)
 *
 * SIGTERM/SIGINT: close every socket and exit.  SIGHUP is ignored (the
 * configuration is read once; restart the daemon to change it): a stray
 * one from a log rotation must not drop every agent's channel.  A rotation
 * of the master key (launcher-admin rotate-master-key) needs no reload
 * here: the daemon checks agent tokens with the keyed-hash key derived
 * from key 0, which a rotation never changes, and opens no sealed value.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/db_conn.h"
#include "../core/log.h"
#include "../ws/ws.h"

static volatile int stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct config      cfg;
	struct crypto_keys keys;
	struct sigaction   sa;
	enum log_level     l;
	char               err[512];
	int                rc;

	db_conn_check_names();
	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "usage: launcher-ws -c FILE\n");
		return 2;
	}
	if (config_load(&cfg, argv[2], err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-ws: %s\n", err);
		return 1;
	}
	if (log_level_parse(cfg.log_level, &l) == 0)
		log_set_level(l);
	if (crypto_keys_load(&keys, cfg.master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-ws: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: the loop's poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	rc = ws_server_run(&cfg, &keys, &stop);
	crypto_keys_wipe(&keys);
	return rc;
}
