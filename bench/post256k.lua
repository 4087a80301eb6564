-- wrk script: every request is a POST of a 256 KiB (262,144-byte) body to
-- /echo; wrk adds the Content-Length header itself.
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = string.rep("p", 262144)
wrk.headers["Content-Type"] = "application/octet-stream"
