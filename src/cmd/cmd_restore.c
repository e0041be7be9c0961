/*
 * cmd_restore.c — `scrollkeep restore --from DIR --into DATABASE_URL [--artifacts DIR]` and
 * `scrollkeep restore --drill --into DATABASE_URL`: restore a backup into an empty database,
 * forgetting again everyone the live database's tombstones name; or prove the round trip
 * (domain/backup.h). Exit 1 when the copy differs or a forgotten person came back.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "domain/backup.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	const char *from = NULL, *into = NULL, *artifacts = cfg->artifact_dir;
	bool drill = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--drill") == 0)
			drill = true;
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--into") == 0 && i + 1 < argc)
			into = argv[++i];
		else if (strcmp(argv[i], "--artifacts") == 0 && i + 1 < argc)
			artifacts = argv[++i];
		else
			return command_usage(&cmd_restore);
	}
	if (!into || drill == (from != NULL))
		return command_usage(&cmd_restore);
	struct sk_err err = {0};
	json_t *report = NULL;
	int rc = drill ? backup_drill(cfg, into, &report, &err)
	               : backup_restore(cfg, from, into, artifacts, true, &report, &err);
	if (rc < 0)
		return command_fail(&cmd_restore, &err);
	char *text = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
	puts(text ? text : "{}");
	free(text);
	bool ok = json_is_true(json_object_get(report, "ok"));
	json_decref(report);
	if (!ok) {
		err_set(&err, PROBLEM_FINDING,
		        drill ? "the drill failed" : "the copy differs from the backup");
		return command_fail(&cmd_restore, &err);
	}
	return 0;
}

const struct command cmd_restore = {
        .name = "restore",
        .usage = "--from DIR --into DATABASE_URL [--artifacts DIR] | --drill --into DATABASE_URL",
        .summary =
                "restore a backup into an empty database (forgetting again); or drill the round trip",
        .run = run,
};
