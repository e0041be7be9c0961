/*
 * worker.c — the job engine (see worker.h).
 *
 * Jobs live in a fixed array of slots. A slot is FREE, QUEUED (claimed, waiting for a thread),
 * RUNNING (a handler has it), DONE (its result waits to be recorded) or RECORDING. The
 * dispatcher moves FREE -> QUEUED; a handler thread QUEUED -> RUNNING -> DONE; the recorder
 * DONE -> RECORDING -> FREE. Every state change happens under one mutex; a slot's job is
 * written only while it is FREE and read by its thread while RUNNING, so the job itself needs
 * no lock.
 *
 * The recorder has a connection of its own, so recording one batch of results overlaps with
 * claiming the next: one PostgreSQL backend per side, which is what two cores can give. So
 * has the auditor, which moves the audit outbox into the chain every reap_ms, so that a long
 * flush never holds up a claim.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/db.h"
#include "core/log.h"
#include "jobs/handler.h"
#include "domain/audit.h"
#include "domain/store.h"
#include "jobs/queue.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE, SLOT_RECORDING };

struct slot {
	enum slot_state state;
	struct queue_job job;
	struct queue_result result;
	long long claimed_ms; /* when the dispatcher claimed it (clock_ms) */
};

/* A thread about to run a batch kind with fewer than GATHER_JOBS queued waits for more, up to
 * GATHER_MS after the first was claimed. A batch's transaction costs a few milliseconds
 * whatever its size (stripe_event_job: ~3 ms of planning and statements, then ~0.2 ms an
 * event), so a trickle taken job by job spent most of the machine on that fixed part; the
 * wait costs a delivery at most GATHER_MS. */
enum { GATHER_JOBS = 8, GATHER_MS = 20 };

struct worker {
	const struct worker_options *opt;
	char name[128];
	char kinds[1024]; /* the kinds this worker has handlers for, as a text[] literal */
	struct db_options dbopt;
	PGconn *conn; /* the dispatcher's */

	pthread_mutex_t lock;
	pthread_cond_t todo_ready;
	pthread_cond_t done_ready; /* a slot became DONE: wakes the recorder */
	struct slot *slots;
	int nslots;     /* two batches: one recorded while the next is claimed and run */
	int batch;      /* most jobs per claim */
	int *todo;      /* FIFO of QUEUED slot indexes */
	int *recording; /* the recorder's list of the slots it records */
	int todo_head, todo_count;
	bool quit;

	pthread_t *threads;
	int nthreads;
	pthread_t recorder;
	bool recorder_quit;
	pthread_t auditor;
	bool auditor_started;
	pthread_cond_t audit_wake; /* only stop_threads signals it: the auditor keeps time */
	long long first_done; /* when the oldest waiting result became DONE (recorder's clock) */
	int wake_fd;          /* the recorder signals freed slots */
	int signal_fd;        /* SIGINT, SIGTERM */

	long long finished, lease_lost;
};

void worker_defaults(struct worker_options *opt, const struct config *cfg)
{
	memset(opt, 0, sizeof(*opt));
	opt->cfg = cfg;
	opt->concurrency = 4;
	opt->batch = 0; /* 0: four per thread, at most 256 */
	opt->poll_ms = 1000;
	opt->grace_ms = 10000;
	opt->reap_ms = 2000;
}

/* ---- handler threads ---- */

/* Take the next queued slot, and with it, when its kind has a batch handler, the queued
 * slots of the same kind right behind it (the lock held). A batch costs its handler a few
 * statements whatever its size, but a thread runs its batch's transactions one after another:
 * a thread takes its share of what is queued (a thread's part, at least GATHER_JOBS, at most
 * JOB_BATCH_MAX), so that a backlog keeps every thread busy, and a trickle, gathered for up to
 * GATHER_MS, still goes in batches. Fills which[] and returns how many, 0 when quitting. */
