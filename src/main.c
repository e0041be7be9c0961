/*
 * main.c — the scrollkeep binary: read the environment, find the subcommand, run it.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd/command.h"
#include "core/config.h"
#include "core/log.h"

#ifndef SCROLLKEEP_VERSION
#define SCROLLKEEP_VERSION "0.1.0"
#endif

static void print_help(FILE *out)
{
	fprintf(out,
	        "scrollkeep %s — the persistence layer behind the oracle\n\nusage: scrollkeep COMMAND [ARGS]\n\n",
	        SCROLLKEEP_VERSION);
	for (size_t i = 0; i < command_count; i++)
		fprintf(out, "  %-9s %s\n            %s %s\n", commands[i]->name,
		        commands[i]->summary, commands[i]->name, commands[i]->usage);
	fprintf(out,
	        "\nConfiguration comes from the environment (see README.md). Exit status: 0 ok,\n"
	        "1 a finding or failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	/* Peers that hang up must not kill the process; libpq and libmicrohttpd see EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* Not thread-safe, so once, before any thread starts. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_configure(LOG_INFO, stderr);

	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		print_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("scrollkeep %s\n", SCROLLKEEP_VERSION);
		return 0;
	}
	const struct command *cmd = command_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "scrollkeep: unknown command '%s' (scrollkeep help lists them)\n",
		        argv[1]);
		return 2;
	}
	struct config cfg;
	struct sk_err err = {0};
	if (config_load(&cfg, &err) < 0)
		return command_fail(cmd, &err);
	return cmd->run(argc - 1, argv + 1, &cfg);
}
