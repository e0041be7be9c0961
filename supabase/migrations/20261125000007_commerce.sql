-- Shop and Stripe: the catalog (products, prices, purchase links), the money facts
-- (checkout sessions, payments) and what they unlock (entitlements), and every verified
-- Stripe event. Money is idempotent by unique keys, not by care in the code:
--   unique Stripe product, price, checkout session, payment intent and event ids;
--   one payment per checkout session; one entitlement per (payment, product);
--   one open checkout session per person and purchase link.
-- Payments are kept for accounting after a person is forgotten: user_id is cleared and the
-- random subject_surrogate, assigned at creation, is all that links the money facts.

CREATE TABLE public.products (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  stripe_product_id text NOT NULL UNIQUE CHECK (stripe_product_id ~ '^prod_[A-Za-z0-9]{1,250}$'),
  code text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{1,40}$'),
  layer text NOT NULL CHECK (layer IN ('readings', 'echo', 'council', 'artifacts', 'passport', 'shop')),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.products IS 'the catalog: one row per Stripe product';
COMMENT ON COLUMN public.products.id IS 'operational: product id';
COMMENT ON COLUMN public.products.stripe_product_id IS 'financial: Stripe product id';
COMMENT ON COLUMN public.products.code IS 'operational: stable product code';
COMMENT ON COLUMN public.products.layer IS 'operational: the premium layer it belongs to';
COMMENT ON COLUMN public.products.name IS 'public: product name as sold';
COMMENT ON COLUMN public.products.active IS 'operational: on sale';
COMMENT ON COLUMN public.products.created_at IS 'operational: when';
COMMENT ON COLUMN public.products.updated_at IS 'operational: last change';

CREATE TABLE public.prices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  stripe_price_id text NOT NULL UNIQUE CHECK (stripe_price_id ~ '^price_[A-Za-z0-9]{1,250}$'),
  product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
  currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  unit_amount bigint NOT NULL CHECK (unit_amount >= 0),
  livemode boolean NOT NULL DEFAULT false,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prices_product ON public.prices (product_id);
COMMENT ON TABLE public.prices IS 'the catalog: one row per Stripe price';
COMMENT ON COLUMN public.prices.id IS 'operational: price id';
COMMENT ON COLUMN public.prices.stripe_price_id IS 'financial: Stripe price id';
COMMENT ON COLUMN public.prices.product_id IS 'operational: its product';
COMMENT ON COLUMN public.prices.currency IS 'financial: ISO 4217 currency, lower case';
COMMENT ON COLUMN public.prices.unit_amount IS 'financial: amount in the currency''s minor unit';
COMMENT ON COLUMN public.prices.livemode IS 'financial: live or test mode';
COMMENT ON COLUMN public.prices.active IS 'operational: on sale';
COMMENT ON COLUMN public.prices.created_at IS 'operational: when';
COMMENT ON COLUMN public.prices.updated_at IS 'operational: last change';

CREATE TABLE public.purchase_links (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  price_id uuid NOT NULL REFERENCES public.prices (id) ON DELETE RESTRICT,
  unlock_route text NOT NULL CHECK (unlock_route ~ '^/[A-Za-z0-9/_-]{0,200}$'),
  channels text[] NOT NULL DEFAULT '{}'
    CHECK (channels <@ ARRAY['pdf', 'private_pdf', 'share_card', 'gift', 'print_view', 'email',
                             'receipt', 'echo_email', 'passport']::text[]),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchase_links_price ON public.purchase_links (price_id);
COMMENT ON TABLE public.purchase_links IS 'what the site links to: a slug, its price, what it unlocks and delivers';
COMMENT ON COLUMN public.purchase_links.id IS 'operational: link id';
COMMENT ON COLUMN public.purchase_links.slug IS 'public: the slug in the site''s URL';
COMMENT ON COLUMN public.purchase_links.price_id IS 'operational: its price';
COMMENT ON COLUMN public.purchase_links.unlock_route IS 'public: the route it opens';
COMMENT ON COLUMN public.purchase_links.channels IS 'operational: delivery channels it triggers';
COMMENT ON COLUMN public.purchase_links.active IS 'operational: on sale';
COMMENT ON COLUMN public.purchase_links.created_at IS 'operational: when';
COMMENT ON COLUMN public.purchase_links.updated_at IS 'operational: last change';

CREATE TABLE public.checkout_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  stripe_checkout_session_id text NOT NULL UNIQUE CHECK (stripe_checkout_session_id ~ '^cs_[A-Za-z0-9_]{1,250}$'),
  -- RESTRICT: forgetting pseudonymizes (clears user_id) before the account can go.
  user_id uuid REFERENCES auth.users (id) ON DELETE RESTRICT,
  subject_surrogate uuid NOT NULL DEFAULT gen_random_uuid(),
  purchase_link_id uuid NOT NULL REFERENCES public.purchase_links (id) ON DELETE RESTRICT,
  reading_id uuid REFERENCES public.readings (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'complete', 'expired')),
  payment_status text NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN ('paid', 'unpaid', 'no_payment_required')),
  url text CHECK (url ~ '^https?://' AND char_length(url) <= 2048),
  amount_total bigint CHECK (amount_total >= 0),
  currency text CHECK (currency ~ '^[a-z]{3}$'),
  livemode boolean NOT NULL DEFAULT false,
  idempotency_key text NOT NULL UNIQUE CHECK (char_length(idempotency_key) BETWEEN 8 AND 255),
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
-- A second checkout for the same link reuses the open one.
CREATE UNIQUE INDEX checkout_sessions_one_open ON public.checkout_sessions (user_id, purchase_link_id)
  WHERE status = 'open';
