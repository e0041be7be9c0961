# scripts/lib/cluster.sh — a private PostgreSQL 15 cluster in a directory of the project.
# Sourced by scripts/dev (make run) and tests/run (make test). The cluster listens on a Unix
# socket inside its own data directory only (no TCP port at all), with trust authentication:
# the socket directory is mode 0700, so only its owner (and root) can reach it.
# PostgreSQL refuses to run as root; as root, initdb and pg_ctl run as the postgres user.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

# Run a server-side command as the user that owns the cluster.
as_cluster_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# cluster_init DIR [dev|test|bench] — initdb into DIR unless it holds a cluster already.
# "test" tunes it for throwaway databases (fsync off: safe against a crash of PostgreSQL,
# which the fault tests cause, though not against one of the machine). "dev" and "bench"
# keep PostgreSQL's durable defaults (fsync on, synchronous_commit on).
cluster_init() {
	local dir=$1 mode=${2:-dev}
	[ -f "$dir/PG_VERSION" ] && return 0
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	chmod 700 "$dir"
	as_cluster_owner "$PG_BINDIR/initdb" -D "$dir" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 >/dev/null
	cat >>"$dir/postgresql.conf" <<CONF
# --- scrollkeep's private cluster ---
listen_addresses = ''
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
# Error DETAIL can quote a duplicate value (an e-mail address): never write it to the log.
log_error_verbosity = terse
log_parameter_max_length_on_error = 0
log_line_prefix = '%m [%p] '
max_connections = 200
CONF
	if [ "$mode" = test ]; then
		cat >>"$dir/postgresql.conf" <<CONF
fsync = off
full_page_writes = off
CONF
	fi
}

# cluster_start DIR — start it (no-op when running); waits until it accepts connections.
cluster_start() {
	local dir=$1
	if as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		return 0
	fi
	as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
}

# cluster_stop DIR [fast|immediate]
cluster_stop() {
	local dir=$1 mode=${2:-fast}
	[ -f "$dir/PG_VERSION" ] || return 0
	as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$dir" -m "$mode" -w stop >/dev/null 2>&1 || true
}

# cluster_psql DIR DB [psql args...] — psql as the superuser over the socket.
cluster_psql() {
	local dir=$1 db=$2
	shift 2
	psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d "$db" "$@"
}

# cluster_bootstrap DIR DB BIN — create scrollkeep's two roles and the database, apply the
# migrations and grant the API roles to the login role. Safe to run again.
#   scrollkeep_owner  NOLOGIN; owns the database and everything the migrations create.
#   scrollkeep_app    LOGIN NOINHERIT; what DATABASE_URL names. It holds no privilege of its
#                     own: it must SET ROLE to anon, authenticated or service_role for each
#                     transaction (and to scrollkeep_owner to migrate), so a code path that
#                     forgets to switch role gets "permission denied" instead of bypassing RLS.
#                     It may also switch to scrollkeep_ai_writer (migration 018), the role
#                     the AI's output is written as.
# The first migration creates the Supabase API roles, which needs a superuser session
# (BYPASSRLS); later runs of `scrollkeep migrate` work with DATABASE_URL alone.
cluster_bootstrap() {
	local dir=$1 db=$2 bin=$3
	cluster_psql "$dir" postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scrollkeep_owner') THEN
    CREATE ROLE scrollkeep_owner NOLOGIN CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scrollkeep_app') THEN
    CREATE ROLE scrollkeep_app LOGIN NOINHERIT;
  END IF;
END \$\$;
GRANT scrollkeep_owner TO scrollkeep_app;
SELECT format('CREATE DATABASE %I OWNER scrollkeep_owner', '$db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
	DATABASE_URL="postgresql:///$db?host=$dir&user=postgres" "$bin" migrate >/dev/null
	cluster_psql "$dir" "$db" -c 'GRANT anon, authenticated, service_role, scrollkeep_ai_writer TO scrollkeep_app'
}

# cluster_url DIR DB — the DATABASE_URL of the login role.
cluster_url() {
	printf 'postgresql:///%s?host=%s&user=scrollkeep_app' "$2" "$1"
}
