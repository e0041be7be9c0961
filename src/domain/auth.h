/*
 * auth.h — who is calling: a signed-in person (a Supabase access token, role authenticated)
 * or the site's server and operators (the service role key, role service_role).
 *
 * A missing, malformed, forged, expired or not-yet-valid token is 401; a valid token of the
 * wrong role for the route is 403. The problem's code says which (token_missing,
 * token_expired, …); its detail never says which part of a secret was wrong.
 */
#ifndef SK_AUTH_H
#define SK_AUTH_H

#include "core/err.h"

enum auth_role { AUTH_PERSON, AUTH_SERVICE };

struct auth_identity {
	enum auth_role role;
	char user_id[37];  /* the person's id (the token's sub); empty for the service role */
	char *claims_json; /* the verified claims, for request.jwt.claims (freed by auth_clear) */
};

/* Verify the value of an Authorization header ("Bearer <jwt>") with the HS256 secret and
 * require the given role. Returns -1 with PROBLEM_UNAUTHORIZED, PROBLEM_FORBIDDEN or
 * PROBLEM_UNAVAILABLE (no secret configured) and err->code set. */
int auth_verify(const char *authorization, const char *secret, enum auth_role required,
                struct auth_identity *who, struct sk_err *err);

void auth_clear(struct auth_identity *who);

#endif
