/*
 * passport.h — a person's collection: their readings (safe fields only) and the stamps that
 * passport_sync lets scrollkeep write (stamps are written by reading.c when a reading is
 * sealed; the database refuses a stamp without the consent).
 */
#ifndef SK_PASSPORT_H
#define SK_PASSPORT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

/* {"passport": {…} | null, "readings": […], "stamps": […]} for the person, read as the person
 * (RLS). At most the 200 most recent readings and stamps. */
json_t *passport_get(PGconn *conn, const char *user_id, struct sk_err *err);

#endif
