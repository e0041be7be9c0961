/*
 * lab.h — the live persistence lab. One catalog (lab/catalog.json, SCROLLKEEP_LAB_CATALOG)
 * describes each layer of DESIGN.md: the tables it writes, the jobs each delivery channel
 * enqueues, the environment each needs, the consent each channel requires, the facts the site
 * shows, and the risks with their mitigation and a live SQL check. From it and the live
 * database, a plan says for a layer, a choice of channels and a consent (given as flags, or a
 * person's real ledger): which tables (present, RLS on, their policies), which jobs (handler,
 * and how many queued, dead or unknown now), which variables (set or missing, never values),
 * which consents are missing, whether each channel is ready, and each risk's violations now.
 * The same catalog renders docs/persistence-standard.md.
 */
#ifndef SK_LAB_H
#define SK_LAB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/err.h"

/* Whether the worker has a handler for a job kind (the jobs registry; passed in so the
 * domain does not depend on the worker). */
typedef bool (*lab_handler_known)(const char *kind);

/* Read and check the catalog: its shape, names of [a-z_], every env name one config knows,
 * every consent one of DESIGN.md's purposes, every job kind one the worker handles, every
 * risk a check. Returns the catalog (json_decref it) or NULL with PROBLEM_INTERNAL saying
 * what is wrong and where. */
json_t *lab_catalog_load(const char *path, lab_handler_known known, struct sk_err *err);

/* The same check of a catalog given as text (the fuzz target's entry). */
json_t *lab_catalog_parse(const char *text, size_t len, lab_handler_known known,
                          struct sk_err *err);

/* The catalog's path: SCROLLKEEP_LAB_CATALOG, else lab/catalog.json. */
const char *lab_catalog_path(void);

struct lab_query {
	const char *layer;
	const char *channels; /* comma-separated; NULL: every channel of the layer */
	const char *consent;  /* comma-separated purposes given; NULL: none */
	const char *user_id;  /* read the person's ledger instead of consent */
};

/* The panel for q, read in the caller's service_role transaction (risk checks run in
 * savepoints, so one that fails is reported and the others still run). Returns NULL with
 * PROBLEM_BAD_REQUEST naming what is unknown, or PROBLEM_NOT_FOUND for an unknown person. */
json_t *lab_plan(PGconn *conn, const json_t *catalog, lab_handler_known known,
                 const struct lab_query *q, struct sk_err *err);

/* docs/persistence-standard.md from the catalog (the caller frees it). */
char *lab_standard(const json_t *catalog);

#endif
