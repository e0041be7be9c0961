-- Supabase compatibility: make vanilla PostgreSQL look like Supabase where scrollkeep's schema
-- needs it, and change nothing on a real Supabase project.
--
-- Each object is created only when it is missing: the API roles anon, authenticated and
-- service_role; the auth schema with auth.uid(), auth.role() and auth.jwt() reading
-- request.jwt.claims exactly as Supabase's do; and a minimal auth.users with Supabase's
-- column names and types. On Supabase all of these exist and every branch below is skipped.

-- The API roles. Creating a BYPASSRLS role needs a superuser session (PostgreSQL 15), so on a
-- vanilla cluster this migration must run once from a superuser session; the migrator runs
-- as the database owner and steps back to the session user only for this.
DO $$
DECLARE
  needed text[] := ARRAY['anon', 'authenticated', 'service_role'];
  missing text[];
  r text;
  me text := current_user;
BEGIN
  SELECT array_agg(n) INTO missing
  FROM unnest(needed) AS n
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = n);
  IF missing IS NULL THEN
    RETURN;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    RAISE EXCEPTION 'roles % are missing and only a superuser can create them', missing
      USING HINT = 'run the first migration from a superuser session, or create anon, '
                   'authenticated and service_role (BYPASSRLS) as Supabase does';
  END IF;
  EXECUTE format('SET LOCAL ROLE %I', session_user);
  FOREACH r IN ARRAY missing LOOP
    IF r = 'service_role' THEN
      EXECUTE 'CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS';
    ELSE
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
    END IF;
  END LOOP;
  EXECUTE format('SET LOCAL ROLE %I', me);
END $$;

-- The auth schema and what scrollkeep reads from it.
DO $$
DECLARE
  created_schema boolean := NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'auth');
BEGIN
  IF created_schema THEN
    CREATE SCHEMA auth;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
  END IF;

  -- A minimal auth.users with the columns and types of Supabase's GoTrue table that
  -- scrollkeep uses. Supabase's own table has many more; none of them is needed here.
  IF to_regclass('auth.users') IS NULL THEN
    CREATE TABLE auth.users (
      id uuid PRIMARY KEY,
      aud varchar(255),
      role varchar(255),
      email varchar(255),
      phone text,
      raw_app_meta_data jsonb,
      raw_user_meta_data jsonb,
      created_at timestamptz DEFAULT now(),
      updated_at timestamptz DEFAULT now(),
      deleted_at timestamptz,
      is_anonymous boolean NOT NULL DEFAULT false
    );
    CREATE UNIQUE INDEX users_email_key ON auth.users (email) WHERE email IS NOT NULL;
    REVOKE ALL ON auth.users FROM PUBLIC;
    COMMENT ON TABLE auth.users IS 'the people (a minimal copy of Supabase''s GoTrue table)';
    COMMENT ON COLUMN auth.users.id IS 'pii: the person''s user id, the subject of every personal row';
    COMMENT ON COLUMN auth.users.aud IS 'operational: token audience';
    COMMENT ON COLUMN auth.users.role IS 'operational: API role';
    COMMENT ON COLUMN auth.users.email IS 'pii: the person''s e-mail address';
    COMMENT ON COLUMN auth.users.phone IS 'pii: the person''s phone number';
    COMMENT ON COLUMN auth.users.raw_app_meta_data IS 'operational: provider metadata';
    COMMENT ON COLUMN auth.users.raw_user_meta_data IS 'pii: profile fields such as a name';
    COMMENT ON COLUMN auth.users.created_at IS 'operational: when the account was created';
    COMMENT ON COLUMN auth.users.updated_at IS 'operational: last change';
    COMMENT ON COLUMN auth.users.deleted_at IS 'operational: soft deletion time';
    COMMENT ON COLUMN auth.users.is_anonymous IS 'operational: anonymous sign-in';
  END IF;

  -- The three functions read the claims that PostgREST (and scrollkeep) put in
  -- request.jwt.claims; the older per-claim settings are honoured first, as Supabase does.
  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid
      LANGUAGE sql STABLE SET search_path = ''
    AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $f$;
  END IF;
  IF to_regprocedure('auth.role()') IS NULL THEN
    CREATE FUNCTION auth.role() RETURNS text
      LANGUAGE sql STABLE SET search_path = ''
    AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $f$;
  END IF;
  IF to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb
      LANGUAGE sql STABLE SET search_path = ''
    AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $f$;
  END IF;
  IF created_schema THEN
    GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt()
      TO anon, authenticated, service_role;
  END IF;
END $$;
