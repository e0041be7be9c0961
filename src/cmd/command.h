/*
 * command.h — one subcommand of the scrollkeep binary.
 *
 * Each command lives in its own file (cmd_<name>.c) and is listed once in commands.c:
 * adding a command is adding a file and a line. run() returns the process exit status:
 * 0 success, 1 a finding or a failure, 2 bad usage; errors are one line on stderr.
 */
#ifndef SK_COMMAND_H
#define SK_COMMAND_H

#include "core/config.h"
#include "core/err.h"

struct command {
	const char *name;
	const char *usage;   /* the arguments after the name */
	const char *summary; /* one line for `scrollkeep help` */
	int (*run)(int argc, char **argv, const struct config *cfg);
};

/* The table, in the order `scrollkeep help` prints it. */
extern const struct command *const commands[];
extern const size_t command_count;

const struct command *command_find(const char *name);

/* Print "scrollkeep NAME: detail" on stderr and return the exit status for err. */
int command_fail(const struct command *cmd, const struct sk_err *err);

/* Print "usage: scrollkeep NAME USAGE" on stderr and return 2. */
int command_usage(const struct command *cmd);

/* Parse the arguments of a command whose only option is --json. Returns 0, or the usage exit
 * status (2, usage printed) for anything else. */
int command_json_only(const struct command *cmd, int argc, char **argv, bool *as_json);

/* The command every command file defines. */
extern const struct command cmd_migrate, cmd_serve, cmd_worker, cmd_jobs, cmd_verify, cmd_sweep,
        cmd_doctor, cmd_rls_map, cmd_shop, cmd_stripe, cmd_audit, cmd_privacy, cmd_backup,
        cmd_restore, cmd_lab, cmd_demo;

#endif
