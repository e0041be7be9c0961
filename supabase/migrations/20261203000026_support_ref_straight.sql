-- The support reference, computed in straight lines: the Feistel rounds and the base-32 digits
-- were PL/pgSQL loops (some forty statements a job), and the enqueue trigger called the
-- function as a second PL/pgSQL call. Every job paid 11 µs for its reference; the trigger now
-- computes it in place (6 µs), and scrollkeep.support_ref, for everything else, the same way.
-- Both give the same reference for every id: compared on ids 0 to 2,000,000 and a million
-- random ones up to 2^40 (tests/sql/20_invariants.sql keeps known values and the trigger's
-- agreement with the function).
CREATE OR REPLACE FUNCTION scrollkeep.support_ref(p_id bigint) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = ''
AS $$
DECLARE
  l bigint := (p_id >> 20) & 1048575;
  r bigint := p_id & 1048575;
  x bigint;
  alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
BEGIN
  IF p_id < 0 OR p_id >= 1099511627776 THEN
    RAISE EXCEPTION 'job id % is outside the support reference range', p_id;
  END IF;
  -- four rounds: each halves' new value is the other half XOR the round function of this one
  l := l # ((((r * 1103515245 + 12346) >> 7) # (r << 3)) & 1048575);
  r := r # ((((l * 1103515245 + 12347) >> 7) # (l << 3)) & 1048575);
  l := l # ((((r * 1103515245 + 12348) >> 7) # (r << 3)) & 1048575);
  r := r # ((((l * 1103515245 + 12349) >> 7) # (l << 3)) & 1048575);
  x := (l << 20) | r;
  RETURN 'SK-' || substr(alphabet, ((x >> 35) & 31)::int + 1, 1) || substr(alphabet, ((x >> 30) & 31)::int + 1, 1)
               || substr(alphabet, ((x >> 25) & 31)::int + 1, 1) || substr(alphabet, ((x >> 20) & 31)::int + 1, 1)
        || '-' || substr(alphabet, ((x >> 15) & 31)::int + 1, 1) || substr(alphabet, ((x >> 10) & 31)::int + 1, 1)
               || substr(alphabet, ((x >> 5) & 31)::int + 1, 1) || substr(alphabet, (x & 31)::int + 1, 1);
END $$;

-- scrollkeep.support_ref(NEW.id), written out (job ids come from the identity, never out of range).
CREATE OR REPLACE FUNCTION scrollkeep.delivery_job_defaults() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
  l bigint := (NEW.id >> 20) & 1048575;
  r bigint := NEW.id & 1048575;
  x bigint;
  alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
BEGIN
  l := l # ((((r * 1103515245 + 12346) >> 7) # (r << 3)) & 1048575);
  r := r # ((((l * 1103515245 + 12347) >> 7) # (l << 3)) & 1048575);
  l := l # ((((r * 1103515245 + 12348) >> 7) # (r << 3)) & 1048575);
  r := r # ((((l * 1103515245 + 12349) >> 7) # (l << 3)) & 1048575);
  x := (l << 20) | r;
  NEW.support_ref := 'SK-' || substr(alphabet, ((x >> 35) & 31)::int + 1, 1) || substr(alphabet, ((x >> 30) & 31)::int + 1, 1)
                           || substr(alphabet, ((x >> 25) & 31)::int + 1, 1) || substr(alphabet, ((x >> 20) & 31)::int + 1, 1)
                    || '-' || substr(alphabet, ((x >> 15) & 31)::int + 1, 1) || substr(alphabet, ((x >> 10) & 31)::int + 1, 1)
                           || substr(alphabet, ((x >> 5) & 31)::int + 1, 1) || substr(alphabet, (x & 31)::int + 1, 1);
  RETURN NEW;
END $$;
