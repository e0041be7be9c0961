-- The operator handbook's checks on real data, for `scrollkeep verify`: one row per finding,
-- (check, problem, id), ids only. Recent work is left out where it may still be in flight
-- (a payment's grant and receipt, a Stripe event's processing).
CREATE FUNCTION scrollkeep.verify_findings()
  RETURNS TABLE (check_name text, problem text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  -- A paid payment that unlocked nothing.
  SELECT 'payment_without_entitlement', 'no_entitlement', 'payment:' || p.id
    FROM public.payments p
   WHERE p.status IN ('paid', 'partially_refunded') AND p.paid_at < now() - interval '5 minutes'
     AND NOT EXISTS (SELECT 1 FROM public.entitlements e
                      WHERE e.payment_id = p.id AND e.status IN ('active', 'held'))
  UNION ALL
  -- An active entitlement whose payment is not (or no longer) paid.
  SELECT 'entitlement_without_payment', coalesce(p.status, 'no_payment'), 'entitlement:' || e.id
    FROM public.entitlements e LEFT JOIN public.payments p ON p.id = e.payment_id
   WHERE e.status = 'active' AND (p.id IS NULL OR p.status NOT IN ('paid', 'partially_refunded'))
  UNION ALL
  -- A paid purchase whose receipt was never delivered (the link sends one).
  SELECT 'undelivered_purchase', coalesce('receipt_' || j.status, 'receipt_missing'), 'payment:' || p.id
    FROM public.payments p
    JOIN public.checkout_sessions cs ON cs.id = p.checkout_session_id
    JOIN public.purchase_links l ON l.id = cs.purchase_link_id
    LEFT JOIN public.delivery_jobs j ON j.idempotency_key = 'receipt:' || p.id
   WHERE p.status IN ('paid', 'partially_refunded') AND p.paid_at < now() - interval '1 hour'
     AND 'receipt' = ANY (l.channels) AND p.user_id IS NOT NULL
     AND (j.id IS NULL OR j.status IN ('dead', 'unknown', 'cancelled', 'expired'))
  UNION ALL
  -- Deliveries that need an operator: dead, unknown, past their deadline, or held by a lease
  -- that expired and was not reaped.
  SELECT 'lost_delivery',
         CASE WHEN j.status = 'running' THEN 'lease_expired'
              WHEN j.status = 'queued' THEN 'past_deadline' ELSE j.status END,
         'job:' || j.id
    FROM public.delivery_jobs j
   WHERE j.status IN ('dead', 'unknown', 'expired')
      OR (j.status = 'running' AND j.lease_expires_at < now() - interval '1 minute')
      OR (j.status = 'queued' AND j.deliver_by < now())
  UNION ALL
  -- One person paying twice for one thing: the same link (and reading) paid in two sessions.
  SELECT 'duplicate_payment', 'paid_' || count(*) || '_times',
         'checkout_session:' || string_agg(cs.stripe_checkout_session_id, ',' ORDER BY cs.id)
    FROM public.checkout_sessions cs
   WHERE cs.outcome = 'paid' AND cs.user_id IS NOT NULL
   GROUP BY cs.user_id, cs.purchase_link_id, cs.reading_id
  HAVING count(*) > 1
  UNION ALL
  -- Writes without the consent they needed: a live share token without public_share now;
  -- a stamp, a gift or an Echo with no grant of its purpose recorded before it.
  SELECT 'missing_consent', 'public_share', 'artifact:' || a.id
    FROM public.oracle_artifacts a
   WHERE a.share_token IS NOT NULL AND scrollkeep.consent_state(a.user_id, 'public_share') <> 'granted'
  UNION ALL
  SELECT 'missing_consent', 'passport_sync', 'passport_stamp:' || s.id
    FROM public.passport_stamps s
   WHERE NOT EXISTS (SELECT 1 FROM public.consent_events c
                      WHERE c.user_id = s.user_id AND c.purpose = 'passport_sync'
                        AND c.action = 'granted' AND c.recorded_at <= s.stamped_at)
  UNION ALL
  SELECT 'missing_consent', 'gift_delivery', 'artifact:' || g.artifact_id
    FROM public.gift_recipients g
   WHERE NOT EXISTS (SELECT 1 FROM public.consent_events c
                      WHERE c.user_id = g.user_id AND c.purpose = 'gift_delivery'
                        AND c.action = 'granted' AND c.recorded_at <= g.created_at)
  UNION ALL
  SELECT 'missing_consent', 'email_delivery', 'echo:' || e.id
    FROM public.echoes e
   WHERE NOT EXISTS (SELECT 1 FROM public.consent_events c
                      WHERE c.user_id = e.user_id AND c.purpose = 'email_delivery'
                        AND c.action = 'granted' AND c.recorded_at <= e.created_at)
  UNION ALL
  -- Public fields holding private text: a reading's public title or line that quotes its
  -- question or answer, or holds an e-mail address.
  SELECT 'public_private_leak', 'reading_public_fields', 'reading:' || r.id
    FROM public.readings r
   WHERE r.question IS NOT NULL
     AND (strpos(r.public_title || ' ' || r.public_line, r.question) > 0
          OR strpos(r.public_title || ' ' || r.public_line, left(r.answer, 60)) > 0
          OR (r.public_title || ' ' || r.public_line) ~ '[^[:space:]@]+@[^[:space:]@]+\.[A-Za-z]')
  UNION ALL
  -- Stripe events stored but not processed for a quarter of an hour.
  SELECT 'stripe_event_stuck', e.status, 'stripe_event:' || e.stripe_event_id
    FROM public.stripe_events e
   WHERE e.status IN ('received', 'processing', 'failed')
     AND e.first_received_at < now() - interval '15 minutes'
$$;
REVOKE ALL ON FUNCTION scrollkeep.verify_findings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.verify_findings() TO service_role;

-- The data map, from the column classification: each column that is not operational, with
-- its class and note, and how its table reaches the person (docs/privacy-data-map.md is its
-- output, made by `scrollkeep privacy map`).
CREATE FUNCTION scrollkeep.data_map()
  RETURNS TABLE (table_name text, column_name text, data_type text, class text, note text, reached_by text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT k.table_schema || '.' || k.table_name, k.column_name, k.data_type, k.class, k.note,
         coalesce(scrollkeep.subject_rows(k.table_schema, k.table_name), '')
    FROM scrollkeep.column_classes k
   WHERE k.class <> 'operational'
   ORDER BY k.table_schema, k.table_name, k.column_number
$$;
REVOKE ALL ON FUNCTION scrollkeep.data_map() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.data_map() TO service_role;
