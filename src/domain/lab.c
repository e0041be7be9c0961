/*
 * lab.c — the persistence lab's catalog, plan and standard (see lab.h).
 */
#include "lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/consent.h"

const char *lab_catalog_path(void)
{
	const char *p = config_env("SCROLLKEEP_LAB_CATALOG");
	return p && *p ? p : "lab/catalog.json";
}

/* ---- loading and checking the catalog ---- */

static bool ident_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool env_known(const char *name)
{
	for (size_t i = 0; name && i < config_var_count; i++)
		if (strcmp(config_vars[i].name, name) == 0)
			return true;
	return false;
}

struct checker {
	lab_handler_known handler_known;
	struct sk_err *err;
	char where[160];
};

static int bad(struct checker *c, const char *what)
{
	return err_set(c->err, PROBLEM_INTERNAL, "lab catalog: %s: %s", c->where, what);
}

static const char *text(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

/* Every member of o[key] is a string that ok() accepts. */
static int check_list(struct checker *c, const json_t *o, const char *key, bool (*ok)(const char *),
                      const char *what)
{
	const json_t *list = json_object_get(o, key);
	if (!json_is_array(list))
		return bad(c, key);
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || !ok(json_string_value(v))) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%s[%zu] is not %s", key, i, what);
			return bad(c, msg);
		}
	}
	return 0;
}

static struct checker *current; /* for handler_ok(): loading is single-threaded */

static bool handler_ok(const char *kind)
{
	return ident_ok(kind) && (!current->handler_known || current->handler_known(kind));
}

static bool has_risk(const json_t *layer, const char *name)
{
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(layer, "risks"), i,
	                   r) if (name && strcmp(text(r, "name") ? text(r, "name") : "", name) ==
	                                          0) return true;
	return false;
}

static int check_channel(struct checker *c, const json_t *ch)
{
	if (!ident_ok(text(ch, "name")) || !text(ch, "title"))
		return bad(c, "a channel needs a name ([a-z_]) and a title");
	if (check_list(c, ch, "jobs", handler_ok, "a job kind the worker handles") < 0 ||
	    check_list(c, ch, "consent", consent_purpose_known, "a consent purpose") < 0 ||
	    check_list(c, ch, "env", env_known, "a variable the configuration knows") < 0 ||
	    check_list(c, ch, "tables", ident_ok, "a table name") < 0)
		return -1;
	return 0;
}

static int check_layer(struct checker *c, const json_t *layer)
{
	if (!ident_ok(text(layer, "name")) || !text(layer, "title") || !text(layer, "summary"))
		return bad(c, "a layer needs a name ([a-z_]), a title and a summary");
	if (check_list(c, layer, "tables", ident_ok, "a table name") < 0 ||
	    check_list(c, layer, "env", env_known, "a variable the configuration knows") < 0)
		return -1;
	const json_t *channels = json_object_get(layer, "channels");
	const json_t *risks = json_object_get(layer, "risks");
	const json_t *facts = json_object_get(layer, "facts");
	if (!json_is_array(channels) || !json_is_array(risks) || !json_is_array(facts))
		return bad(c, "channels, facts and risks must be arrays");
	size_t i;
	const json_t *v;
	json_array_foreach(channels, i, v) if (check_channel(c, v) < 0) return -1;
	json_array_foreach(risks, i, v)
	{
		const char *check = text(v, "check");
		if (!ident_ok(text(v, "name")) || !text(v, "risk") || !text(v, "mitigation") ||
		    !check || strncmp(check, "SELECT ", 7) != 0)
			return bad(
			        c,
			        "a risk needs a name, the risk, its mitigation and a SELECT check");
	}
	json_array_foreach(facts, i, v)
	{
		const json_t *job = json_object_get(v, "job");
		if (!text(v, "fact") || !text(v, "table") ||
		    !(json_is_null(job) ||
		      (json_is_string(job) && handler_ok(json_string_value(job)))) ||
		    !has_risk(layer, text(v, "risk")))
			return bad(
			        c,
			        "a fact needs its table, a job kind or null, and a risk of the layer");
	}
	return 0;
}

