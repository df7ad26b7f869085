-- wrk script: POST a fixed 100 KiB body to the upload endpoint with an access token.
local token = os.getenv("MXCD_BENCH_TOKEN")
local size = tonumber(os.getenv("MXCD_BENCH_UPLOAD_BYTES") or "102400")
wrk.method = "POST"
wrk.path = "/_matrix/media/v3/upload?filename=bench.bin"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/octet-stream"
-- Vary the bytes per thread so uploads are not all de-duplicated into one blob.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  seq = 0
end
function request()
  seq = seq + 1
  local head = string.format("%08d-%08d-", id, seq)
  return wrk.format(nil, nil, nil, head .. string.rep("x", size - #head))
end
