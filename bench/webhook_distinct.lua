-- bench/webhook_distinct.lua — wrk script for bench/webhook.mjs: distinct Stripe events, each
-- delivered once. The file given after `--` holds one pre-signed delivery per line (the
-- Stripe-Signature header, a tab, the body; wrk has no HMAC), then the number of wrk threads.
-- Thread T sends every T-th line; once its own are out its connections idle, asking GET
-- /healthz once a second, until the benchmark, seeing every event stored, stops wrk.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local mine = {}
local next_one = 1
local filler
local verify_call

function init(args)
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == tid then
      local header, body = line:match("^([^\t]+)\t(.+)$")
      mine[#mine + 1] = wrk.format("POST", "/v1/stripe/webhook",
        { ["Content-Type"] = "application/json", ["Stripe-Signature"] = header }, body)
    end
    i = i + 1
  end
  filler = wrk.format("GET", "/healthz")
  -- wrk calls thread 0's request() once before it runs, to verify it, and never sends that one.
  verify_call = tid == 0
end

function request()
  if verify_call then
    verify_call = false
    return filler
  end
  if next_one <= #mine then
    local r = mine[next_one]
    next_one = next_one + 1
    return r
  end
  return filler
end

function delay()
  if next_one <= #mine then return 0 end
  return 1000
end

function response(status, headers, body)
  if status ~= 200 then print("answered " .. status) end
end
