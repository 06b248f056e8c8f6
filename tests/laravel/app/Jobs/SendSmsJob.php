<?php

namespace App\Jobs;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

/** SendWave Pro's single SMS: SendSmsJob::dispatch(1, '+241 77 75 07 37', "...")->onQueue('sms').
 * $userId may be an int or an App\Models\User (SerializesModels writes its ModelIdentifier). */
class SendSmsJob implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public $tries = 3;
    public $backoff = [10, 30, 60];
    public $timeout = 60;

    protected $userId;
    protected $phone;
    protected $message;

    public function __construct($userId, $phone, $message)
    {
        $this->userId = $userId;
        $this->phone = $phone;
        $this->message = $message;
    }

    public function handle(): void
    {
    }
}
