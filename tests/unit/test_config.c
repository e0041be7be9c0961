/*
 * test_config.c — SCROLLKEEP_LISTEN parsing and the environment table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"

static void listen_addresses(void **state)
{
	(void)state;
	char host[64];
	unsigned short port;
	assert_int_equal(config_parse_listen("127.0.0.1:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(config_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(config_parse_listen("localhost:80", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen("127.0.0.1", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:65536", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:80x", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen(":80", host, sizeof(host), &port), -1);
}

static void design_names_present(void **state)
{
	(void)state;
	const char *names[] = {"NEXT_PUBLIC_SUPABASE_URL",
	                       "SUPABASE_SERVICE_ROLE_KEY",
	                       "STRIPE_SECRET_KEY",
	                       "STRIPE_WEBHOOK_SECRET",
	                       "NEXT_PUBLIC_SITE_URL",
	                       "DATABASE_URL",
	                       "SUPABASE_JWT_SECRET",
	                       "SMTP_URL",
	                       "MAIL_FROM",
	                       "ARTIFACT_DIR",
	                       "STRIPE_API_BASE",
	                       "AI_API_URL",
	                       "AI_API_KEY",
	                       "SCROLLKEEP_LISTEN"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool found = false;
		for (size_t j = 0; j < config_var_count; j++)
			found = found || strcmp(config_vars[j].name, names[i]) == 0;
		assert_true(found);
	}
}

static void load_defaults_and_errors(void **state)
{
	(void)state;
	struct config cfg;
	struct sk_err err = {0};
	unsetenv("SCROLLKEEP_LISTEN");
	unsetenv("STRIPE_API_BASE");
	assert_int_equal(config_load(&cfg, &err), 0);
	assert_string_equal(cfg.listen_host, "127.0.0.1");
	assert_int_equal(cfg.listen_port, 8080);
	assert_string_equal(cfg.stripe_api_base, "https://api.stripe.com");
	setenv("SCROLLKEEP_LISTEN", "nowhere", 1);
	assert_int_equal(config_load(&cfg, &err), -1);
	assert_int_equal(err.problem, PROBLEM_USAGE);
	unsetenv("SCROLLKEEP_LISTEN");
	setenv("SCROLLKEEP_HTTP_THREADS", "0", 1);
	assert_int_equal(config_load(&cfg, &err), -1);
	unsetenv("SCROLLKEEP_HTTP_THREADS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(listen_addresses),
	        cmocka_unit_test(design_names_present),
	        cmocka_unit_test(load_defaults_and_errors),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
