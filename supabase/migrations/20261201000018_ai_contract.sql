-- The AI contract. The AI that writes readings, Echo follow-ups and Council voices sees only
-- the fields its task declares and writes only the columns its task declares, through a role
-- that can insert into those tables and do nothing else.
--
--   scrollkeep.ai_contracts  one row per AI task: the input fields it may be sent, the output
--                            table and columns it may write. src/domain/ai_contract.c declares
--                            the same; ai_calls refuses a call that strays from this table, so
--                            the two cannot drift apart unnoticed.
--   scrollkeep_ai_writer     the role the AI's output is written as: INSERT on the output
--                            columns of the three output tables, no SELECT, no UPDATE, nothing
--                            else; and only while the subject's ai_processing consent stands.

CREATE TABLE scrollkeep.ai_contracts (
  task text PRIMARY KEY CHECK (task ~ '^[a-z_]{1,40}$'),
  input_fields text[] NOT NULL CHECK (cardinality(input_fields) BETWEEN 1 AND 32),
  output_table text NOT NULL CHECK (output_table IN ('readings', 'echoes', 'council_voices')),
  output_columns text[] NOT NULL CHECK (cardinality(output_columns) BETWEEN 1 AND 8),
  purpose text NOT NULL CHECK (char_length(purpose) BETWEEN 1 AND 200)
);
COMMENT ON TABLE scrollkeep.ai_contracts IS 'the AI contract: what each AI task may read and write';
COMMENT ON COLUMN scrollkeep.ai_contracts.task IS 'operational: the AI task';
COMMENT ON COLUMN scrollkeep.ai_contracts.input_fields IS 'operational: the only fields it may be sent';
COMMENT ON COLUMN scrollkeep.ai_contracts.output_table IS 'operational: the only table it writes';
COMMENT ON COLUMN scrollkeep.ai_contracts.output_columns IS 'operational: the columns its output fills';
COMMENT ON COLUMN scrollkeep.ai_contracts.purpose IS 'operational: what the task is for';

INSERT INTO scrollkeep.ai_contracts (task, input_fields, output_table, output_columns, purpose) VALUES
  ('reading_answer', '{question,spread}', 'readings', '{answer}',
   'the oracle answers the question from the cards drawn'),
  ('echo_followup', '{question,answer,spread,days_after}', 'echoes', '{body}',
   'a follow-up that returns to the reading later'),
  ('council_voice', '{question,spread,voice}', 'council_voices', '{body}',
   'one persona of the Council speaks on the question');
ALTER TABLE scrollkeep.ai_contracts ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON scrollkeep.ai_contracts FROM PUBLIC;
GRANT SELECT ON scrollkeep.ai_contracts TO service_role;

-- Every recorded call must match its task's contract: field names only from the declaration,
-- the declared output table, and names that are names (never values).
CREATE FUNCTION scrollkeep.ai_call_within_contract() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  c scrollkeep.ai_contracts;
BEGIN
  SELECT * INTO c FROM scrollkeep.ai_contracts WHERE task = NEW.task;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no AI contract declares task %', NEW.task USING ERRCODE = '23514';
  END IF;
  IF NOT NEW.fields_sent <@ c.input_fields THEN
    RAISE EXCEPTION 'AI task % sent a field its contract does not declare', NEW.task
      USING ERRCODE = '23514';
  END IF;
  IF NEW.output_table <> c.output_table THEN
    RAISE EXCEPTION 'AI task % may write only to %', NEW.task, c.output_table
      USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.ai_call_within_contract() FROM PUBLIC;
CREATE TRIGGER ai_calls_within_contract BEFORE INSERT OR UPDATE OF task, fields_sent, output_table
  ON public.ai_calls FOR EACH ROW EXECUTE FUNCTION scrollkeep.ai_call_within_contract();

-- The writer role. Roles are cluster-wide: create it once, and let the login role that runs
-- this migration switch to it (cluster_bootstrap grants it to scrollkeep_app as well).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scrollkeep_ai_writer') THEN
    CREATE ROLE scrollkeep_ai_writer NOLOGIN NOINHERIT;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    EXECUTE format('GRANT scrollkeep_ai_writer TO %I', session_user);
  END IF;
END $$;

GRANT USAGE ON SCHEMA public, scrollkeep TO scrollkeep_ai_writer;
GRANT INSERT (id, user_id, question, answer, spread, public_title, public_line, product_code,
              sealed_at, seal_sha256) ON public.readings TO scrollkeep_ai_writer;
GRANT INSERT (id, user_id, reading_id, scheduled_for, body) ON public.echoes TO scrollkeep_ai_writer;
GRANT INSERT (id, session_id, position, voice, body) ON public.council_voices TO scrollkeep_ai_writer;
-- readings' CHECK calls valid_spread as the inserting role.
GRANT EXECUTE ON FUNCTION scrollkeep.valid_spread(jsonb) TO scrollkeep_ai_writer;

-- Whether the subject of an output row has ai_processing granted now. SECURITY DEFINER: the
-- writer reads nothing itself, not even whose session a voice belongs to.
CREATE FUNCTION scrollkeep.ai_subject_consents(p_table text, p_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT scrollkeep.consent_state(
           CASE p_table WHEN 'council_voices'
                THEN (SELECT s.user_id FROM public.council_sessions s WHERE s.id = p_id)
                ELSE p_id END,
           'ai_processing') = 'granted'
$$;
REVOKE ALL ON FUNCTION scrollkeep.ai_subject_consents(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.ai_subject_consents(text, uuid) TO scrollkeep_ai_writer;

-- A row written as the AI writer needs the subject's ai_processing consent at that moment;
-- rows the site writes as service_role are not AI output and pass.
CREATE FUNCTION scrollkeep.ai_output_requires_consent() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  IF current_user <> 'scrollkeep_ai_writer' THEN
    RETURN NEW;
  END IF;
  -- Through jsonb: a record field that the table lacks would not compile.
  IF NOT scrollkeep.ai_subject_consents(TG_TABLE_NAME,
           (to_jsonb(NEW) ->> CASE TG_TABLE_NAME WHEN 'council_voices' THEN 'session_id'
                                                 ELSE 'user_id' END)::uuid) THEN
    RAISE EXCEPTION 'AI output needs the ai_processing consent'
      USING ERRCODE = 'SKC01', DETAIL = 'ai_processing';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.ai_output_requires_consent() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.ai_output_requires_consent() TO scrollkeep_ai_writer, service_role;
CREATE TRIGGER readings_ai_consent BEFORE INSERT ON public.readings
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.ai_output_requires_consent();
CREATE TRIGGER echoes_ai_consent BEFORE INSERT ON public.echoes
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.ai_output_requires_consent();
CREATE TRIGGER council_voices_ai_consent BEFORE INSERT ON public.council_voices
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.ai_output_requires_consent();

-- RLS: the writer may insert fresh rows and see none.
CREATE POLICY readings_ai_insert ON public.readings FOR INSERT TO scrollkeep_ai_writer
  WITH CHECK (anonymized_at IS NULL AND sealed_at IS NOT NULL);
CREATE POLICY echoes_ai_insert ON public.echoes FOR INSERT TO scrollkeep_ai_writer
  WITH CHECK (status = 'scheduled' AND delivered_at IS NULL AND job_id IS NULL);
CREATE POLICY council_voices_ai_insert ON public.council_voices FOR INSERT TO scrollkeep_ai_writer
  WITH CHECK (body IS NOT NULL);