CREATE INDEX checkout_sessions_user ON public.checkout_sessions (user_id) WHERE user_id IS NOT NULL;
COMMENT ON TABLE public.checkout_sessions IS 'Stripe Checkout Sessions opened for a person';
COMMENT ON COLUMN public.checkout_sessions.id IS 'operational: session row id';
COMMENT ON COLUMN public.checkout_sessions.stripe_checkout_session_id IS 'financial: Stripe Checkout Session id';
COMMENT ON COLUMN public.checkout_sessions.user_id IS 'pii: the buyer; null once pseudonymized';
COMMENT ON COLUMN public.checkout_sessions.subject_surrogate IS 'pii: random surrogate of the buyer kept for accounting';
COMMENT ON COLUMN public.checkout_sessions.purchase_link_id IS 'operational: what was bought';
COMMENT ON COLUMN public.checkout_sessions.reading_id IS 'operational: the reading it is for, if any';
COMMENT ON COLUMN public.checkout_sessions.status IS 'operational: open, complete or expired';
COMMENT ON COLUMN public.checkout_sessions.payment_status IS 'financial: paid, unpaid or no_payment_required';
COMMENT ON COLUMN public.checkout_sessions.url IS 'operational: Stripe-hosted checkout URL';
COMMENT ON COLUMN public.checkout_sessions.amount_total IS 'financial: total in minor units';
COMMENT ON COLUMN public.checkout_sessions.currency IS 'financial: currency';
COMMENT ON COLUMN public.checkout_sessions.livemode IS 'financial: live or test mode';
COMMENT ON COLUMN public.checkout_sessions.idempotency_key IS 'operational: Idempotency-Key sent to Stripe';
COMMENT ON COLUMN public.checkout_sessions.expires_at IS 'operational: when Stripe expires it';
COMMENT ON COLUMN public.checkout_sessions.created_at IS 'operational: when';
COMMENT ON COLUMN public.checkout_sessions.updated_at IS 'operational: last change';
COMMENT ON COLUMN public.checkout_sessions.completed_at IS 'operational: when it completed';