/* Check a parsed catalog (named where in errors); takes cat and returns it, or frees it and
 * returns NULL. */
static json_t *catalog_checked(json_t *cat, const char *where, lab_handler_known known,
                               struct sk_err *err)
{
	struct checker c = {.handler_known = known, .err = err};
	current = &c;
	snprintf(c.where, sizeof(c.where), "%s", where);
	int rc = 0;
	const json_t *layers = json_object_get(cat, "layers");
	if (strcmp(text(cat, "format") ? text(cat, "format") : "", "scrollkeep-lab/1") != 0 ||
	    !json_array_size(layers))
		rc = bad(&c, "not a scrollkeep-lab/1 catalog with layers");
	size_t i;
	const json_t *layer;
	json_array_foreach(layers, i, layer)
	{
		if (rc < 0)
			break;
		snprintf(c.where, sizeof(c.where), "%s: layers[%zu]", where, i);
		rc = check_layer(&c, layer);
	}
	current = NULL;
	if (rc < 0) {
		json_decref(cat);
		return NULL;
	}
	return cat;
}

json_t *lab_catalog_load(const char *path, lab_handler_known known, struct sk_err *err)
{
	json_error_t jerr;
	json_t *cat = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!cat) {
		err_set(err, PROBLEM_INTERNAL, "lab catalog %s: %s (line %d)", path, jerr.text,
		        jerr.line);
		return NULL;
	}
	return catalog_checked(cat, path, known, err);
}

json_t *lab_catalog_parse(const char *text, size_t len, lab_handler_known known, struct sk_err *err)
{
	json_error_t jerr;
	json_t *cat = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!cat) {
		err_set(err, PROBLEM_INTERNAL, "lab catalog: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	return catalog_checked(cat, "catalog", known, err);
}

/* ---- the plan ---- */

static const json_t *find_named(const json_t *list, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) if (name && text(v, "name") &&
	                                   strcmp(text(v, "name"), name) == 0) return v;
	return NULL;
}

