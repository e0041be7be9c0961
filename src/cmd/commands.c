/*
 * commands.c — the table of subcommands.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "command.h"

const struct command *const commands[] = {
        &cmd_migrate, &cmd_serve,   &cmd_worker, &cmd_jobs,   &cmd_verify,  &cmd_sweep,
        &cmd_shop,    &cmd_stripe,  &cmd_audit,  &cmd_doctor, &cmd_rls_map, &cmd_privacy,
        &cmd_backup,  &cmd_restore, &cmd_lab,    &cmd_demo,
};
const size_t command_count = sizeof(commands) / sizeof(commands[0]);

const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < command_count; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int command_fail(const struct command *cmd, const struct sk_err *err)
{
	fprintf(stderr, "scrollkeep %s: %s\n", cmd->name,
	        err->detail[0] ? err->detail : problem_title(err->problem));
	return problem_exit_code(err->problem);
}

int command_usage(const struct command *cmd)
{
	fprintf(stderr, "usage: scrollkeep %s %s\n", cmd->name, cmd->usage);
	return 2;
}

int command_json_only(const struct command *cmd, int argc, char **argv, bool *as_json)
{
	static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
	                                         {NULL, 0, NULL, 0}};
	*as_json = false;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'j')
			return command_usage(cmd);
		*as_json = true;
	}
	return optind == argc ? 0 : command_usage(cmd);
}
