/*
 * config.h — the environment, read once at start-up.
 *
 * The names are DESIGN.md's (the site's own plus scrollkeep's). Secrets are held only in this
 * struct: never printed, logged or stored in the database; doctor reports set/missing only.
 */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct config {
	const char *database_url;          /* DATABASE_URL */
	const char *supabase_url;          /* NEXT_PUBLIC_SUPABASE_URL */
	const char *service_role_key;      /* SUPABASE_SERVICE_ROLE_KEY (secret) */
	const char *jwt_secret;            /* SUPABASE_JWT_SECRET (secret) */
	const char *stripe_secret_key;     /* STRIPE_SECRET_KEY (secret) */
	const char *stripe_webhook_secret; /* STRIPE_WEBHOOK_SECRET (secret; "a,b" in rotation) */
	const char *stripe_api_base;       /* STRIPE_API_BASE */
	const char *site_url;              /* NEXT_PUBLIC_SITE_URL */
	const char *smtp_url;              /* SMTP_URL (may hold a password: secret) */
	const char *mail_from;             /* MAIL_FROM */
	const char *artifact_dir;          /* ARTIFACT_DIR */
	const char *ai_api_url;            /* AI_API_URL */
	const char *ai_api_key;            /* AI_API_KEY (secret) */
	const char *migrations_dir;        /* SCROLLKEEP_MIGRATIONS_DIR */
	char listen_host[64];              /* SCROLLKEEP_LISTEN, host part (an IP literal) */
	unsigned short listen_port;        /* SCROLLKEEP_LISTEN, port part (0 = any free port) */
	int http_threads;                  /* SCROLLKEEP_HTTP_THREADS */
	const char *erasure_key;           /* SCROLLKEEP_ERASURE_KEY (secret; may be NULL) */
	int deletion_grace_hours;          /* SCROLLKEEP_DELETION_GRACE_HOURS */
	int backup_retention_days;         /* SCROLLKEEP_BACKUP_RETENTION_DAYS */
};

/* Every variable scrollkeep reads, for doctor and the lab. */
struct config_var {
	const char *name;
	bool secret;
	bool required; /* missing = a doctor finding */
	const char *needed_for;
	const char *default_value; /* NULL when there is none */
};

extern const struct config_var config_vars[];
extern const size_t config_var_count;

/* Read the environment into cfg (pointers into environ; nothing to free). Defaults are applied
 * for optional variables. Returns -1 with PROBLEM_USAGE when a value is malformed. */
int config_load(struct config *cfg, struct sk_err *err);

/* Parse "host:port" (IPv4 literal, or [IPv6]) into host and port. Returns -1 when malformed. */
int config_parse_listen(const char *value, char *host, size_t host_len, unsigned short *port);

/* The value of a variable by name, or NULL when unset or empty. */
const char *config_env(const char *name);

#endif
