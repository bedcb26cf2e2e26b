#!/usr/bin/env bash
# A complete customer chat with the GWS chat API (gws-emulator), in bash with curl.
#
# RequestChat, typing notifications, SendMessage, then poll GetTranscript until the agent replies,
# Complete, and print the whole transcript. Every request and answer is printed; any failure
# stops the script with "error: ..." on stderr and exit status 1.
#
#   GWS_BASE_URL  the API base            (default http://127.0.0.1:8888/api)
#   GWS_APIKEY    the apikey header       (default the documented GWS sample key)
#   GWS_TIMEOUT   seconds to wait for the agent's reply (default 30)
#
# Without jq, the answers are picked apart with sed and grep. That works here because the
# emulator writes compact JSON with its keys in a fixed order; real code should use a JSON parser.
set -euo pipefail

BASE_URL=${GWS_BASE_URL:-http://127.0.0.1:8888/api}
BASE_URL=${BASE_URL%/}
APIKEY=${GWS_APIKEY:-N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44}
TIMEOUT=${GWS_TIMEOUT:-30}

die() {
  echo "error: $*" >&2
  exit 1
}

[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "GWS_TIMEOUT must be a whole number of seconds, not '$TIMEOUT'"
command -v curl >/dev/null || die "curl is not installed (apt-get install curl)"

# The value of a string or number field in one JSON object: json_string id "$json".
# A string keeps its JSON escapes (\" stays \").
json_string() { sed -n 's/.*"'"$1"'":"\(\([^"\\]\|\\.\)*\)".*/\1/p' <<<"$2"; }
json_number() { sed -n 's/.*"'"$1"'":\(-\{0,1\}[0-9]\{1,\}\).*/\1/p' <<<"$2"; }

# The messages of a GetTranscript answer, one JSON object per line.
messages() { sed 's/},{"index":/}\n{"index":/g' <<<"$1" | grep '"index":' || true; }

# call METHOD URL [JSON]: sends a request, prints it and the answer, and leaves the answer in
# $ANSWER. Stops unless the answer is HTTP 200 with statusCode 0.
call() {
  local method=$1 url=$2 body=${3-} out status code
  local args=(--silent --show-error --max-time 10 -X "$method" -H "apikey: $APIKEY"
    --write-out '\n%{http_code}')
  echo "-> $method $url"
  if [[ -n $body ]]; then
    echo "   $body"
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  out=$(curl "${args[@]}" "$url") ||
    die "cannot reach $url (is the emulator running? Start it with 'cargo run --release', or set GWS_BASE_URL)"
  status=${out##*$'\n'}
  ANSWER=${out%$'\n'*}
  echo "<- $status $ANSWER"
  code=$(json_number statusCode "$ANSWER")
  [[ $status == 200 && $code == 0 ]] ||
    die "$method $url failed (HTTP $status, statusCode ${code:-missing}): $(json_string statusMessage "$ANSWER")"
}

call POST "$BASE_URL/v2/chats" '{"operationName":"RequestChat","nickname":"James","subject":"Question about relativity","userData":{"customerId":"C-1024","source":"examples/chat.sh"}}'
CHAT=$BASE_URL/v2/chats/$(json_string id "$ANSWER")

# As a chat widget does: typing starts with the first keystroke and stops as the message goes out.
call POST "$CHAT" '{"operationName":"SendStartTypingNotification"}'
call POST "$CHAT" '{"operationName":"SendStopTypingNotification"}'
call POST "$CHAT" '{"operationName":"SendMessage","text":"Is anyone there?"}'

# Wait for the agent's reply: poll GetTranscript from the first message not seen yet.
next=1
deadline=$((SECONDS + TIMEOUT))
while :; do
  call GET "$CHAT/messages?index=$next"
  new=$(messages "$ANSWER")
  [[ -z $new ]] || next=$(($(json_number index "$(tail -n1 <<<"$new")") + 1))
  reply=$(grep '"type":"Text","from":{[^}]*"type":"Agent"' <<<"$new" | head -n1) || true
  [[ -z $reply ]] || break
  ((SECONDS < deadline)) || die "no reply from an agent within $TIMEOUT s"
  sleep 0.5
done
echo
echo "$(json_string nickname "$reply") answered: $(json_string text "$reply")"
echo

call POST "$CHAT" '{"operationName":"Complete"}'
call GET "$CHAT/messages?index=1"

echo
echo "Transcript:"
while IFS= read -r m; do
  type=$(sed -n 's/.*"index":[0-9]*,"type":"\([^"]*\)".*/\1/p' <<<"$m")
  printf '%4s  %-10s %-18s %s\n' "$(json_number index "$m")" "$(json_string nickname "$m")" \
    "$type" "$(json_string text "$m")"
done < <(messages "$ANSWER")
