<?php
/*
 * Laravel's Encrypter (Illuminate\Encryption\Encrypter) on values described in JSON, for
 * the decrypting side's tests.
 *
 * stdin, JSON: {"app_key": "base64:..." | raw, "cipher": "AES-256-CBC" (default by key
 * length), "values": [{"value": <JSON value>, "serialize": true}, ...]}
 * stdout: a JSON array with encrypt(value, serialize) of each, in order. With serialize
 * false the value must be a string (what encryptString takes).
 */

require __DIR__ . '/bootstrap.php';

use Illuminate\Encryption\Encrypter;

$request = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
$key = $request['app_key'];
$key = str_starts_with($key, 'base64:') ? base64_decode(substr($key, 7), true) : $key;
$cipher = $request['cipher'] ?? (strlen($key) === 16 ? 'AES-128-CBC' : 'AES-256-CBC');
$encrypter = new Encrypter($key, $cipher);

$out = [];
foreach ($request['values'] as $item) {
    $out[] = $encrypter->encrypt($item['value'], $item['serialize'] ?? true);
}
echo json_encode($out, JSON_THROW_ON_ERROR), "\n";
