<?php
// A complete customer chat with the GWS chat API (gws-emulator), in PHP with its curl extension
// (Debian: apt-get install php-cli php-curl): `php examples/chat.php`.
//
// RequestChat, typing notifications, SendMessage, then poll GetTranscript until the agent replies,
// Complete, and print the whole transcript. Every request and answer is printed; any failure stops
// the script with "error: ..." on stderr and exit status 1.
//
//   GWS_BASE_URL  the API base            (default http://127.0.0.1:8888/api)
//   GWS_APIKEY    the apikey header       (default the documented GWS sample key)
//   GWS_TIMEOUT   seconds to wait for the agent's reply (default 30)
declare(strict_types=1);

define('BASE_URL', rtrim(getenv('GWS_BASE_URL') ?: 'http://127.0.0.1:8888/api', '/'));
define('APIKEY', getenv('GWS_APIKEY') ?: 'N18TFGbKpn0zaGLXDFZhPWpTcB2eyx44');

final class ChatError extends Exception
{
}

/** Sends a request, prints it and the answer; returns the answer if HTTP 200 and statusCode 0. */
function call(string $method, string $url, ?array $body = null): array
{
    $headers = ['apikey: ' . APIKEY];
    $curl = curl_init($url);
    curl_setopt_array($curl, [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10]);
    echo "-> $method $url\n";
    if ($body !== null) {
        $json = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        echo "   $json\n";
        $headers[] = 'Content-Type: application/json';
        curl_setopt($curl, CURLOPT_POSTFIELDS, $json);
    }
    curl_setopt($curl, CURLOPT_HTTPHEADER, $headers);
    $text = curl_exec($curl);
    if ($text === false) { // connection refused, unknown host, timeout, ...
        throw new ChatError("cannot reach $url: " . curl_error($curl)
            . " (is the emulator running? Start it with 'cargo run --release', or set GWS_BASE_URL)");
    }
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    echo "<- $status $text\n";
    $answer = json_decode($text, true);
    if (!is_array($answer)) {
        $answer = [];
    }
    if ($status !== 200 || ($answer['statusCode'] ?? null) !== 0) {
        throw new ChatError("$method $url failed (HTTP $status, statusCode " . ($answer['statusCode'] ?? 'missing')
            . '): ' . ($answer['statusMessage'] ?? ''));
    }
    return $answer;
}

/** Polls GetTranscript from the first message not seen yet until an agent's Text arrives. */
function waitForAgentReply(string $chatUrl, float $timeout): array
{
    $nextIndex = 1;
    $deadline = microtime(true) + $timeout;
    while (true) {
        foreach (call('GET', "$chatUrl/messages?index=$nextIndex")['messages'] as $message) {
            $nextIndex = $message['index'] + 1;
            if ($message['type'] === 'Text' && $message['from']['type'] === 'Agent') {
                return $message;
            }
        }
        if (microtime(true) > $deadline) {
            throw new ChatError("no reply from an agent within $timeout s");
        }
        usleep(500_000);
    }
}

function main(): void
{
    if (!function_exists('curl_init')) {
        throw new ChatError('the PHP curl extension is missing (Debian: apt-get install php-curl)');
    }
    $timeout = (string) getenv('GWS_TIMEOUT');
    if ($timeout === '') {
        $timeout = '30';
    }
    if (!is_numeric($timeout) || $timeout < 0) {
        throw new ChatError("GWS_TIMEOUT must be a number of seconds, not '$timeout'");
    }

    $chat = call('POST', BASE_URL . '/v2/chats', [
        'operationName' => 'RequestChat',
        'nickname' => 'James',
        'subject' => 'Question about relativity',
        'userData' => ['customerId' => 'C-1024', 'source' => 'examples/chat.php'],
    ]);
    $chatUrl = BASE_URL . '/v2/chats/' . $chat['id'];

    // As a chat widget does: typing starts with the first keystroke and stops as the message goes out.
    call('POST', $chatUrl, ['operationName' => 'SendStartTypingNotification']);
    call('POST', $chatUrl, ['operationName' => 'SendStopTypingNotification']);
    call('POST', $chatUrl, ['operationName' => 'SendMessage', 'text' => 'Is anyone there?']);

    $reply = waitForAgentReply($chatUrl, (float) $timeout);
    echo "\n{$reply['from']['nickname']} answered: {$reply['text']}\n\n";

    call('POST', $chatUrl, ['operationName' => 'Complete']);
    $messages = call('GET', "$chatUrl/messages?index=1")['messages'];

    echo "\nTranscript:\n";
    foreach ($messages as $m) {
        printf("%4d  %-10s %-18s %s\n", $m['index'], $m['from']['nickname'], $m['type'], $m['text'] ?? '');
    }
}

try {
    main();
} catch (ChatError $e) {
    fwrite(STDERR, 'error: ' . $e->getMessage() . PHP_EOL);
    exit(1);
}
