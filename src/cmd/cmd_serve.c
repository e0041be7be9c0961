/*
 * cmd_serve.c — `scrollkeep serve`: the HTTP API until SIGINT or SIGTERM.
 *
 * SIGINT and SIGTERM are blocked before any thread starts (so every thread inherits the
 * mask) and taken with sigwait() in the main thread: a stop is an ordinary event here, not
 * an async-signal handler. On a stop the server stops accepting, lets requests in flight
 * finish, and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "command.h"
#include "core/log.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	(void)argv;
	if (argc != 1)
		return command_usage(&cmd_serve);
	struct sk_err err = {0};
	if (!cfg->database_url) {
		err_set(&err, PROBLEM_USAGE, "DATABASE_URL is not set");
		return command_fail(&cmd_serve, &err);
	}

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	struct app app = {.cfg = cfg};
	if (migrations_scan(cfg->migrations_dir, &app.expected, &err) == 0)
		app.expected_known = true;
	else
		log_warn("migrations_unreadable", LF_STR("reason_code", "scan_failed"));
	api_lab_load(&app);

	/* One connection per HTTP thread, and a few for the paths that hold two. */
	struct db_options opt = {.app_name = "scrollkeep-serve", .statement_timeout_ms = 15000};
	app.pool = db_pool_new(cfg->database_url, &opt, cfg->http_threads + 2);
	app.stripe_ingest = stripe_ingest_new(cfg->database_url);
	if (!app.pool || !app.stripe_ingest) {
		err_set(&err, PROBLEM_INTERNAL, "out of memory");
		stripe_ingest_free(app.stripe_ingest);
		db_pool_free(app.pool);
		migrations_free(&app.expected);
		api_lab_free(&app);
		return command_fail(&cmd_serve, &err);
	}

	struct http_server_options hopt = {
	        .host = cfg->listen_host,
	        .port = cfg->listen_port,
	        .threads = cfg->http_threads,
	        .routes = api_routes,
	        .nroutes = api_route_count,
	        .app = &app,
	        .connection_timeout_s = 15,
	};
	struct http_server *srv = http_server_start(&hopt, &err);
	if (!srv) {
		stripe_ingest_free(app.stripe_ingest);
		db_pool_free(app.pool);
		migrations_free(&app.expected);
		api_lab_free(&app);
		return command_fail(&cmd_serve, &err);
	}

	char url[128];
	bool v6 = strchr(cfg->listen_host, ':') != NULL;
	snprintf(url, sizeof(url), "http://%s%s%s:%u", v6 ? "[" : "", cfg->listen_host,
	         v6 ? "]" : "", http_server_port(srv));
	log_info("server_listening", LF_STR("url", url), LF_INT("threads", cfg->http_threads));
	printf("scrollkeep serving %s\n", url);
	fflush(stdout);

	int sig = 0;
	sigwait(&stop, &sig);
	log_info("server_stopping", LF_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
	/* The webhook's parked requests are answered by the ingest, which must be done with them
	 * (and their answers sent) before the server stops. */
	http_server_drain(srv, 5000);
	stripe_ingest_stop(app.stripe_ingest);
	http_server_stop(srv, 2000);
	stripe_ingest_free(app.stripe_ingest);
	db_pool_free(app.pool);
	migrations_free(&app.expected);
	api_lab_free(&app);
	log_info("server_stopped", LF_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
	return 0;
}

const struct command cmd_serve = {
        .name = "serve",
        .usage = "",
        .summary = "run the HTTP API (SCROLLKEEP_LISTEN, default 127.0.0.1:8080)",
        .run = run,
};
