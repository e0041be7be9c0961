-- scrollkeep's own schema, default privileges and the helpers every later migration uses.
--
-- Schema scrollkeep holds functions and private tables: PostgREST does not expose it, so
-- nothing in it is callable through Supabase's RPC. A function left in public would be.
--
-- Error codes raised by scrollkeep's triggers (class SK, read by the C code):
--   SKA01  append-only ledger: UPDATE, DELETE or TRUNCATE refused
--   SKS01  sealed reading: change refused (only anonymization may touch it)
--   SKC01  consent missing; DETAIL is the purpose's name
--   SKT01  state transition not allowed; DETAIL is "from -> to"

CREATE SCHEMA IF NOT EXISTS scrollkeep;
REVOKE ALL ON SCHEMA scrollkeep FROM PUBLIC;
GRANT USAGE ON SCHEMA scrollkeep TO authenticated, service_role;

-- Supabase grants anon, authenticated and service_role everything on new tables in public by
-- default; scrollkeep grants each table explicitly instead. Functions are not executable by
-- PUBLIC unless granted.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA scrollkeep REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Keep updated_at true without trusting every writer to set it.
CREATE FUNCTION scrollkeep.touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- Refuse UPDATE, DELETE and TRUNCATE on an append-only ledger.
CREATE FUNCTION scrollkeep.refuse_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
    USING ERRCODE = 'SKA01', DETAIL = TG_OP;
END $$;

-- Refuse a status change that its table's transition map does not allow.
-- TG_ARGV holds the allowed moves as 'from>to' strings.
CREATE FUNCTION scrollkeep.guard_status_transition() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status
     AND NOT (OLD.status || '>' || NEW.status) = ANY (TG_ARGV) THEN
    RAISE EXCEPTION '% cannot move from % to %', TG_TABLE_NAME, OLD.status, NEW.status
      USING ERRCODE = 'SKT01', DETAIL = OLD.status || ' -> ' || NEW.status;
  END IF;
  RETURN NEW;
END $$;

-- The column classification, read from COMMENT ON COLUMN. Every column of every table the
-- product owns starts its comment with one class and a colon:
--   public       safe to publish (share cards, public title and line)
--   private      the person's own content (questions, answers, follow-ups, gift messages)
--   pii          identifies a person (user ids, e-mail addresses, names, surrogates)
--   financial    money facts kept for accounting (amounts, Stripe ids)
--   operational  ids, states, times and hashes needed to run the service
-- The export and forgetting workflows, the data map in docs/privacy.md and the tests read it.
CREATE VIEW scrollkeep.column_classes WITH (security_invoker = true) AS
SELECT n.nspname::text AS table_schema,
       c.relname::text AS table_name,
       a.attname::text AS column_name,
       a.attnum AS column_number,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       substring(col_description(c.oid, a.attnum) FROM '^(public|private|pii|financial|operational):') AS class,
       btrim(substring(col_description(c.oid, a.attnum) FROM '^[a-z]+:(.*)$')) AS note
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p')
  AND n.nspname IN ('public', 'scrollkeep');
REVOKE ALL ON scrollkeep.column_classes FROM PUBLIC;
GRANT SELECT ON scrollkeep.column_classes TO service_role;