static bool list_has(const json_t *list, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* Append the strings of from that to lacks. */
static void add_all(json_t *to, const json_t *from)
{
	size_t i;
	const json_t *v;
	json_array_foreach(from, i, v) if (!list_has(to, json_string_value(v)))
	        json_array_append(to, (json_t *)v);
}

/* A comma-separated list as an array of its non-empty items. */
static json_t *split(const char *s)
{
	json_t *out = json_array();
	while (s && *s) {
		size_t n = strcspn(s, ",");
		if (n)
			json_array_append_new(out, json_stringn(s, n));
		s += n + (s[n] == ',');
	}
	return out;
}

static json_t *selected_channels(const json_t *layer, const char *wanted, struct sk_err *err)
{
	const json_t *all = json_object_get(layer, "channels");
	if (!wanted) {
		json_t *names = json_array();
		size_t i;
		const json_t *ch;
		json_array_foreach(all, i, ch)
		        json_array_append_new(names, json_string(text(ch, "name")));
		return names;
	}
	json_t *names = split(wanted);
	size_t i;
	const json_t *v;
	json_array_foreach(names, i, v)
	{
		if (!find_named(all, json_string_value(v))) {
			struct buf b = {0};
			const json_t *ch;
			size_t k;
			json_array_foreach(all, k, ch)
			        buf_printf(&b, "%s%s", k ? ", " : "", text(ch, "name"));
			char *known = buf_take(&b);
			err_set(err, PROBLEM_BAD_REQUEST,
			        "the %s layer has no channel %.40s (it has %s)",
			        text(layer, "name"), json_string_value(v), known ? known : "");
			free(known);
			json_decref(names);
			return NULL;
		}
	}
	return names;
}

/* The purposes granted: the person's ledger, or the flags. */
static json_t *given_consent(PGconn *conn, const struct lab_query *q, struct sk_err *err)
{
	if (q->user_id) {
		if (!json_is_uuid(q->user_id)) {
			err_set(err, PROBLEM_BAD_REQUEST, "user must be a UUID");
			return NULL;
		}
		const char *params[] = {q->user_id};
		json_t *ledger = db_query_json(
		        conn,
		        "SELECT json_build_object('exists', scrollkeep.account_exists($1::uuid), 'given',"
		        " coalesce((SELECT json_agg(c.purpose ORDER BY c.purpose)"
		        "             FROM public.consent_current c"
		        "            WHERE c.user_id = $1::uuid AND c.state = 'granted'), '[]'))",
		        1, params, err);
		json_t *given = json_incref(json_object_get(ledger, "given"));
		bool exists = json_is_true(json_object_get(ledger, "exists"));
		json_decref(ledger);
		if (ledger && !exists) {
			json_decref(given);
			err_set(err, PROBLEM_NOT_FOUND, "no such person");
			return NULL;
		}
		return given;
	}
	json_t *given = split(q->consent);
	size_t i;
	const json_t *v;
	json_array_foreach(given, i, v)
	{
		if (!consent_purpose_known(json_string_value(v))) {
			err_set(err, PROBLEM_BAD_REQUEST, "no consent purpose %.40s",
			        json_string_value(v));
			json_decref(given);
			return NULL;
		}
	}
	return given;
}

static const char *const sql_tables =
        "SELECT coalesce(json_agg(json_build_object("
        "  'name', t.name, 'present', c.oid IS NOT NULL, 'rls', coalesce(c.relrowsecurity, false),"
        "  'policies', coalesce((SELECT json_agg(json_build_object('name', p.policyname,"
        "                          'command', p.cmd, 'roles', p.roles) ORDER BY p.policyname)"
        "                        FROM pg_catalog.pg_policies p"
        "                       WHERE p.schemaname = 'public' AND p.tablename = t.name), '[]'))"
        "  ORDER BY t.o), '[]')"
        "  FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS t(name, o)"
        "  LEFT JOIN pg_catalog.pg_class c ON c.oid = to_regclass('public.' || quote_ident(t.name))";

static const char *const sql_jobs =
        "SELECT coalesce(json_agg(json_build_object("
        "  'kind', k.kind,"
        "  'registered', EXISTS (SELECT 1 FROM scrollkeep.job_kinds r WHERE r.kind = k.kind),"
        "  'queued', (SELECT count(*) FROM public.delivery_jobs j WHERE j.kind = k.kind AND j.status = 'queued'),"
        "  'dead', (SELECT count(*) FROM public.delivery_jobs j WHERE j.kind = k.kind AND j.status = 'dead'),"
        "  'unknown', (SELECT count(*) FROM public.delivery_jobs j WHERE j.kind = k.kind AND j.status = 'unknown'))"
        "  ORDER BY k.o), '[]')"
        "  FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS k(kind, o)";

static json_t *query_with_list(PGconn *conn, const char *sql, const json_t *list,
                               struct sk_err *err)
{
	char *arg = json_dumps(list, JSON_COMPACT);
	const char *params[] = {arg};
	json_t *out = arg ? db_query_json(conn, sql, 1, params, err) : NULL;
	if (!arg)
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	free(arg);
	return out;
}

static const char *env_state(const char *name, bool *secret)
{
	for (size_t i = 0; i < config_var_count; i++) {
		if (strcmp(config_vars[i].name, name) != 0)
			continue;
		*secret = config_vars[i].secret;
		const char *v = config_env(name);
		return v && *v ? "set" : config_vars[i].default_value ? "default" : "missing";
	}
	*secret = false;
	return "missing";
}

static json_t *env_panel(const json_t *names)
{
	json_t *out = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(names, i, v)
	{
		bool secret;
		const char *state = env_state(json_string_value(v), &secret);
		json_array_append_new(out, json_pack("{s:O, s:s, s:b}", "name", v, "state", state,
		                                     "secret", secret));
	}
	return out;
}

/* Each risk's live count, each in a savepoint so one failing check leaves the others. */
static json_t *risk_panel(PGconn *conn, const json_t *layer)
{
	json_t *out = json_array();
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(layer, "risks"), i, r)
	{
		struct sk_err err = {0};
		json_t *row = json_pack("{s:s, s:s, s:s}", "name", text(r, "name"), "risk",
		                        text(r, "risk"), "mitigation", text(r, "mitigation"));
		PGresult *res = NULL;
		if (db_exec(conn, "SAVEPOINT lab_risk", 0, NULL, &err) == 0)
			res = db_query(conn, text(r, "check"), 0, NULL, &err);
		if (res && PQntuples(res) == 1 && PQnfields(res) == 1) {
			json_object_set_new(row, "violations",
			                    json_integer(strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
			db_exec(conn, "RELEASE SAVEPOINT lab_risk", 0, NULL, NULL);
		} else {
			json_object_set_new(row, "violations", json_null());
			json_object_set_new(row, "error",
			                    json_string(res ? "not one count" : err.detail));
			db_exec(conn, "ROLLBACK TO SAVEPOINT lab_risk", 0, NULL, NULL);
		}
		PQclear(res);
		json_array_append_new(out, row);
	}
	return out;
}

/* Strings of want that are not in have. */
static json_t *missing_from(const json_t *want, const json_t *have)
{
	json_t *out = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(want, i, v) if (!list_has(have, json_string_value(v)))
	        json_array_append(out, (json_t *)v);
	return out;
}

static json_t *env_missing(const json_t *env)
{
	json_t *out = json_array();
	size_t i;
	const json_t *v;
	json_array_foreach(env, i, v) if (strcmp(text(v, "state"), "missing") == 0)
	        json_array_append(out, json_object_get(v, "name"));
	return out;
}

/* Every channel of the layer: selected or not, and ready (handlers, variables, consent). */
static json_t *channel_panel(const json_t *layer, const json_t *selected, const json_t *given,
                             lab_handler_known known)
{
	json_t *out = json_array();
	size_t i;
	const json_t *ch;
	json_array_foreach(json_object_get(layer, "channels"), i, ch)
	{
		json_t *no_handler = json_array();
		size_t k;
		const json_t *kind;
		json_array_foreach(json_object_get(ch, "jobs"), k,
		                   kind) if (known && !known(json_string_value(kind)))
		        json_array_append(no_handler, (json_t *)kind);
		json_t *names = json_array();
		add_all(names, json_object_get(layer, "env"));
		add_all(names, json_object_get(ch, "env"));
		json_t *env = env_panel(names);
		json_t *no_env = env_missing(env);
		json_t *no_consent = missing_from(json_object_get(ch, "consent"), given);
		bool ready = !json_array_size(no_handler) && !json_array_size(no_env) &&
		             !json_array_size(no_consent);
		json_array_append_new(
		        out, json_pack("{s:s, s:s, s:b, s:b, s:O, s:O, s:O, s:{s:o, s:o, s:o}}",
		                       "name", text(ch, "name"), "title", text(ch, "title"),
		                       "selected", list_has(selected, text(ch, "name")), "ready",
		                       ready, "jobs", json_object_get(ch, "jobs"), "consent",
		                       json_object_get(ch, "consent"), "env",
		                       json_object_get(ch, "env"), "missing", "handlers",
		                       no_handler, "env", no_env, "consent", no_consent));
		json_decref(names);
		json_decref(env);
	}
	return out;
}

/* The layers and their channels, for the page's choices. */
static json_t *layer_menu(const json_t *catalog)
{
	json_t *out = json_array();
	size_t i, k;
	const json_t *layer, *ch;
	json_array_foreach(json_object_get(catalog, "layers"), i, layer)
	{
		json_t *channels = json_array();
		json_array_foreach(json_object_get(layer, "channels"), k, ch) json_array_append_new(
		        channels, json_pack("{s:s, s:s}", "name", text(ch, "name"), "title",
		                            text(ch, "title")));
		json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "name", text(layer, "name"),
		                                     "title", text(layer, "title"), "channels",
		                                     channels));
	}
	return out;
}