static int take_jobs(struct worker *w, int *which)
{
	const struct job_handler *h;
	for (;;) {
		while (w->todo_count == 0 && !w->quit)
			pthread_cond_wait(&w->todo_ready, &w->lock);
		if (w->todo_count == 0)
			return 0;
		const struct slot *head = &w->slots[w->todo[w->todo_head]];
		h = job_handler_find(head->job.kind);
		long long waited = clock_ms() - head->claimed_ms;
		if (!h || !h->run_batch || w->quit || w->todo_count >= GATHER_JOBS ||
		    waited >= GATHER_MS)
			break;
		struct timespec until = clock_deadline_us(1000LL * (GATHER_MS - waited));
		pthread_cond_timedwait(&w->todo_ready, &w->lock, &until);
	}
	int share = 1;
	if (h && h->run_batch) {
		share = (w->todo_count + w->nthreads - 1) / w->nthreads;
		if (share < GATHER_JOBS)
			share = GATHER_JOBS;
		if (share > JOB_BATCH_MAX)
			share = JOB_BATCH_MAX;
	}
	int n = 0;
	while (n < share && w->todo_count > 0) {
		int i = w->todo[w->todo_head];
		if (n > 0 && strcmp(w->slots[i].job.kind, w->slots[which[0]].job.kind) != 0)
			break;
		w->todo_head = (w->todo_head + 1) % w->nslots;
		w->todo_count--;
		w->slots[i].state = SLOT_RUNNING;
		which[n++] = i;
	}
	return n;
}

