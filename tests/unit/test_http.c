/*
 * test_http.c — route matching and request-id acceptance (the pure parts of http.c; the
 * server itself is exercised over real HTTP by tests/node).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/http.h"

static void literal_routes(void **state)
{
	(void)state;
	char p[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
	size_t n;
	assert_true(http_route_match("/healthz", "/healthz", p, &n));
	assert_int_equal(n, 0);
	assert_false(http_route_match("/healthz", "/healthz/", p, &n));
	assert_false(http_route_match("/healthz", "/health", p, &n));
	assert_false(http_route_match("/healthz", "/healthzz", p, &n));
	assert_false(http_route_match("/healthz", "", p, &n));
}

static void parameters(void **state)
{
	(void)state;
	char p[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
	size_t n;
	assert_true(http_route_match("/v1/readings/{id}", "/v1/readings/abc", p, &n));
	assert_int_equal(n, 1);
	assert_string_equal(p[0], "abc");
	assert_true(http_route_match("/v1/readings/{id}/artifacts", "/v1/readings/x-1/artifacts", p,
	                             &n));
	assert_string_equal(p[0], "x-1");
	assert_false(http_route_match("/v1/readings/{id}", "/v1/readings/", p, &n));
	assert_false(http_route_match("/v1/readings/{id}", "/v1/readings/a/b", p, &n));
	assert_true(http_route_match("/a/{x}/b/{y}", "/a/1/b/2", p, &n));
	assert_int_equal(n, 2);
	assert_string_equal(p[1], "2");
}

static void parameter_too_long(void **state)
{
	(void)state;
	char p[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
	size_t n;
	char path[HTTP_PARAM_MAX + 32] = "/share/";
	memset(path + 7, 'a', HTTP_PARAM_MAX + 1);
	path[7 + HTTP_PARAM_MAX + 1] = '\0';
	assert_false(http_route_match("/share/{token}", path, p, &n));
	path[7 + HTTP_PARAM_MAX] = '\0';
	assert_true(http_route_match("/share/{token}", path, p, &n));
}

static void request_ids(void **state)
{
	(void)state;
	assert_true(http_request_id_acceptable("abc-DEF_1.2"));
	assert_false(http_request_id_acceptable(""));
	assert_false(http_request_id_acceptable("a b"));
	assert_false(http_request_id_acceptable("someone@example.com"));
	assert_false(http_request_id_acceptable("x\n{\"level\":\"error\"}"));
	char long_id[80];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_false(http_request_id_acceptable(long_id));
	long_id[64] = '\0';
	assert_true(http_request_id_acceptable(long_id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(literal_routes),
	        cmocka_unit_test(parameters),
	        cmocka_unit_test(parameter_too_long),
	        cmocka_unit_test(request_ids),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
