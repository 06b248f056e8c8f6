<?php
/*
 * Laravel jobs as the Laravel RabbitMQ driver (vladimir-yuldashev/laravel-queue-rabbitmq,
 * the v11 line for Laravel 8) puts them on RabbitMQ, for the bridge tests.
 *
 * The body is Laravel's own Queue::createPayload (Debian's Laravel 8.83) plus the driver's
 * `id`, a UUID of its own. The message, as the driver's RabbitMQQueue::pushRaw publishes it:
 * default exchange, routing key = queue, content_type application/json, delivery_mode 2
 * (persistent), correlation_id = id, header `laravel` = table {attempts: N} (0 when first
 * dispatched; a released job is republished with its count), mandatory, no publisher
 * confirms. The queue is checked with a passive declare first, and declared durable with no
 * arguments only when missing, so an existing queue of any kind is used as it is.
 *
 * stdin, JSON:
 *   {"queue": "sms", "amqp_url": "amqp://..." | null (null: print the payloads only),
 *    "app_key": "base64:..." | null, "cipher": "AES-256-CBC" (default by key length),
 *    "jobs": [{"class": "App\\Jobs\\SendSmsJob", "args": [...], "set": {"tries": 5},
 *              "on_queue": "sms" (default: the queue; null: not set), "count": 1,
 *              "attempts": 0}
 *             | {"raw": "<base64 body>", "count": 1, "attempts": 0}]}
 *   An argument {"$model": "App\\Models\\User", "id": 7, "connection": null} is an Eloquent
 *   model with that key; {"$models": "App\\Models\\User", "ids": [1, 2]} a collection.
 * stdout: one JSON line per message: {"id", "uuid", "class", "body"}.
 */

require __DIR__ . '/bootstrap.php';

use Illuminate\Container\Container;
use Illuminate\Contracts\Encryption\Encrypter as EncrypterContract;
use Illuminate\Database\Eloquent\Collection as EloquentCollection;
use Illuminate\Database\Eloquent\Model;
use Illuminate\Encryption\Encrypter;
use Illuminate\Queue\Queue;
use Illuminate\Support\Str;
use PhpAmqpLib\Channel\AMQPChannel;
use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Exception\AMQPProtocolChannelException;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

/** Laravel's payload building, reached through the one class that owns it. */
final class DriverPayloads extends Queue
{
    public function payloadFor(object $job, string $queue): string
    {
        return $this->createPayload($job, $queue);
    }

    protected function createPayloadArray($job, $queue, $data = '')
    {
        // The driver's addition to Laravel's payload: an `id`, also its correlation_id.
        return array_merge(parent::createPayloadArray($job, $queue, $data), ['id' => (string) Str::uuid()]);
    }
}

function argument_value($argument)
{
    if (is_array($argument) && isset($argument['$model'])) {
        return eloquent_model($argument['$model'], $argument['id'], $argument['connection'] ?? null);
    }
    if (is_array($argument) && isset($argument['$models'])) {
        return new EloquentCollection(array_map(
            fn ($id) => eloquent_model($argument['$models'], $id, $argument['connection'] ?? null),
            $argument['ids']
        ));
    }
    return $argument;
}

function eloquent_model(string $class, $id, ?string $connection): Model
{
    // A model as loaded from its table, without a database: SerializesModels only asks
    // it for its class, key, loaded relations and connection name.
    $model = new $class();
    $model->setRawAttributes(['id' => $id], true);
    $model->exists = true;
    $model->setConnection($connection);
    return $model;
}

function build_job(array $spec, string $queue): object
{
    $class = $spec['class'];
    $job = new $class(...array_map('argument_value', $spec['args'] ?? []));
    foreach ($spec['set'] ?? [] as $name => $value) {
        if (!property_exists($job, $name)) {
            throw new InvalidArgumentException("$class has no property $name to set");
        }
        $job->$name = $value;
    }
    $onQueue = array_key_exists('on_queue', $spec) ? $spec['on_queue'] : $queue;
    if ($onQueue !== null) {
        $job->onQueue($onQueue);
    }
    return $job;
}

function connect(string $url): AMQPStreamConnection
{
    $parts = parse_url($url);
    $path = $parts['path'] ?? '';
    $vhost = ($path === '' || $path === '/') ? '/' : rawurldecode(substr($path, 1));
    return new AMQPStreamConnection(
        $parts['host'] ?? '127.0.0.1',
        $parts['port'] ?? 5672,
        rawurldecode($parts['user'] ?? 'guest'),
        rawurldecode($parts['pass'] ?? 'guest'),
        $vhost
    );
}

function ensure_queue(AMQPStreamConnection $connection, AMQPChannel $channel, string $queue): void
{
    $probe = $connection->channel();  // a 404 closes the channel it happens on
    try {
        $probe->queue_declare($queue, true);
        $probe->close();
        return;
    } catch (AMQPProtocolChannelException $missing) {
        if ($missing->amqp_reply_code !== 404) {
            throw $missing;
        }
    }
    $channel->queue_declare($queue, false, true, false, false, false, new AMQPTable([]));
}

function publish(AMQPChannel $channel, string $queue, string $body, int $attempts): void
{
    $properties = [
        'content_type' => 'application/json',
        'delivery_mode' => AMQPMessage::DELIVERY_MODE_PERSISTENT,
    ];
    $decoded = json_decode($body, true);
    if (is_array($decoded) && isset($decoded['id'])) {
        $properties['correlation_id'] = $decoded['id'];
    }
    $message = new AMQPMessage($body, $properties);
    $message->set('application_headers', new AMQPTable(['laravel' => ['attempts' => $attempts]]));
    $channel->basic_publish($message, '', $queue, true, false);
}

$request = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
$queue = $request['queue'];

$container = new Container();
if (!empty($request['app_key'])) {
    $key = $request['app_key'];
    $key = str_starts_with($key, 'base64:') ? base64_decode(substr($key, 7), true) : $key;
    $cipher = $request['cipher'] ?? (strlen($key) === 16 ? 'AES-128-CBC' : 'AES-256-CBC');
    $container->instance(EncrypterContract::class, new Encrypter($key, $cipher));
}
$payloads = new DriverPayloads();
$payloads->setContainer($container);

$connection = $channel = null;
if (!empty($request['amqp_url'])) {
    $connection = connect($request['amqp_url']);
    $channel = $connection->channel();
    ensure_queue($connection, $channel, $queue);
}

foreach ($request['jobs'] as $spec) {
    $job = isset($spec['raw']) ? null : build_job($spec, $queue);
    for ($i = 0; $i < ($spec['count'] ?? 1); $i++) {
        $body = $job === null ? base64_decode($spec['raw'], true) : $payloads->payloadFor($job, $queue);
        if ($channel !== null) {
            publish($channel, $queue, $body, $spec['attempts'] ?? 0);
        }
        $decoded = json_decode($body, true);
        echo json_encode([
            'id' => is_array($decoded) ? ($decoded['id'] ?? null) : null,
            'uuid' => is_array($decoded) ? ($decoded['uuid'] ?? null) : null,
            'class' => $job === null ? null : get_class($job),
            'body' => base64_encode($body),
        ], JSON_THROW_ON_ERROR), "\n";
    }
}

if ($connection !== null) {
    $channel->close();
    $connection->close();
}
