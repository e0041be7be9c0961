-- The persistence lab reads a person's consent ledger by their id (`scrollkeep lab --user`,
-- GET /v1/lab/plan?user=) and must tell an unknown id from a person with no consent at all;
-- service_role cannot read auth.users, so it asks this.
CREATE FUNCTION scrollkeep.account_exists(p_user uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = p_user) $$;
REVOKE ALL ON FUNCTION scrollkeep.account_exists(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.account_exists(uuid) TO service_role;
