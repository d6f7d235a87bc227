-- glrun.crypto: base64url, SHA-256, RS256 signing (checked against
-- openssl's own signature of the same input), and failures that never
-- quote the key.
local crypto = require "glrun.crypto"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- base64url: no padding, URL alphabet; decode accepts both alphabets
assert(crypto.b64url("") == "")
assert(crypto.b64url("f") == "Zg" and crypto.b64url("fo") == "Zm8" and crypto.b64url("foo") == "Zm9v")
assert(crypto.b64url("\251\255\191") == "-_-_", crypto.b64url("\251\255\191"))
for _, s in ipairs{ "", "a", "ab", "abc", "abcd", ("\0\1\2\255"):rep(33) } do
  assert(crypto.b64url_decode(crypto.b64url(s)) == s, "round trip " .. #s)
end
assert(crypto.b64url_decode("Zm9v-_8=") == "foo\251\255") -- padding optional
assert(crypto.b64url_decode("+/8") == "\251\255")
local bad, err = crypto.b64url_decode("a$b")
assert(bad == nil and err.kind == "protocol")

-- SHA-256 test vectors (FIPS 180-2)
assert(hex(crypto.sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
assert(hex(crypto.sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

-- RS256: a key from openssl; RSA PKCS#1 v1.5 signatures are deterministic,
-- so ours must equal openssl's byte for byte
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
local okgen = os.execute("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. dir
  .. "/k.pem 2>/dev/null")
if not okgen then
  print("# openssl missing: RS256 cross-check skipped")
else
  local f = assert(io.open(dir .. "/k.pem")); local pem = f:read("a"); f:close()
  local input = "eyJ0eXAiOiAiSldUIn0.eyJpc3MiOiAieCJ9"
  f = assert(io.open(dir .. "/in", "wb")); f:write(input); f:close()
  local sig = assert(crypto.rs256_sign(pem, input))
  assert(#sig == 256, "2048-bit key -> 256-byte signature")
  local p = assert(io.popen("openssl dgst -sha256 -sign " .. dir .. "/k.pem " .. dir .. "/in"))
  local theirs = p:read("a"); p:close()
  assert(sig == theirs, "same signature as openssl dgst -sha256 -sign")
  -- a PKCS#1 ("BEGIN RSA PRIVATE KEY") key works too
  if os.execute("openssl pkey -in " .. dir .. "/k.pem -traditional -out " .. dir .. "/k1.pem 2>/dev/null") then
    f = assert(io.open(dir .. "/k1.pem")); local pem1 = f:read("a"); f:close()
    assert(crypto.rs256_sign(pem1, input) == sig)
  end
  -- failures say what, never with what
  local body = pem:match("\n([^\n]+)\n")
  local s2, e2 = crypto.rs256_sign(pem:gsub("MII", "XXX", 1), input)
  assert(s2 == nil and e2.kind == "crypto", tostring(e2))
  assert(not tostring(e2):find(body:sub(5, 30), 1, true), "the key is not quoted")
  local s3, e3 = crypto.rs256_sign("not a key", input)
  assert(s3 == nil and tostring(e3):find("not a PEM RSA private key", 1, true))
  if os.execute("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " .. dir .. "/ec.pem 2>/dev/null") then
    f = assert(io.open(dir .. "/ec.pem")); local ec = f:read("a"); f:close()
    local s4, e4 = crypto.rs256_sign(ec, input)
    assert(s4 == nil and tostring(e4):find("not an RSA key", 1, true))
  end
end
os.execute("rm -rf " .. dir)
assert(not pcall(crypto.rs256_sign, nil, "x"), "misuse raises")
print("crypto ok")
