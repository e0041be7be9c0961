/*
 * routes.c — every route of the HTTP API in one table. Adding a route is adding a line here
 * and a handler in the file of its noun.
 */
#include "app.h"

const struct http_route api_routes[] = {
        {"GET", "/healthz", api_healthz, 0},
        {"GET", "/readyz", api_readyz, 0},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
