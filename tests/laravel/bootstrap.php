<?php
// Debian's Laravel 8.83 and php-amqplib (infra/ensure-php.sh), and App\ from ./app.
declare(strict_types=1);

error_reporting(E_ALL);
set_error_handler(function (int $level, string $message, string $file, int $line): bool {
    // Like a Laravel app (HandleExceptions): a notice or warning is an error; a
    // deprecation (Laravel 8 on PHP 8.2 has some) is only logged there, ignored here.
    if ($level === E_DEPRECATED || $level === E_USER_DEPRECATED) {
        return true;
    }
    throw new ErrorException($message, 0, $level, $file, $line);
});

require_once '/usr/share/php/Illuminate/autoload.php';
require_once '/usr/share/php/PhpAmqpLib/autoload.php';

spl_autoload_register(function (string $class): void {
    if (strncmp($class, 'App\\', 4) === 0) {
        $file = __DIR__ . '/app/' . str_replace('\\', '/', substr($class, 4)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