static const json_t *find_layer(const json_t *catalog, const char *name, struct sk_err *err)
{
	const json_t *layers = json_object_get(catalog, "layers");
	const json_t *layer = find_named(layers, name);
	if (!layer) {
		struct buf b = {0};
		size_t i;
		const json_t *l;
		json_array_foreach(layers, i, l)
		        buf_printf(&b, "%s%s", i ? ", " : "", text(l, "name"));
		char *known = buf_take(&b);
		err_set(err, PROBLEM_BAD_REQUEST, "no layer %.40s (the layers are %s)",
		        name ? name : "given", known ? known : "");
		free(known);
	}
	return layer;
}

/* What the selected channels add to the layer's own: tables, jobs, variables, consent. */
struct needs {
	json_t *tables, *jobs, *env, *consent;
};

static void gather(const json_t *layer, const json_t *selected, struct needs *n)
{
	n->tables = json_array();
	n->jobs = json_array();
	n->env = json_array();
	n->consent = json_array();
	add_all(n->tables, json_object_get(layer, "tables"));
	add_all(n->env, json_object_get(layer, "env"));
	size_t i;
	const json_t *name;
	json_array_foreach(selected, i, name)
	{
		const json_t *ch =
		        find_named(json_object_get(layer, "channels"), json_string_value(name));
		add_all(n->tables, json_object_get(ch, "tables"));
		add_all(n->jobs, json_object_get(ch, "jobs"));
		add_all(n->env, json_object_get(ch, "env"));
		add_all(n->consent, json_object_get(ch, "consent"));
	}
}