CREATE TABLE public.payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  checkout_session_id uuid NOT NULL UNIQUE REFERENCES public.checkout_sessions (id) ON DELETE RESTRICT,
  stripe_payment_intent_id text UNIQUE CHECK (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'),
  user_id uuid REFERENCES auth.users (id) ON DELETE RESTRICT,
  subject_surrogate uuid NOT NULL,
  amount bigint NOT NULL CHECK (amount >= 0),
  amount_refunded bigint NOT NULL DEFAULT 0,
  currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  livemode boolean NOT NULL DEFAULT false,
  status text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'refunded', 'partially_refunded', 'disputed')),
  paid_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (amount_refunded BETWEEN 0 AND amount)
);
CREATE INDEX payments_user ON public.payments (user_id) WHERE user_id IS NOT NULL;
COMMENT ON TABLE public.payments IS 'money received, kept pseudonymized for accounting';
COMMENT ON COLUMN public.payments.id IS 'operational: payment id';
COMMENT ON COLUMN public.payments.checkout_session_id IS 'operational: the session it completes (one payment each)';
COMMENT ON COLUMN public.payments.stripe_payment_intent_id IS 'financial: Stripe PaymentIntent id';
COMMENT ON COLUMN public.payments.user_id IS 'pii: the payer; null once pseudonymized';
COMMENT ON COLUMN public.payments.subject_surrogate IS 'pii: random surrogate of the payer';
COMMENT ON COLUMN public.payments.amount IS 'financial: amount in minor units';
COMMENT ON COLUMN public.payments.amount_refunded IS 'financial: refunded so far';
COMMENT ON COLUMN public.payments.currency IS 'financial: currency';
COMMENT ON COLUMN public.payments.livemode IS 'financial: live or test mode';
COMMENT ON COLUMN public.payments.status IS 'financial: pending, paid, failed, refunded, partially_refunded or disputed';
COMMENT ON COLUMN public.payments.paid_at IS 'financial: when it was paid';
COMMENT ON COLUMN public.payments.created_at IS 'operational: when';
COMMENT ON COLUMN public.payments.updated_at IS 'operational: last change';

CREATE TABLE public.entitlements (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payment_id uuid NOT NULL REFERENCES public.payments (id) ON DELETE RESTRICT,
  product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
  user_id uuid REFERENCES auth.users (id) ON DELETE RESTRICT,
  subject_surrogate uuid NOT NULL,
  unlock_route text NOT NULL CHECK (unlock_route ~ '^/[A-Za-z0-9/_-]{0,200}$'),
  status text NOT NULL CHECK (status IN ('pending', 'active', 'held', 'revoked', 'closed')),
  caused_by_event text CHECK (caused_by_event ~ '^(evt_[A-Za-z0-9_]{1,250}|confirm:[A-Za-z0-9_]{1,250})$'),
  granted_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, product_id)
);
CREATE INDEX entitlements_user ON public.entitlements (user_id, unlock_route) WHERE user_id IS NOT NULL;
COMMENT ON TABLE public.entitlements IS 'what a payment unlocks, one per (payment, product)';
COMMENT ON COLUMN public.entitlements.id IS 'operational: entitlement id';
COMMENT ON COLUMN public.entitlements.payment_id IS 'operational: the payment behind it';
COMMENT ON COLUMN public.entitlements.product_id IS 'operational: the product unlocked';
COMMENT ON COLUMN public.entitlements.user_id IS 'pii: the holder; null once pseudonymized';
COMMENT ON COLUMN public.entitlements.subject_surrogate IS 'pii: random surrogate of the holder';
COMMENT ON COLUMN public.entitlements.unlock_route IS 'public: the route it opens';
COMMENT ON COLUMN public.entitlements.status IS 'operational: pending, active, held, revoked or closed';
COMMENT ON COLUMN public.entitlements.caused_by_event IS 'operational: the Stripe event (or confirmation) behind the latest change';
COMMENT ON COLUMN public.entitlements.granted_at IS 'operational: when it was granted';
COMMENT ON COLUMN public.entitlements.revoked_at IS 'operational: when it was revoked';
COMMENT ON COLUMN public.entitlements.created_at IS 'operational: when';
COMMENT ON COLUMN public.entitlements.updated_at IS 'operational: last change';

