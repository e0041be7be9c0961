/*
 * config.c — the environment variables of DESIGN.md, their defaults and their checks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct config_var config_vars[] = {
        {"DATABASE_URL", true, true, "every command (PostgreSQL)", NULL},
        {"SUPABASE_JWT_SECRET", true, true, "verifying access tokens", NULL},
        {"SUPABASE_SERVICE_ROLE_KEY", true, false, "operator calls to the admin routes", NULL},
        {"NEXT_PUBLIC_SUPABASE_URL", false, false, "links back to the Supabase project", NULL},
        {"NEXT_PUBLIC_SITE_URL", false, true, "links in e-mails, Checkout return URLs", NULL},
        {"STRIPE_SECRET_KEY", true, false, "creating Checkout Sessions, reconcile", NULL},
        {"STRIPE_WEBHOOK_SECRET", true, false, "verifying Stripe webhooks", NULL},
        {"STRIPE_API_BASE", false, false, "the Stripe API", "https://api.stripe.com"},
        {"SMTP_URL", true, false, "sending e-mail (unset: local maildir)", NULL},
        {"MAIL_FROM", false, false, "the From of every e-mail", NULL},
        {"ARTIFACT_DIR", false, false, "storing PDFs and share cards", ".var/artifacts"},
        {"AI_API_URL", false, false, "the AI contract's endpoint", NULL},
        {"AI_API_KEY", true, false, "the AI contract's endpoint", NULL},
        {"SCROLLKEEP_AI_MODEL", false, false, "the model the AI contract asks for", "gpt-4o-mini"},
        {"SCROLLKEEP_AI_TIMEOUT_MS", false, false, "the longest an AI call may take", "30000"},
        {"SCROLLKEEP_LISTEN", false, false, "the HTTP server's address", "127.0.0.1:8080"},
        {"SCROLLKEEP_MIGRATIONS_DIR", false, false, "migrate, readiness", "supabase/migrations"},
        {"SCROLLKEEP_LAB_CATALOG", false, false,
         "the persistence lab's catalog (beside it: the page)", "lab/catalog.json"},
        {"SCROLLKEEP_HTTP_THREADS", false, false, "HTTP worker threads", "32"},
        {"SCROLLKEEP_OPERATOR", false, false, "the operator handle jobs retry/cancel audit",
         "the login name"},
        {"SCROLLKEEP_JOB_RETENTION_DAYS", false, false, "how long finished jobs are kept", "14"},
        {"SCROLLKEEP_ATTEMPT_RETENTION_DAYS", false, false,
         "how long attempts of pruned jobs are kept", "90"},
        {"SCROLLKEEP_MAILDIR", false, false, "e-mail when SMTP_URL is unset", ".var/mail"},
        {"SCROLLKEEP_STRIPE_TIMEOUT_MS", false, false, "the longest a Stripe API call may take",
         "20000"},
        {"SCROLLKEEP_ERASURE_KEY", true, false,
         "keying erasure tombstones (unset: derived from SUPABASE_JWT_SECRET)", NULL},
        {"SCROLLKEEP_DELETION_GRACE_HOURS", false, false,
         "how long a person may cancel their deletion", "0"},
        {"SCROLLKEEP_BACKUP_RETENTION_DAYS", false, false,
         "how long backups and WAL archives keep erased values (the proof's date)", "30"},
};
const size_t config_var_count = sizeof(config_vars) / sizeof(config_vars[0]);

const char *config_env(const char *name)
{
	const char *v = getenv(name);
	return (v && *v) ? v : NULL;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = config_env(name);
	return v ? v : fallback;
}

int config_parse_listen(const char *value, char *host, size_t host_len, unsigned short *port)
{
	const char *colon = strrchr(value, ':');
	if (!colon || colon == value)
		return -1;
	const char *h = value;
	size_t hlen = (size_t)(colon - value);
	if (h[0] == '[') { /* [::1]:8080 */
		if (hlen < 3 || h[hlen - 1] != ']')
			return -1;
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= host_len)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	unsigned char addr[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		return -1;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	*port = (unsigned short)p;
	return 0;
}

/* An integer variable from lo to hi, fallback when unset. */
static int int_var(const char *name, const char *fallback, long lo, long hi, int *out,
                   struct sk_err *err)
{
	const char *v = env_or(name, fallback);
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || end == v || n < lo || n > hi)
		return err_set(err, PROBLEM_USAGE, "%s must be %ld to %ld", name, lo, hi);
	*out = (int)n;
	return 0;
}

int config_load(struct config *cfg, struct sk_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->database_url = config_env("DATABASE_URL");
	cfg->supabase_url = config_env("NEXT_PUBLIC_SUPABASE_URL");
	cfg->service_role_key = config_env("SUPABASE_SERVICE_ROLE_KEY");
	cfg->jwt_secret = config_env("SUPABASE_JWT_SECRET");
	cfg->stripe_secret_key = config_env("STRIPE_SECRET_KEY");
	cfg->stripe_webhook_secret = config_env("STRIPE_WEBHOOK_SECRET");
	cfg->stripe_api_base = env_or("STRIPE_API_BASE", "https://api.stripe.com");
	cfg->site_url = config_env("NEXT_PUBLIC_SITE_URL");
	cfg->smtp_url = config_env("SMTP_URL");
	cfg->mail_from = config_env("MAIL_FROM");
	cfg->artifact_dir = env_or("ARTIFACT_DIR", ".var/artifacts");
	cfg->erasure_key = config_env("SCROLLKEEP_ERASURE_KEY");
	if (int_var("SCROLLKEEP_DELETION_GRACE_HOURS", "0", 0, 336, &cfg->deletion_grace_hours,
	            err) < 0 ||
	    int_var("SCROLLKEEP_BACKUP_RETENTION_DAYS", "30", 0, 3650, &cfg->backup_retention_days,
	            err) < 0)
		return -1;
	cfg->ai_api_url = config_env("AI_API_URL");
	cfg->ai_api_key = config_env("AI_API_KEY");
	cfg->migrations_dir = env_or("SCROLLKEEP_MIGRATIONS_DIR", "supabase/migrations");

	const char *listen = env_or("SCROLLKEEP_LISTEN", "127.0.0.1:8080");
	if (config_parse_listen(listen, cfg->listen_host, sizeof(cfg->listen_host),
	                        &cfg->listen_port) < 0)
		return err_set(err, PROBLEM_USAGE,
		               "SCROLLKEEP_LISTEN must be IP:PORT, for example 127.0.0.1:8080");

	const char *threads = env_or("SCROLLKEEP_HTTP_THREADS", "32");
	char *end;
	long n = strtol(threads, &end, 10);
	if (*end || n < 1 || n > 256)
		return err_set(err, PROBLEM_USAGE, "SCROLLKEEP_HTTP_THREADS must be 1 to 256");
	cfg->http_threads = (int)n;
	return 0;
}