static json_int_t total_violations(const json_t *risks)
{
	json_int_t n = 0;
	size_t i;
	const json_t *r;
	json_array_foreach(risks, i, r) n += json_integer_value(json_object_get(r, "violations"));
	return n;
}

static void mark_handlers(json_t *jobs, lab_handler_known known)
{
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	        json_object_set_new(j, "handler", json_boolean(!known || known(text(j, "kind"))));
}

json_t *lab_plan(PGconn *conn, const json_t *catalog, lab_handler_known known,
                 const struct lab_query *q, struct sk_err *err)
{
	const json_t *layer = find_layer(catalog, q->layer, err);
	json_t *selected = layer ? selected_channels(layer, q->channels, err) : NULL;
	json_t *given = selected ? given_consent(conn, q, err) : NULL;
	if (!given) {
		json_decref(selected);
		return NULL;
	}
	struct needs n;
	gather(layer, selected, &n);
	json_t *tables = query_with_list(conn, sql_tables, n.tables, err);
	json_t *jobs = tables ? query_with_list(conn, sql_jobs, n.jobs, err) : NULL;
	json_t *out = NULL;
	if (jobs) {
		mark_handlers(jobs, known);
		json_t *env = env_panel(n.env);
		json_t *risks = risk_panel(conn, layer);
		json_t *channels = channel_panel(layer, selected, given, known);
		json_t *missing = missing_from(n.consent, given);
		json_t *no_env = env_missing(env);
		size_t ready = 0, i;
		const json_t *ch;
		json_array_foreach(channels, i, ch) ready +=
		        json_is_true(json_object_get(ch, "ready"));
		out = json_pack(
		        "{s:{s:s, s:s, s:s}, s:o, s:o, s:O, s:O, s:o, s:{s:s, s:O, s:O, s:O}, s:o, s:O,"
		        " s:{s:I, s:I, s:I, s:I}}",
		        "layer", "name", text(layer, "name"), "title", text(layer, "title"),
		        "summary", text(layer, "summary"), "layers", layer_menu(catalog),
		        "channels", channels, "tables", tables, "jobs", jobs, "env", env, "consent",
		        "source", q->user_id ? "ledger" : "flags", "required", n.consent, "given",
		        given, "missing", missing, "risks", risks, "facts",
		        json_object_get(layer, "facts"), "summary", "ready_channels",
		        (json_int_t)ready, "violations", total_violations(risks), "missing_consent",
		        (json_int_t)json_array_size(missing), "missing_env",
		        (json_int_t)json_array_size(no_env));
		json_decref(missing);
		json_decref(no_env);
		if (!out)
			err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	json_decref(tables);
	json_decref(jobs);
	json_decref(n.tables);
	json_decref(n.jobs);
	json_decref(n.env);
	json_decref(n.consent);
	json_decref(selected);
	json_decref(given);
	return out;
}

/* ---- the standard ---- */

static void join_list(struct buf *b, const json_t *list, const char *empty)
{
	if (!json_array_size(list)) {
		buf_puts(b, empty);
		return;
	}
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) buf_printf(b, "%s`%s`", i ? ", " : "", json_string_value(v));
}