CREATE TABLE public.stripe_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stripe_event_id text NOT NULL UNIQUE CHECK (stripe_event_id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
  type text NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)+$' AND char_length(type) <= 100),
  livemode boolean NOT NULL,
  api_version text CHECK (char_length(api_version) <= 40),
  object_id text CHECK (char_length(object_id) <= 255),
  stripe_created_at timestamptz,
  payload jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  received_count integer NOT NULL DEFAULT 1 CHECK (received_count >= 1),
  first_received_at timestamptz NOT NULL DEFAULT now(),
  last_received_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'processed', 'ignored', 'failed')),
  processed_at timestamptz,
  last_error text CHECK (char_length(last_error) <= 500),
  redacted_at timestamptz
);
CREATE INDEX stripe_events_object ON public.stripe_events (object_id);
CREATE INDEX stripe_events_unprocessed ON public.stripe_events (first_received_at)
  WHERE status IN ('received', 'processing', 'failed');
COMMENT ON TABLE public.stripe_events IS 'every verified Stripe event, stored before the 2xx';
COMMENT ON COLUMN public.stripe_events.id IS 'operational: row id';
COMMENT ON COLUMN public.stripe_events.stripe_event_id IS 'financial: Stripe event id';
COMMENT ON COLUMN public.stripe_events.type IS 'operational: event type';
COMMENT ON COLUMN public.stripe_events.livemode IS 'financial: live or test mode';
COMMENT ON COLUMN public.stripe_events.api_version IS 'operational: Stripe API version';
COMMENT ON COLUMN public.stripe_events.object_id IS 'financial: id of the Stripe object it is about';
COMMENT ON COLUMN public.stripe_events.stripe_created_at IS 'operational: Stripe''s created time';
COMMENT ON COLUMN public.stripe_events.payload IS 'pii: the raw event (customer details redacted once processed)';
COMMENT ON COLUMN public.stripe_events.received_count IS 'operational: deliveries received';
COMMENT ON COLUMN public.stripe_events.first_received_at IS 'operational: first delivery';
COMMENT ON COLUMN public.stripe_events.last_received_at IS 'operational: latest delivery';
COMMENT ON COLUMN public.stripe_events.status IS 'operational: received, processing, processed, ignored or failed';
COMMENT ON COLUMN public.stripe_events.processed_at IS 'operational: when it was processed';
COMMENT ON COLUMN public.stripe_events.last_error IS 'operational: redacted processing error';
COMMENT ON COLUMN public.stripe_events.redacted_at IS 'operational: when personal data was removed from payload';

CREATE TRIGGER products_touch BEFORE UPDATE ON public.products
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER prices_touch BEFORE UPDATE ON public.prices
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER purchase_links_touch BEFORE UPDATE ON public.purchase_links
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER checkout_sessions_touch BEFORE UPDATE ON public.checkout_sessions
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER payments_touch BEFORE UPDATE ON public.payments
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER entitlements_touch BEFORE UPDATE ON public.entitlements
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.purchase_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.checkout_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.entitlements ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.stripe_events ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON public.products, public.prices, public.purchase_links, public.checkout_sessions,
  public.payments, public.entitlements, public.stripe_events FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.entitlements TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.products, public.prices, public.purchase_links TO service_role;
-- Money facts are never deleted.
GRANT SELECT, INSERT, UPDATE ON public.checkout_sessions, public.payments, public.entitlements,
  public.stripe_events TO service_role;

CREATE POLICY entitlements_owner_read ON public.entitlements
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY products_service_only ON public.products
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY prices_service_only ON public.prices
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY purchase_links_service_only ON public.purchase_links
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY checkout_sessions_service_only ON public.checkout_sessions
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY payments_service_only ON public.payments
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY stripe_events_service_only ON public.stripe_events
  FOR ALL TO service_role USING (true) WITH CHECK (true);
