"""The Laravel bridge: Laravel's queue messages, read and handed to the domain mapping each
job class. The wire format (PHP serialize, Laravel's Encrypter, the driver's message) lives
in `php_serialize`, `laravel_crypto` and `wire`, all pure."""
