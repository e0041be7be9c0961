/*
 * auth.c — bearer tokens to identities (see auth.h). The token checks themselves are in
 * core/jwt.c; this file adds what Supabase's tokens mean: the role claim, the audience
 * "authenticated" for a person, and the person's id in sub.
 */
#include "auth.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/jwt.h"

static const char *jwt_code(enum jwt_status st)
{
	switch (st) {
	case JWT_EXPIRED:
		return "token_expired";
	case JWT_NOT_YET_VALID:
		return "token_not_yet_valid";
	case JWT_BAD_SIGNATURE:
		return "token_bad_signature";
	case JWT_ALG_REFUSED:
		return "token_algorithm_refused";
	case JWT_MISSING_EXP:
		return "token_without_expiry";
	default:
		return "token_malformed";
	}
}

static int unauthorized(struct sk_err *err, const char *code, const char *detail)
{
	err_set(err, PROBLEM_UNAUTHORIZED, "%s", detail);
	return err_code(err, code);
}

/* The aud claim is a string or an array of strings; true when it names want. */
static bool audience_has(const json_t *claims, const char *want)
{
	const json_t *aud = json_object_get(claims, "aud");
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	size_t i;
	const json_t *v;
	json_array_foreach(aud, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

static int check_claims(const json_t *claims, enum auth_role required, struct auth_identity *who,
                        struct sk_err *err)
{
	const char *role = json_str(claims, "role");
	if (!role)
		return unauthorized(err, "token_without_role", "the token has no role");
	if (required == AUTH_SERVICE) {
		if (strcmp(role, "service_role") != 0) {
			err_set(err, PROBLEM_FORBIDDEN, "this route is for the service role");
			return err_code(err, "role_not_allowed");
		}
		who->role = AUTH_SERVICE;
		return 0;
	}
	if (strcmp(role, "authenticated") != 0) {
		err_set(err, PROBLEM_FORBIDDEN, "this route is for a signed-in person");
		return err_code(err, "role_not_allowed");
	}
	if (!audience_has(claims, "authenticated"))
		return unauthorized(err, "token_wrong_audience",
		                    "the token is not for this audience");
	const char *sub = json_str(claims, "sub");
	if (!sub || !json_is_uuid(sub))
		return unauthorized(err, "token_malformed", "the token's subject is not a user id");
	who->role = AUTH_PERSON;
	for (size_t i = 0; i < 36; i++) /* canonical lower case, as PostgreSQL prints uuids */
		who->user_id[i] = (char)((sub[i] >= 'A' && sub[i] <= 'F') ? sub[i] + 32 : sub[i]);
	who->user_id[36] = '\0';
	return 0;
}

int auth_verify(const char *authorization, const char *secret, enum auth_role required,
                struct auth_identity *who, struct sk_err *err)
{
	memset(who, 0, sizeof(*who));
	if (!secret) {
		err_set(err, PROBLEM_UNAVAILABLE, "authentication is not configured");
		return err_code(err, "auth_not_configured");
	}
	if (!authorization || !*authorization)
		return unauthorized(err, "token_missing",
		                    "send Authorization: Bearer <access token>");
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return unauthorized(err, "token_missing",
		                    "the Authorization scheme must be Bearer");
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	json_t *claims = NULL;
	enum jwt_status st =
	        jwt_verify_hs256(token, strlen(token), secret, strlen(secret), time(NULL), &claims);
	if (st != JWT_VALID)
		return unauthorized(err, jwt_code(st), jwt_status_text(st));
	int rc = check_claims(claims, required, who, err);
	if (rc == 0) {
		who->claims_json = json_dumps(claims, JSON_COMPACT);
		if (!who->claims_json)
			rc = err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	json_decref(claims);
	return rc;
}

void auth_clear(struct auth_identity *who)
{
	free(who->claims_json);
	memset(who, 0, sizeof(*who));
}
