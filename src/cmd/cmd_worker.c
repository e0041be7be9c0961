/*
 * cmd_worker.c — `scrollkeep worker [--concurrency N] [--batch N] [--kinds K,…] [--once]`.
 */
#include <getopt.h>
#include <stdlib.h>

#include "command.h"
#include "jobs/worker.h"

static int number(const char *text, int lo, int hi)
{
	char *end;
	long v = strtol(text, &end, 10);
	return *end || v < lo || v > hi ? -1 : (int)v;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	static const struct option longopts[] = {{"concurrency", required_argument, NULL, 'c'},
	                                         {"batch", required_argument, NULL, 'b'},
	                                         {"once", no_argument, NULL, 'o'},
	                                         {"kinds", required_argument, NULL, 'k'},
	                                         {"poll-ms", required_argument, NULL, 'p'},
	                                         {"grace-ms", required_argument, NULL, 'g'},
	                                         {NULL, 0, NULL, 0}};
	struct worker_options opt;
	worker_defaults(&opt, cfg);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt.concurrency = number(optarg, 1, 256);
			break;
		case 'b':
			opt.batch = number(optarg, 1, 4096);
			break;
		case 'o':
			opt.once = true;
			break;
		case 'k':
			opt.kinds = optarg;
			break;
		case 'p':
			opt.poll_ms = number(optarg, 10, 60000);
			break;
		case 'g':
			opt.grace_ms = number(optarg, 0, 3600000);
			break;
		default:
			return command_usage(&cmd_worker);
		}
		if (opt.concurrency < 0 || opt.batch < 0 || opt.poll_ms < 0 || opt.grace_ms < 0)
			return command_usage(&cmd_worker);
	}
	if (optind != argc)
		return command_usage(&cmd_worker);
	struct sk_err err = {0};
	if (!cfg->database_url) {
		err_set(&err, PROBLEM_USAGE, "DATABASE_URL is not set");
		return command_fail(&cmd_worker, &err);
	}
	if (worker_run(&opt, &err) < 0)
		return command_fail(&cmd_worker, &err);
	return 0;
}

const struct command cmd_worker = {
        .name = "worker",
        .usage = "[--concurrency N] [--batch N] [--kinds KIND,...] [--once]",
        .summary = "run delivery jobs (until SIGTERM, or with --once until none is due)",
        .run = run,
};
