# Helpers for the Vertex AI tests (source after lib/sh.sh).
# make_keys: a test RSA key pair ($TMP/key.pem, $TMP/pub.pem) and a second,
# unrelated private key ($TMP/other.pem).
make_keys() {
  command -v openssl >/dev/null || { echo "# skipped: no openssl command"; exit 77; }
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/key.pem" 2>/dev/null &&
    openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/pub.pem" &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/other.pem" 2>/dev/null ||
    { echo "not ok - openssl could not make a key pair"; exit 1; }
}

# json_str FILE: the file's text as a JSON string literal
json_str() {
  awk 'BEGIN{ORS=""; print "\""} {gsub(/\\/,"\\\\"); gsub(/"/,"\\\""); print $0 "\\n"} END{print "\""}' "$1"
}

# write_sa OUT KEYFILE [TOKEN_URI]: a service-account JSON key (mode 600)
write_sa() {
  local uri=${3:-$GLMOCK_URL/token}
  cat > "$1" <<J
{"type": "service_account", "project_id": "proj-from-key", "private_key_id": "kid-1",
 "private_key": $(json_str "$2"),
 "client_email": "glrun-test@proj-from-key.iam.gserviceaccount.com", "client_id": "1234",
 "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "$uri"}
J
  chmod 600 "$1"
}

# oauth_stat NAME: a counter from glmock's GET /glmock/oauth/stats
oauth_stat() {
  curl -s "$GLMOCK_URL/glmock/oauth/stats" | tr -d ' \n' | grep -o "\"$1\":[^,}]*" | cut -d: -f2- | tr -d '"'
}

# vertex_env: Vertex AI through glmock with the service-account key
vertex_env() {
  export GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=my-proj GOOGLE_CLOUD_LOCATION=us-central1 \
         GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa.json" GOOGLE_VERTEX_BASE_URL="$GLMOCK_URL"
}

# b64url_decode: stdin base64url (no padding) -> bytes on stdout
b64url_decode() {
  local s
  s=$(tr '_-' '/+')
  while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | openssl base64 -d -A
}
