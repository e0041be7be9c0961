-- The persistence lab reads a person's consent ledger by their id (`scrollkeep lab --user`,
-- GET /v1/lab/plan?user=) and must tell an unknown id from a person with no consent at all;
-- service_role cannot read auth.users, so it asks this.
CREATE FUNCTION scrollkeep.account_exists(p_user uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = p_user) $$;
REVOKE ALL ON FUNCTION scrollkeep.account_exists(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.account_exists(uuid) TO service_role;

-- `scrollkeep demo` walks a synthetic person through the product: an account that is plainly
-- not a person (an address under .invalid, RFC 2606), which the demo forgets at its end.
CREATE FUNCTION scrollkeep.demo_person() RETURNS uuid
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
  INSERT INTO auth.users (id, email)
  VALUES (gen_random_uuid(), 'demo-' || substr(md5(gen_random_uuid()::text), 1, 12) || '@demo.invalid')
  RETURNING id
$$;
REVOKE ALL ON FUNCTION scrollkeep.demo_person() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.demo_person() TO service_role;
