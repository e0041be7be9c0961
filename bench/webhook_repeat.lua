-- bench/webhook_repeat.lua — wrk script for bench/webhook.mjs: the same Stripe event delivered
-- again and again, each delivery with its own signature as Stripe sends them. The deliveries
-- are signed beforehand (wrk has no HMAC); the file given after `--` holds one per line:
-- the Stripe-Signature header, a tab, the body.
local deliveries = {}
local next_one = 1

function init(args)
  for line in io.lines(args[1]) do
    local header, body = line:match("^([^\t]+)\t(.+)$")
    deliveries[#deliveries + 1] = wrk.format("POST", "/v1/stripe/webhook",
      { ["Content-Type"] = "application/json", ["Stripe-Signature"] = header }, body)
  end
  next_one = math.random(#deliveries)
end

function request()
  local r = deliveries[next_one]
  next_one = next_one % #deliveries + 1
  return r
end
