-- Supabase compatibility: the API roles and auth.uid(), auth.role(), auth.jwt() reading
-- request.jwt.claims exactly as Supabase's do.
BEGIN;
SET search_path = tap, public;
SELECT plan(15);

SELECT has_role('anon');
SELECT has_role('authenticated');
SELECT has_role('service_role');
SELECT ok((SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'), 'service_role bypasses RLS');
SELECT ok(NOT (SELECT bool_or(rolbypassrls) FROM pg_roles WHERE rolname IN ('anon', 'authenticated')),
          'anon and authenticated do not bypass RLS');
SELECT ok(NOT (SELECT bool_or(rolcanlogin) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')),
          'the API roles cannot log in');
SELECT ok((SELECT NOT rolinherit AND rolcanlogin FROM pg_roles WHERE rolname = 'scrollkeep_app'),
          'the login role is NOINHERIT');
SELECT ok(NOT EXISTS (SELECT FROM pg_class WHERE relowner = 'scrollkeep_app'::regrole),
          'the login role owns nothing');

SELECT is(auth.uid(), NULL, 'auth.uid() is null without claims');
SELECT set_config('request.jwt.claims',
                  '{"sub": "00000000-0000-4000-8000-00000000000a", "role": "authenticated", "email": "x@example.test"}', true);
SELECT is(auth.uid(), '00000000-0000-4000-8000-00000000000a'::uuid, 'auth.uid() reads sub from request.jwt.claims');
SELECT is(auth.role(), 'authenticated', 'auth.role() reads role');
SELECT is(auth.jwt() ->> 'email', 'x@example.test', 'auth.jwt() returns the claims');
SELECT set_config('request.jwt.claim.sub', '00000000-0000-4000-8000-00000000000b', true);
SELECT is(auth.uid(), '00000000-0000-4000-8000-00000000000b'::uuid, 'the legacy per-claim setting wins, as on Supabase');
SELECT set_config('request.jwt.claim.sub', '', true);
SELECT set_config('request.jwt.claims', '', true);
SELECT is(auth.uid(), NULL, 'empty settings mean no user');
SELECT has_column('auth', 'users', 'email', 'auth.users has Supabase''s email column');

SELECT * FROM finish();
ROLLBACK;
