<?php
/*
 * PHP's own serialize() of values described in JSON, for the serialize reader's tests.
 *
 * stdin: JSON lines, each an array of value specs; stdout: for each line, one JSON line with
 * the array of base64(serialize(value)), flushed, so one process serves a whole test run.
 *
 * A spec is JSON null / bool / int / float / string / array (a PHP list), or one of:
 *   {"$float": "INF" | "-INF" | "NAN"}
 *   {"$bytes": "<base64>"}                       a PHP string of any bytes
 *   {"$map": [[key, spec], ...]}                 an array built as $a[$key] = value
 *   {"$object": "Name\\Space\\Class", "props": [[visibility, name, spec, declaring?], ...]}
 *       an object of that class whose serialize() writes exactly these properties
 *       (public name, protected \0*\0name, private \0Declaring\0name) through __serialize,
 *       as Laravel's SerializesModels does
 *   {"$natural": {"name": spec, "balance": spec, "pin": spec, "parentPin": spec}}
 *       Relay\Fixture\Account, whose properties PHP mangles itself: public $name, protected
 *       $balance, private $pin, and its parent's private $pin (same name)
 *   {"$model": {"class", "id", "relations", "connection"}}   Laravel's ModelIdentifier
 *   {"$enum": "Hearts" | "Spades"}               a case of the backed enum Relay\Fixture\Suit
 *   {"$custom": "payload"}                       a Serializable object (C:) writing that payload
 *   {"$shared": "name", "value": spec}          the same object each time the name appears (r:)
 *   {"$alias": "name", "value": spec}           as an array member: a PHP reference (&) to one
 *                                               variable shared by every member so named (R:)
 */

namespace Relay\Fixture;

require __DIR__ . '/bootstrap.php';

use Illuminate\Contracts\Database\ModelIdentifier;
use InvalidArgumentException;

abstract class Shape
{
    private array $fields = [];

    public function setFields(array $fields): void
    {
        $this->fields = $fields;
    }

    public function __serialize(): array
    {
        return $this->fields;
    }
}

class AccountBase
{
    private $pin;

    public function setParentPin($pin): void
    {
        $this->pin = $pin;
    }
}

class Account extends AccountBase
{
    public $name;
    protected $balance;
    private $pin;

    public function __construct($name, $balance, $pin, $parentPin)
    {
        $this->name = $name;
        $this->balance = $balance;
        $this->pin = $pin;
        $this->setParentPin($parentPin);
    }
}

enum Suit: string
{
    case Hearts = 'H';
    case Spades = 'S';
}

class Custom implements \Serializable
{
    public function __construct(private string $payload)
    {
    }

    public function serialize(): string
    {
        return $this->payload;
    }

    public function unserialize(string $data): void
    {
        $this->payload = $data;
    }
}

final class Builder
{
    private array $shared = [];
    private array $aliases = [];

    public function value($spec)
    {
        if (!is_array($spec)) {
            return $spec;
        }
        if (array_is_list($spec)) {
            return $this->members(array_map(null, array_keys($spec), $spec));
        }
        return match (array_key_first($spec)) {
            '$float' => ['INF' => INF, '-INF' => -INF, 'NAN' => NAN][$spec['$float']],
            '$bytes' => base64_decode($spec['$bytes'], true),
            '$map' => $this->members($spec['$map']),
            '$object' => $this->shape($spec['$object'], $spec['props']),
            '$natural' => new Account(
                ...array_map(fn ($name) => $this->value($spec['$natural'][$name]), ['name', 'balance', 'pin', 'parentPin'])
            ),
            '$model' => new ModelIdentifier(
                $spec['$model']['class'], $this->value($spec['$model']['id']),
                $spec['$model']['relations'] ?? [], $spec['$model']['connection'] ?? null
            ),
            '$enum' => constant(Suit::class . '::' . $spec['$enum']),
            '$custom' => new Custom($spec['$custom']),
            '$shared' => $this->shared[$spec['$shared']] ??= $this->value($spec['value']),
            default => throw new InvalidArgumentException('unknown spec ' . json_encode($spec)),
        };
    }

    private function members(array $pairs): array
    {
        $array = [];
        foreach ($pairs as [$key, $spec]) {
            if (is_array($spec) && isset($spec['$alias'])) {
                $name = $spec['$alias'];
                if (!array_key_exists($name, $this->aliases)) {
                    $this->aliases[$name] = $this->value($spec['value']);
                }
                $array[$key] = &$this->aliases[$name];
            } else {
                $array[$key] = $this->value($spec);
            }
        }
        return $array;
    }

    private function shape(string $class, array $props): Shape
    {
        if (!class_exists($class, false)) {
            $cut = strrpos($class, '\\');
            $namespace = $cut === false ? '' : substr($class, 0, $cut);
            $short = $cut === false ? $class : substr($class, $cut + 1);
            eval(($namespace === '' ? '' : "namespace $namespace; ") . "final class $short extends \\Relay\\Fixture\\Shape {}");
        }
        $fields = [];
        foreach ($props as $prop) {
            [$visibility, $name, $spec] = $prop;
            $key = match ($visibility) {
                'public' => $name,
                'protected' => "\0*\0$name",
                'private' => "\0" . ($prop[3] ?? $class) . "\0$name",
            };
            $fields[$key] = $this->value($spec);
        }
        $object = new $class();
        $object->setFields($fields);
        return $object;
    }
}

while (($line = fgets(STDIN)) !== false) {
    $out = [];
    foreach (json_decode($line, true, 4096, JSON_THROW_ON_ERROR) as $spec) {
        $out[] = base64_encode(serialize((new Builder())->value($spec)));
    }
    echo json_encode($out, JSON_THROW_ON_ERROR), "\n";
    fflush(STDOUT);
}