/* Run the jobs of slots which[0..n-1] (all of one kind) on conn, filling their results. */
static void run_jobs(struct worker *w, PGconn *conn, const int *which, int n,
                     struct queue_result *results)
{
	const struct queue_job *jobs[JOB_BATCH_MAX];
	struct queue_result *outs[JOB_BATCH_MAX];
	if (n <= 0 || n > JOB_BATCH_MAX)
		return;
	for (int k = 0; k < n; k++) {
		const struct slot *s = &w->slots[which[k]]; /* RUNNING: ours to read */
		struct queue_result *r = &results[k];
		memset(r, 0, sizeof(*r));
		r->id = s->job.id;
		memcpy(r->lease_token, s->job.lease_token, sizeof(r->lease_token));
		r->outcome = JOB_TRANSIENT;
		jobs[k] = &s->job;
		outs[k] = r;
	}
	const struct job_handler *h = job_handler_find(jobs[0]->kind);
	struct job_env env = {conn, w->opt->cfg, w->name};
	if (!h) {
		for (int k = 0; k < n; k++)
			snprintf(results[k].error, sizeof(results[k].error),
			         "no handler for this kind");
	} else if (n > 1) {
		h->run_batch(&env, jobs, outs, n);
	} else {
		h->run(&env, jobs[0], outs[0]);
	}
	if (conn && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_rollback(conn); /* a handler that left a transaction open */
}

/* conn when it is still open, else a new service_role connection (NULL when the database is
 * not there); for the threads that keep a connection of their own. */
static PGconn *thread_connection(struct worker *w, PGconn *conn, bool prepare)
{
	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	struct sk_err err;
	PQfinish(conn);
	conn = db_connect_as(w->opt->cfg->database_url, &w->dbopt, DB_ROLE_SERVICE, &err);
	if (conn && prepare && queue_prepare(conn, &err) < 0) {
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	PGconn *conn = NULL;
	int which[JOB_BATCH_MAX];
	struct queue_result results[JOB_BATCH_MAX];
	for (;;) {
		pthread_mutex_lock(&w->lock);
		int n = take_jobs(w, which);
		pthread_mutex_unlock(&w->lock);
		if (n == 0)
			break;

		conn = thread_connection(w, conn, false);
		run_jobs(w, conn, which, n, results);

		pthread_mutex_lock(&w->lock);
		for (int k = 0; k < n; k++) {
			w->slots[which[k]].result = results[k];
			w->slots[which[k]].state = SLOT_DONE;
		}
		pthread_cond_signal(&w->done_ready);
		pthread_mutex_unlock(&w->lock);
	}
	PQfinish(conn);
	return NULL;
}

/* ---- the dispatcher's connection ---- */

static bool connected(struct worker *w)
{
	return w->conn && PQstatus(w->conn) == CONNECTION_OK;
}

static void drop_connection(struct worker *w)
{
	PQfinish(w->conn);
	w->conn = NULL;
}

/* Connect and LISTEN; false when the database is not there (yet). */
static bool connect_dispatcher(struct worker *w)
{
	struct sk_err err;
	w->conn = db_connect_as(w->opt->cfg->database_url, &w->dbopt, DB_ROLE_SERVICE, &err);
	if (!w->conn)
		return false;
	if (queue_prepare(w->conn, &err) < 0 ||
	    db_exec(w->conn, "LISTEN scrollkeep_jobs", 0, NULL, &err) < 0) {
		drop_connection(w);
		return false;
	}
	return true;
}

/* After a failed statement: forget the connection if it broke, so the loop reconnects. */
static void after_failure(struct worker *w)
{
	if (w->conn && PQstatus(w->conn) != CONNECTION_OK) {
		log_warn("worker_disconnected", LF_STR("worker", w->name));
		drop_connection(w);
	}
}

/* Were there notifications? (Reading them also keeps libpq's buffer small.) */
static bool drain_notifications(struct worker *w)
{
	bool any = false;
	if (!w->conn)
		return false;
	if (!PQconsumeInput(w->conn)) {
		after_failure(w);
		return false;
	}
	PGnotify *n;
	while ((n = PQnotifies(w->conn))) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

/* ---- slots ---- */

static int count_state(struct worker *w, enum slot_state st)
{
	int n = 0;
	for (int i = 0; i < w->nslots; i++)
		n += w->slots[i].state == st;
	return n;
}

/* Claim up to the free slots and hand the jobs to the threads. Returns the number claimed,
 * or -1 when the statement failed. */
static int claim(struct worker *w, int *asked)
{
	pthread_mutex_lock(&w->lock);
	int room = count_state(w, SLOT_FREE);
	pthread_mutex_unlock(&w->lock);
	if (room > w->batch)
		room = w->batch;
	*asked = room;
	if (room == 0)
		return 0;
	struct queue_job *jobs = calloc((size_t)room, sizeof(*jobs));
	if (!jobs)
		return -1;
	int n = 0;
	struct sk_err err;
	if (queue_claim(w->conn, w->name, w->kinds, room, jobs, &n, &err) < 0) {
		free(jobs);
		after_failure(w);
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	for (int k = 0, i = 0; k < n; i++) {
		if (w->slots[i].state != SLOT_FREE)
			continue;
		w->slots[i].job = jobs[k++];
		w->slots[i].state = SLOT_QUEUED;
		w->slots[i].claimed_ms = clock_ms();
		w->todo[(w->todo_head + w->todo_count) % w->nslots] = i;
		w->todo_count++;
	}
	pthread_cond_broadcast(&w->todo_ready);
	pthread_mutex_unlock(&w->lock);
	free(jobs); /* the payloads now belong to the slots */
	return n;
}

/* How long a finished job's result may wait to be recorded with others. */
#define FLUSH_WAIT_MS 20

/* Whether the DONE results should be recorded now: half the slots are done, nothing else is in
 * flight, or the oldest has waited FLUSH_WAIT_MS. Fewer, larger commits are the point. Called
 * with the lock held. */
static bool flush_due(struct worker *w, long long now)
{
	int done = count_state(w, SLOT_DONE);
	int busy = count_state(w, SLOT_QUEUED) + count_state(w, SLOT_RUNNING);
	if (done == 0) {
		w->first_done = 0;
		return false;
	}
	if (w->first_done == 0)
		w->first_done = now;
	return done >= w->batch || busy == 0 || w->recorder_quit ||
	       now - w->first_done >= FLUSH_WAIT_MS;
}

static void log_result(struct worker *w, const struct slot *s)
{
	const char *outcome = job_outcome_name(s->result.outcome);
	if (s->result.outcome == JOB_SUCCEEDED || s->result.outcome == JOB_RELEASED)
		log_debug("job_finished", LF_INT("job_id", s->job.id), LF_STR("kind", s->job.kind),
		          LF_STR("support_ref", s->job.support_ref), LF_STR("status", outcome),
		          LF_INT("attempt", s->job.attempt), LF_STR("worker", w->name));
	else
		log_warn("job_failed", LF_INT("job_id", s->job.id), LF_STR("kind", s->job.kind),
		         LF_STR("support_ref", s->job.support_ref), LF_STR("status", outcome),
		         LF_INT("attempt", s->job.attempt), LF_STR("worker", w->name));
}

/* Record the RECORDING slots listed in which[] in one statement. Returns false when the
 * database did not take them (they go back to DONE, to be tried again). */
static bool record(struct worker *w, PGconn *conn, int *which, int n)
{
	if (n <= 0)
		return true;
	struct queue_result *results = calloc((size_t)n, sizeof(*results));
	if (!results)
		return false;
	for (int k = 0; k < n; k++)
		results[k] = w->slots[which[k]].result; /* RECORDING: nobody else writes it */
	int applied = 0;
	struct sk_err err;
	bool ok = queue_finish(conn, w->name, results, n, &applied, &err) == 0;
	free(results);
	pthread_mutex_lock(&w->lock);
	for (int k = 0; k < n; k++) {
		struct slot *s = &w->slots[which[k]];
		if (ok) {
			log_result(w, s);
			queue_job_clear(&s->job);
		}
		s->state = ok ? SLOT_FREE : SLOT_DONE;
	}
	if (ok)
		w->finished += n;
	pthread_mutex_unlock(&w->lock);
	if (ok && applied < n) {
		/* Their leases were taken back (they ran past expiry): another worker or an
		 * operator owns them now, and nothing was overwritten. */
		w->lease_lost += n - applied;
		log_warn("job_lease_lost", LF_INT("count", n - applied), LF_STR("worker", w->name));
	}
	return ok;
}

/* The recorder thread: whenever results are due, record them all (one statement on its own
 * connection) and wake the dispatcher to claim into the freed slots. */
static void *recorder_main(void *arg)
{
	struct worker *w = arg;
	PGconn *conn = NULL;
	int *which = w->recording; /* allocated by setup() before this thread starts */
	if (!which)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		for (;;) {
			long long now = clock_ms();
			if (flush_due(w, now))
				break;
			if (w->recorder_quit && count_state(w, SLOT_DONE) == 0) {
				pthread_mutex_unlock(&w->lock);
				goto out;
			}
			long wait_ms =
			        w->first_done ? FLUSH_WAIT_MS - (now - w->first_done) + 1 : 200;
			struct timespec until = clock_deadline_us(1000LL * wait_ms);
			pthread_cond_timedwait(&w->done_ready, &w->lock, &until);
		}
		int n = 0;
		for (int i = 0; i < w->nslots; i++)
			if (w->slots[i].state == SLOT_DONE) {
				w->slots[i].state = SLOT_RECORDING;
				which[n++] = i;
			}
		w->first_done = 0;
		pthread_mutex_unlock(&w->lock);

		conn = thread_connection(w, conn, true);
		if (!which || !conn || !record(w, conn, which, n)) {
			if (which && !conn) {
				pthread_mutex_lock(&w->lock);
				for (int k = 0; k < n; k++)
					w->slots[which[k]].state = SLOT_DONE;
				pthread_mutex_unlock(&w->lock);
			}
			struct timespec pause = {0, 200 * 1000000L}; /* the database is away */
			nanosleep(&pause, NULL);
			continue;
		}
		uint64_t one = 1;
		ssize_t wr = write(w->wake_fd, &one, sizeof(one));
		(void)wr;
	}
out:
	PQfinish(conn);
	return NULL;
}

/* Extend the lease of every job held (QUEUED, RUNNING or DONE but not yet recorded). */
static void heartbeat(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	int n = w->nslots - count_state(w, SLOT_FREE);
	long long *ids = n ? calloc((size_t)n, sizeof(*ids)) : NULL;
	char(*tokens)[37] = n ? calloc((size_t)n, sizeof(*tokens)) : NULL;
	int k = 0;
	if (ids && tokens)
		for (int i = 0; i < w->nslots; i++)
			if (w->slots[i].state != SLOT_FREE) {
				ids[k] = w->slots[i].job.id;
				memcpy(tokens[k++], w->slots[i].job.lease_token, 37);
			}
	pthread_mutex_unlock(&w->lock);
	int extended = 0;
	struct sk_err err;
	if (k > 0 && queue_extend(w->conn, ids, tokens, k, &extended, &err) < 0)
		after_failure(w);
	else if (extended < k)
		log_warn("job_lease_lost", LF_INT("count", k - extended),
		         LF_STR("worker", w->name));
	free(ids);
	free(tokens);
}

/* The money's operator events, recorded by the database in its outbox, into the chain.
 * Returns false when the statement failed. */
static bool flush_audit(struct worker *w, PGconn *conn)
{
	int moved = 0;
	struct sk_err err;
	if (audit_flush(conn, &moved, &err) < 0)
		return false;
	if (moved)
		log_info("audit_flushed", LF_INT("count", moved), LF_STR("worker", w->name));
	return true;
}

/* The auditor thread: every reap_ms, flush the audit outbox on a connection of its own. On
 * the dispatcher's connection a busy outbox (two rows a purchase, thousands every two seconds
 * at full rate) held up the claims behind it, and the handler threads idled meanwhile. */
static void *auditor_main(void *arg)
{
	struct worker *w = arg;
	PGconn *conn = NULL;
	pthread_mutex_lock(&w->lock);
	while (!w->quit) {
		struct timespec until = clock_deadline_us(1000LL * w->opt->reap_ms);
		pthread_cond_timedwait(&w->audit_wake, &w->lock, &until);
		if (w->quit)
			break;
		pthread_mutex_unlock(&w->lock);
		conn = thread_connection(w, conn, false);
		if (conn)
			(void)flush_audit(w, conn); /* a closed one is opened again next time */
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	PQfinish(conn);
	return NULL;
}

static void reap(struct worker *w)
{
	int reaped = 0, expired = 0;
	struct sk_err err;
	if (queue_reap(w->conn, &reaped, &expired, &err) < 0) {
		after_failure(w);
		return;
	}
	if (reaped || expired)
		log_info("jobs_reaped", LF_INT("reaped", reaped), LF_INT("expired", expired),
		         LF_STR("worker", w->name));
}

static void prune(struct worker *w)
{
	int jobs = 0, attempts = 0;
	struct sk_err err;
	const char *jd = config_env("SCROLLKEEP_JOB_RETENTION_DAYS");
	const char *ad = config_env("SCROLLKEEP_ATTEMPT_RETENTION_DAYS");
	if (queue_prune(w->conn, jd ? atoi(jd) : 14, ad ? atoi(ad) : 90, 10000, &jobs, &attempts,
	                &err) < 0)
		after_failure(w);
	else if (jobs || attempts)
		log_info("jobs_pruned", LF_INT("jobs", jobs), LF_INT("attempts", attempts),
		         LF_STR("worker", w->name));
	/* Files of the artifact store no row points to (a crash between a file and its row). */
	int removed = 0;
	if (connected(w) &&
	    store_sweep(w->opt->cfg->artifact_dir, w->conn, 3600, &removed, &err) == 0 && removed)
		log_info("artifacts_swept", LF_INT("count", removed), LF_STR("worker", w->name));
}

/* ---- start and stop ---- */

/* Whether kind is in the comma-separated list (NULL: every kind). */
static bool listed(const char *list, const char *kind)
{
	if (!list)
		return true;
	size_t n = strlen(kind);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, kind, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* The kinds to claim — those of the registry, or of opt->kinds — as a text[] literal (kind
 * names are [a-z0-9_]). */
static int build_kinds(struct worker *w, struct sk_err *err)
{
	size_t o = 0, found = 0;
	w->kinds[o++] = '{';
	for (size_t i = 0; i < job_handler_count && o + 70 < sizeof(w->kinds); i++) {
		if (!listed(w->opt->kinds, job_handlers[i].kind))
			continue;
		o += (size_t)snprintf(w->kinds + o, sizeof(w->kinds) - o, "%s%s", found ? "," : "",
		                      job_handlers[i].kind);
		found++;
	}
	w->kinds[o++] = '}';
	w->kinds[o] = '\0';
	if (w->opt->kinds) {
		size_t asked = 1;
		for (const char *p = w->opt->kinds; *p; p++)
			asked += *p == ',';
		if (found != asked)
			return err_set(err, PROBLEM_USAGE,
			               "--kinds names a kind without a handler");
	}
	return 0;
}

/* The heartbeat cadence: a third of the shortest lease among the kinds handled. */
static int heartbeat_ms(struct worker *w)
{
	int ms = 10000;
	struct sk_err err;
	const char *params[] = {w->kinds};
	PGresult *res =
	        connected(w)
	                ? db_query(
	                          w->conn,
	                          "SELECT coalesce(min(lease_seconds), 30) FROM scrollkeep.job_kinds"
	                          " WHERE kind = ANY($1::text[])",
	                          1, params, &err)
	                : NULL;
	if (res) {
		ms = atoi(PQgetvalue(res, 0, 0)) * 1000 / 3;
		PQclear(res);
	}
	return ms > 500 ? ms : 500;
}

static void stop_threads(struct worker *w, bool recorder);
static void release(struct worker *w);

static int setup(struct worker *w, const struct worker_options *opt, struct sk_err *err)
{
	memset(w, 0, sizeof(*w));
	w->opt = opt;
	char host[64] = "host";
	gethostname(host, sizeof(host) - 1);
	snprintf(w->name, sizeof(w->name), "%s:%d", host, (int)getpid());
	if (build_kinds(w, err) < 0)
		return -1;
	w->dbopt.app_name = "scrollkeep-worker";
	w->dbopt.statement_timeout_ms = 60000;
	w->nthreads = opt->concurrency;
	w->batch = opt->batch > 0 ? opt->batch
	                          : (opt->concurrency * 4 > 256 ? 256 : opt->concurrency * 4);
	if (w->batch < w->nthreads)
		w->batch = w->nthreads;
	w->nslots = 2 * w->batch;
	w->slots = calloc((size_t)w->nslots, sizeof(*w->slots));
	w->todo = calloc((size_t)w->nslots, sizeof(*w->todo));
	w->recording = calloc((size_t)w->nslots, sizeof(*w->recording));
	w->threads = calloc((size_t)w->nthreads, sizeof(*w->threads));
	w->wake_fd = w->signal_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->todo_ready, NULL);
	pthread_cond_init(&w->done_ready, NULL);
	pthread_cond_init(&w->audit_wake, NULL);
	if (!w->slots || !w->todo || !w->recording || !w->threads) {
		release(w);
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts */
	w->signal_fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->wake_fd < 0 || w->signal_fd < 0) {
		release(w);
		return err_set(err, PROBLEM_INTERNAL, "cannot create event descriptors");
	}
	int started = 0;
	while (started < w->nthreads &&
	       pthread_create(&w->threads[started], NULL, thread_main, w) == 0)
		started++;
	bool recorder =
	        started == w->nthreads && pthread_create(&w->recorder, NULL, recorder_main, w) == 0;
	w->auditor_started = recorder && pthread_create(&w->auditor, NULL, auditor_main, w) == 0;
	if (!w->auditor_started) {
		w->nthreads = started;
		stop_threads(w, recorder);
		release(w);
		return err_set(err, PROBLEM_INTERNAL, "cannot start the worker's threads");
	}
	return 0;
}

/* Take back the jobs claimed but not started: their results say "released". */
static void release_unstarted(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->todo_count > 0) {
		struct slot *s = &w->slots[w->todo[w->todo_head]];
		w->todo_head = (w->todo_head + 1) % w->nslots;
		w->todo_count--;
		memset(&s->result, 0, sizeof(s->result));
		s->result.id = s->job.id;
		memcpy(s->result.lease_token, s->job.lease_token, 37);
		s->result.outcome = JOB_RELEASED;
		s->state = SLOT_DONE;
	}
	pthread_cond_signal(&w->done_ready);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for running handlers up to the grace period, recording results as they come. Returns
 * true when none is left running. */
static bool drain(struct worker *w)
{
	long long deadline = clock_ms() + w->opt->grace_ms;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		int held = w->nslots - count_state(w, SLOT_FREE);
		pthread_mutex_unlock(&w->lock);
		if (held == 0)
			return true;
		long long left = deadline - clock_ms();
		if (left <= 0)
			return false;
		struct pollfd pfd = {.fd = w->wake_fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(left < 200 ? left : 200)) > 0) {
			uint64_t v;
			ssize_t rd = read(w->wake_fd, &v, sizeof(v));
			(void)rd;
		}
	}
}

/* Stop and join the handler threads (and the recorder and the auditor, when started). */
static void stop_threads(struct worker *w, bool recorder)
{
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	w->recorder_quit = true;
	pthread_cond_broadcast(&w->todo_ready);
	pthread_cond_broadcast(&w->done_ready);
	pthread_cond_broadcast(&w->audit_wake);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	if (recorder)
		pthread_join(w->recorder, NULL);
	if (w->auditor_started)
		pthread_join(w->auditor, NULL);
	w->auditor_started = false;
}

/* Free what setup() made, once no thread runs. */
static void release(struct worker *w)
{
	for (int i = 0; w->slots && i < w->nslots; i++)
		queue_job_clear(&w->slots[i].job);
	drop_connection(w);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->signal_fd >= 0)
		close(w->signal_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->todo_ready);
	pthread_cond_destroy(&w->done_ready);
	pthread_cond_destroy(&w->audit_wake);
	free(w->slots);
	free(w->todo);
	free(w->recording);
	free(w->threads);
}

static void teardown(struct worker *w)
{
	stop_threads(w, true);
	release(w);
}

/* ---- the loop ---- */

int worker_run(const struct worker_options *opt, struct sk_err *err)
{
	struct worker w;
	if (setup(&w, opt, err) < 0)
		return -1;
	long long backoff = 100, next_connect = 0;
	if (!connect_dispatcher(&w)) {
		if (opt->once) {
			teardown(&w);
			return err_set(err, PROBLEM_UNAVAILABLE, "the database is unreachable");
		}
		log_warn("worker_waiting_for_database", LF_STR("worker", w.name));
	}
	int beat_ms = heartbeat_ms(&w);
	log_info("worker_started", LF_STR("worker", w.name), LF_INT("threads", w.nthreads),
	         LF_INT("limit", w.nslots));
	long long now = clock_ms();
	long long next_beat = now + beat_ms, next_reap = now, next_prune = now + 60000,
	          next_poll = now;
	long long next_progress = now + 60000, reported = 0;
	bool wake = true, stopping = false, idle_once = false;

	while (!stopping) {
		now = clock_ms();
		if (!connected(&w) && now >= next_connect) {
			if (connect_dispatcher(&w)) {
				log_info("worker_connected", LF_STR("worker", w.name));
				backoff = 100;
				wake = true;
			} else {
				next_connect = now + backoff;
				backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
			}
		}
		if (connected(&w)) {
			if (now >= next_beat && connected(&w)) {
				heartbeat(&w);
				next_beat = now + beat_ms;
			}
			if (now >= next_reap && connected(&w)) {
				reap(&w);
				next_reap = now + opt->reap_ms;
			}
			if (now >= next_prune && connected(&w)) {
				prune(&w);
				next_prune = now + 3600 * 1000LL;
			}
			/* With --once every pass claims: an empty claim with nothing held is
			 * how it knows it is done. */
			if ((wake || opt->once || now >= next_poll) && connected(&w)) {
				int asked = 0;
				int got = claim(&w, &asked);
				next_poll = now + opt->poll_ms;
				/* A full claim means more may be waiting: claim again as soon as
				 * there is room. So does a wake-up that found no room (asked 0):
				 * it is kept until the recorder frees slots, or the jobs it
				 * announced would wait for the next poll. */
				wake = asked == 0 || (got > 0 && got == asked);
				if (opt->once) {
					pthread_mutex_lock(&w.lock);
					int held = w.nslots - count_state(&w, SLOT_FREE);
					pthread_mutex_unlock(&w.lock);
					idle_once = got == 0 && asked > 0 && held == 0;
				}
			}
		}
		if (idle_once)
			break;
		if (now >= next_progress) {
			if (w.finished != reported)
				log_info("worker_progress", LF_INT("count", w.finished - reported),
				         LF_STR("worker", w.name));
			reported = w.finished;
			next_progress = now + 60000;
		}

		pthread_mutex_lock(&w.lock);
		bool room = count_state(&w, SLOT_FREE) > 0;
		pthread_mutex_unlock(&w.lock);
		/* Without a connection nothing but the next attempt to connect is due (the other
		 * deadlines pass unserved meanwhile and must not make this loop spin). */
		long long until = next_poll;
		if (next_beat < until)
			until = next_beat;
		if (next_reap < until)
			until = next_reap;
		if (!connected(&w))
			until = next_connect;
		long long timeout = until - clock_ms();
		if (connected(&w) && ((wake && room) || opt->once))
			timeout = opt->once ? (timeout < 50 ? timeout : 50) : 0;
		if (timeout < 0)
			timeout = 0;

		struct pollfd fds[3] = {
		        {.fd = w.signal_fd, .events = POLLIN},
		        {.fd = w.wake_fd, .events = POLLIN},
		        {.fd = connected(&w) ? PQsocket(w.conn) : -1, .events = POLLIN}};
		int ready = poll(fds, 3, (int)timeout);
		if (ready < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			ssize_t rd = read(w.signal_fd, &si, sizeof(si));
			(void)rd;
			log_info("worker_stopping", LF_STR("worker", w.name),
			         LF_STR("signal", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM"));
			stopping = true;
		}
		if (fds[1].revents & POLLIN) {
			uint64_t v;
			ssize_t rd = read(w.wake_fd, &v, sizeof(v));
			(void)rd;
		}
		if (fds[2].revents & (POLLIN | POLLERR | POLLHUP))
			wake = drain_notifications(&w) || wake;
	}

	release_unstarted(&w);
	if (!drain(&w)) {
		/* A handler is stuck past the grace period: its lease will expire and the reaper
		 * will apply the rules. Threads cannot be stopped safely, so leave at once. */
		log_warn("worker_abandoned_jobs", LF_STR("worker", w.name));
		fflush(NULL);
		_exit(0);
	}
	/* What the last jobs recorded, before a --once run's caller looks. */
	if (connected(&w) && !flush_audit(&w, w.conn))
		after_failure(&w);
	log_info("worker_stopped", LF_STR("worker", w.name), LF_INT("count", w.finished));
	teardown(&w);
	return 0;
}
