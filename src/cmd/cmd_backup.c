/*
 * cmd_backup.c — `scrollkeep backup --out DIR`: a consistent backup of the product's schemas
 * and the artifact store, with its manifest (domain/backup.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "domain/backup.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	if (argc != 3 || strcmp(argv[1], "--out") != 0)
		return command_usage(&cmd_backup);
	struct sk_err err = {0};
	json_t *m = NULL;
	if (backup_write(cfg, argv[2], isatty(STDERR_FILENO), &m, &err) < 0)
		return command_fail(&cmd_backup, &err);
	printf("backup: %s at migration %s, %zu tables, %zu files\n", argv[2],
	       json_string_value(json_object_get(m, "migration_level")),
	       json_object_size(json_object_get(m, "tables")),
	       json_object_size(json_object_get(m, "files")));
	json_decref(m);
	return 0;
}

const struct command cmd_backup = {
        .name = "backup",
        .usage = "--out DIR",
        .summary = "back up the product's schemas and the artifact store, with a manifest",
        .run = run,
};
