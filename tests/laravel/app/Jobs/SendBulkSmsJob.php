<?php

namespace App\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

/** SendWave Pro's campaign: recipients as phone strings or rows with phone and the
 * placeholders (#name, #pledge, ...). Public properties, backoff() as a method. */
class SendBulkSmsJob implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public $tries = 1;
    public $timeout = 600;

    public $user;
    public $recipients;
    public $message;
    public $name;

    public function __construct($user, array $recipients, string $message, ?string $name = null)
    {
        $this->user = $user;
        $this->recipients = $recipients;
        $this->message = $message;
        $this->name = $name;
    }

    public function backoff()
    {
        return 30;
    }

    public function handle(): void
    {
    }
}