static void standard_layer(struct buf *b, const json_t *layer)
{
	buf_printf(b, "\n## %s\n\n%s Tables: ", text(layer, "title"), text(layer, "summary"));
	join_list(b, json_object_get(layer, "tables"), "none");
	buf_puts(b, ".\n\n| what the site shows | the table that holds it | the job that moves it "
	            "| the risk that guards it |\n|---|---|---|---|\n");
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(layer, "facts"), i, v)
	{
		const char *job = json_string_value(json_object_get(v, "job"));
		const json_t *risk = find_named(json_object_get(layer, "risks"), text(v, "risk"));
		buf_printf(b, "| %s | `%s` | %s%s%s | %s |\n", text(v, "fact"), text(v, "table"),
		           job ? "`" : "", job ? job : "none (written in the request)",
		           job ? "`" : "", text(risk, "risk"));
	}
	buf_puts(b, "\n| channel | jobs | consent | environment |\n|---|---|---|---|\n");
	json_array_foreach(json_object_get(layer, "channels"), i, v)
	{
		buf_printf(b, "| %s (`%s`) | ", text(v, "title"), text(v, "name"));
		join_list(b, json_object_get(v, "jobs"), "none");
		buf_puts(b, " | ");
		join_list(b, json_object_get(v, "consent"), "none");
		buf_puts(b, " | ");
		join_list(b, json_object_get(v, "env"), "none");
		buf_puts(b, " |\n");
	}
	buf_puts(b, "\nRisks, and how the lab counts them live:\n\n");
	json_array_foreach(json_object_get(layer, "risks"), i, v)
	        buf_printf(b, "- **%s**: %s. Mitigation: %s. Check: `%s`\n", text(v, "name"),
	                   text(v, "risk"), text(v, "mitigation"), text(v, "check"));
}

char *lab_standard(const json_t *catalog)
{
	struct buf b = {0};
	buf_puts(
	        &b,
	        "# The persistence standard\n\n"
	        "Generated by `scrollkeep lab --standard` from [lab/catalog.json](../lab/catalog.json)\n"
	        "(`make docs` rewrites this file, and a test fails when it is stale). For every fact the\n"
	        "site shows: the table that holds it, the job that moves it and the risk that guards it —\n"
	        "what must live in the database instead of a polished mockup. `scrollkeep lab` and the\n"
	        "`/lab` page show the same catalog against the live database.\n");
	size_t i;
	const json_t *layer;
	json_array_foreach(json_object_get(catalog, "layers"), i, layer) standard_layer(&b, layer);
	return buf_take(&b);
}
